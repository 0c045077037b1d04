import { useState } from 'preact/hooks';
import { api, unwrap, type Channel } from '../api.js';
import { useAction, useLoad } from '../hooks.js';
import { ErrorLine, stageLabel, StageBadge } from '../ui.js';

/** Sends a message as a test user, through the same path as a platform's, and shows its reply as it arrives. */
export function TryIt({ channel }: { channel: Channel }) {
  const [text, setText] = useState('Hello!');
  const [sent, setSent] = useState<{ messageId: string; chatId: string } | undefined>(undefined);
  const action = useAction();
  return (
    <>
      <h2>Try it</h2>
      <p>
        Send a message as a test user. It goes through the same path as one your platform sends, and its reply is POSTed
        to <code>{channel.reply_webhook_url}</code>
        {channel.reply_delay_seconds > 0 ? ` after the ${channel.reply_delay_seconds} s reply delay` : ''}.
      </p>
      <form
        class="card form"
        aria-label="Send a test message"
        onSubmit={(event) => {
          event.preventDefault();
          void action.run(async () => {
            const accepted = await unwrap(
              api.POST('/v1/channels/{id}/test-message', {
                params: { path: { id: channel.id } },
                body: { text, client_id: 'dashboard-tester', client_name: 'Dashboard test user' },
              }),
            );
            setSent({ messageId: accepted.message_id, chatId: accepted.chat_id });
          });
        }}
      >
        <label class="field">
          <span class="label">Message</span>
          <textarea rows={3} required value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <ErrorLine message={action.error} />
        <div class="actions">
          <button type="submit" disabled={action.busy || text.trim() === ''}>
            Send test message
          </button>
        </div>
      </form>
      {sent ? <TestReply key={sent.messageId} channelId={channel.id} {...sent} /> : null}
    </>
  );
}

function TestReply({ channelId, messageId, chatId }: { channelId: string; messageId: string; chatId: string }) {
  const status = useLoad(
    () => unwrap(api.GET('/v1/messages/{id}', { params: { path: { id: messageId } } })),
    [],
    1_000,
  );
  const chat = useLoad(
    () =>
      unwrap(
        api.GET('/v1/channels/{id}/chats/{chat_id}', {
          params: { path: { id: channelId, chat_id: chatId }, query: { limit: 20 } },
        }),
      ).catch(() => undefined),
    [],
    1_000,
  );
  const turn = chat.data?.turns.find((entry) => entry.message_id === messageId);
  const data = status.data;
  return (
    <div class="card" aria-live="polite" data-testid="test-reply">
      <p>
        Message <code>{messageId}</code>:{' '}
        {data ? (
          <StageBadge stage={data.stage} label={stageLabel(data.stage, data.current_part, data.part_count)} />
        ) : (
          'sent'
        )}
      </p>
      <ol class="parts">
        {turn?.assistant.map((part) => (
          <li key={part.part}>
            {part.text}
            <span class="muted"> {part.delivered_at ? '· delivered' : '· waiting'}</span>
          </li>
        ))}
      </ol>
      <p>
        <a href={`#/channels/${channelId}/chats/${chatId}`}>Open the conversation</a>
      </p>
    </div>
  );
}
