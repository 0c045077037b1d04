import { useState } from 'preact/hooks';
import { api, unwrap, type MessageSummary } from '../api.js';
import { useAction, useLoad } from '../hooks.js';
import { ErrorLine, stageLabel, StageBadge, time } from '../ui.js';

const LIVE_MS = 2_000;

/** A channel's recent messages, read again every 2 s: the list is live. */
export function MessagesList({ channelId }: { channelId: string }) {
  const messages = useLoad(
    () => unwrap(api.GET('/v1/channels/{id}/messages', { params: { path: { id: channelId }, query: { limit: 50 } } })),
    [channelId],
    LIVE_MS,
  );
  const [open, setOpen] = useState<string | undefined>(undefined);
  return (
    <>
      <h2>Messages</h2>
      <ErrorLine message={messages.error} />
      {messages.data?.data.length === 0 ? (
        <p>
          No message yet. Send one from <a href={`#/channels/${channelId}/try`}>Try it</a>.
        </p>
      ) : null}
      <ul class="list" aria-live="polite">
        {messages.data?.data.map((message) => (
          <MessageRow
            key={message.id}
            message={message}
            open={open === message.id}
            onToggle={() => setOpen(open === message.id ? undefined : message.id)}
          />
        ))}
      </ul>
    </>
  );
}

function MessageRow({ message, open, onToggle }: { message: MessageSummary; open: boolean; onToggle: () => void }) {
  return (
    <li class="card" data-message-id={message.id}>
      <div class="row">
        <button type="button" class="link" aria-expanded={open} onClick={onToggle}>
          {time(message.received_at)} · {message.client_id}
        </button>
        <StageBadge
          stage={message.stage}
          label={`${stageLabel(message.stage)}${message.part_count ? ` · ${message.parts_delivered}/${message.part_count} parts` : ''}`}
        />
      </div>
      {message.reason ? <p class="muted">Reason: {message.reason}</p> : null}
      {open ? <MessageDetail id={message.id} /> : null}
    </li>
  );
}

/** Stage, parts, every delivery attempt, and redelivery from a chosen part. */
export function MessageDetail({ id }: { id: string }) {
  const status = useLoad(() => unwrap(api.GET('/v1/messages/{id}', { params: { path: { id } } })), [id], LIVE_MS);
  const [fromPart, setFromPart] = useState(1);
  const action = useAction();
  const [note, setNote] = useState<string | undefined>(undefined);
  const data = status.data;
  return (
    <div class="detail">
      <ErrorLine message={status.error} />
      {data ? (
        <>
          <p>
            Stage: <strong data-testid="stage">{stageLabel(data.stage, data.current_part, data.part_count)}</strong>
            {data.next_retry_at ? ` · next retry ${time(data.next_retry_at)}` : ''}
            {data.last_error ? ` · last error: ${data.last_error}` : ''}
          </p>
          {data.reason ? <p>Reason: {data.reason}</p> : null}
          <table>
            <caption>Reply parts</caption>
            <thead>
              <tr>
                <th scope="col">Part</th>
                <th scope="col">Characters</th>
                <th scope="col">Media</th>
                <th scope="col">Delivered</th>
              </tr>
            </thead>
            <tbody>
              {data.parts.map((part) => (
                <tr key={part.part}>
                  <td>{part.part}</td>
                  <td>{part.characters}</td>
                  <td>
                    {[
                      ...part.images,
                      ...(part.file ? [part.file] : []),
                      ...(part.audio_url ? [part.audio_url] : []),
                    ].map((url) => (
                      <a key={url} href={url} rel="noreferrer" target="_blank">
                        {url.split('/').pop()}
                      </a>
                    ))}
                  </td>
                  <td>{time(part.delivered_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table data-testid="attempts">
            <caption>Delivery attempts</caption>
            <thead>
              <tr>
                <th scope="col">Part</th>
                <th scope="col">Attempt</th>
                <th scope="col">Time</th>
                <th scope="col">HTTP status</th>
                <th scope="col">Duration</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {data.attempts.map((attempt) => (
                <tr key={`${attempt.redelivery ?? 0}:${attempt.part}:${attempt.attempt}`}>
                  <td>{attempt.part}</td>
                  <td>
                    {attempt.attempt}
                    {attempt.redelivery ? ` (redelivery ${attempt.redelivery})` : ''}
                  </td>
                  <td>{time(attempt.at)}</td>
                  <td>{attempt.http_status ?? '—'}</td>
                  <td>{attempt.duration_ms} ms</td>
                  <td>
                    {attempt.result}
                    {attempt.error ? `: ${attempt.error}` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.parts.length > 0 ? (
            <form
              class="actions"
              aria-label="Redeliver"
              onSubmit={(event) => {
                event.preventDefault();
                void action.run(async () => {
                  const started = await unwrap(
                    api.POST('/v1/messages/{id}/redeliver', {
                      params: { path: { id } },
                      body: { from_part: fromPart },
                    }),
                  );
                  setNote(`Redelivering parts ${started.from_part} to ${started.part_count}.`);
                  status.reload();
                });
              }}
            >
              <label>
                From part{' '}
                <select value={fromPart} onChange={(e) => setFromPart(Number(e.currentTarget.value))}>
                  {data.parts.map((part) => (
                    <option key={part.part} value={part.part}>
                      {part.part}
                    </option>
                  ))}
                </select>
              </label>
              <button type="submit" class="secondary" disabled={action.busy}>
                Redeliver
              </button>
            </form>
          ) : null}
          {note ? <p role="status">{note}</p> : null}
          <ErrorLine message={action.error} />
        </>
      ) : null}
    </div>
  );
}
