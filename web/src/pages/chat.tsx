import { api, unwrap, type ChatSummary } from '../api.js';
import { useEffect, useState } from 'preact/hooks';
import { useAction, useLoad } from '../hooks.js';
import { useTitle } from '../title.js';
import { ErrorLine, time } from '../ui.js';

/**
 * The chat's avatar, through the API (GET …/avatar: fetched there under the address guard), never
 * from the end user's URL: the browser would request it with the admin's address, and a URL of
 * the user's choosing can reach the intranet or tell its owner that the chat is being read. The
 * route needs the bearer header, which an <img> cannot send, so the bytes are fetched and shown
 * through an object URL (the CSP allows `img-src 'self' blob:`). The initial stands in meanwhile,
 * and when there is no avatar or it could not be fetched.
 */
function Avatar({ channelId, chat }: { channelId: string; chat: ChatSummary }) {
  const name = chat.client_name ?? chat.client_id;
  const [src, setSrc] = useState<string | undefined>(undefined);
  useEffect(() => {
    setSrc(undefined);
    if (!chat.client_avatar) return;
    let objectUrl: string | undefined;
    let current = true;
    void api
      .GET('/v1/channels/{id}/chats/{chat_id}/avatar', {
        params: { path: { id: channelId, chat_id: chat.id } },
        parseAs: 'blob',
      })
      .then(({ data, response }) => {
        if (!current || !response.ok || !(data instanceof Blob)) return;
        objectUrl = URL.createObjectURL(data);
        setSrc(objectUrl);
      })
      .catch(() => undefined);
    return () => {
      current = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [channelId, chat.id, chat.client_avatar]);
  return src ? (
    <img class="avatar" src={src} alt="" width={32} height={32} />
  ) : (
    <span class="avatar" aria-hidden="true">
      {name.slice(0, 1).toUpperCase()}
    </span>
  );
}

/** A channel's chats: who talked to it, on which platform, and what was said last. */
export function ChatsList({ channelId }: { channelId: string }) {
  const chats = useLoad(
    () => unwrap(api.GET('/v1/channels/{id}/chats', { params: { path: { id: channelId }, query: { limit: 50 } } })),
    [channelId],
    5_000,
  );
  return (
    <>
      <h2>Conversations</h2>
      <ErrorLine message={chats.error} />
      {chats.data?.data.length === 0 ? <p>No conversation yet.</p> : null}
      <ul class="list">
        {chats.data?.data.map((chat) => (
          <li key={chat.id} class="card row">
            <Avatar channelId={channelId} chat={chat} />
            <div class="grow">
              <a href={`#/channels/${channelId}/chats/${chat.id}`}>
                <strong>{chat.client_name ?? chat.client_id}</strong>
              </a>
              <span class="muted">
                {' '}
                · {chat.platform} · {time(chat.last_seen_at)}
              </span>
              {chat.assistant_paused ? <span class="badge stage-paused">with a person</span> : null}
              {chat.last_message ? (
                <p class="muted clip">
                  {chat.last_message.role === 'user' ? 'User' : 'Assistant'}: {chat.last_message.text}
                </p>
              ) : null}
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}

function Links({ urls }: { urls: string[] }) {
  if (urls.length === 0) return null;
  return (
    <ul class="attachments">
      {urls.map((url) => (
        <li key={url}>
          {/* A link only, not an image: the page loads no URL an end user or a model chose. */}
          <a href={url} rel="noreferrer" target="_blank">
            {url}
          </a>
        </li>
      ))}
    </ul>
  );
}

/** Human handoff: whether a person has the chat, and the button that pauses or resumes its assistant. */
function Handoff({ channelId, chat, onChange }: { channelId: string; chat: ChatSummary; onChange: () => void }) {
  const action = useAction();
  const path = { params: { path: { id: channelId, chat_id: chat.id } } };
  const paused = chat.assistant_paused;
  const toggle = () =>
    action.run(async () => {
      const result = paused
        ? await unwrap(api.POST('/v1/channels/{id}/chats/{chat_id}/resume', path))
        : await unwrap(api.POST('/v1/channels/{id}/chats/{chat_id}/pause', path));
      if (!result.applied) throw new Error('Waiting for the message being answered; it applies right after.');
      onChange();
    });
  return (
    <div class="handoff">
      {paused
        ? `A person has this chat: its assistant was paused ${time(paused.since)} (by ${paused.by === 'model' ? 'the model' : 'an admin'}); messages are kept and not answered. `
        : 'The assistant answers this chat. '}
      <button type="button" class="secondary" disabled={action.busy} onClick={() => void toggle()}>
        {paused ? 'Resume assistant' : 'Pause assistant (a person takes over)'}
      </button>
      <ErrorLine message={action.error} />
    </div>
  );
}

/** One chat's history: the user's messages (voice with transcript, attachments) and the assistant's parts. */
export function ChatPage({ channelId, chatId }: { channelId: string; chatId: string }) {
  const history = useLoad(
    () =>
      unwrap(
        api.GET('/v1/channels/{id}/chats/{chat_id}', {
          params: { path: { id: channelId, chat_id: chatId }, query: { limit: 100 } },
        }),
      ),
    [channelId, chatId],
    3_000,
  );
  const chat = history.data?.chat;
  useTitle(chat ? `Conversation with ${chat.client_name ?? chat.client_id}` : 'Conversation');
  return (
    <section>
      <p>
        <a href={`#/channels/${channelId}/chats`}>← Conversations</a>
      </p>
      <ErrorLine message={history.error} />
      {chat ? (
        <div class="heading">
          <Avatar channelId={channelId} chat={chat} />
          <h1>{chat.client_name ?? chat.client_id}</h1>
          <span class="muted">
            {chat.platform} · {chat.client_id}
          </span>
        </div>
      ) : null}
      {chat ? <Handoff channelId={channelId} chat={chat} onChange={history.reload} /> : null}
      <ol class="conversation">
        {history.data?.turns.map((turn) => (
          <li key={turn.message_id} data-message-id={turn.message_id}>
            <div class="bubble user">
              <span class="who">User · {time(turn.received_at)}</span>
              {turn.user.text ? <p>{turn.user.text}</p> : null}
              {turn.user.audio ? (
                <p>
                  <a href={turn.user.audio} rel="noreferrer" target="_blank">
                    Voice message
                  </a>
                  {turn.user.transcript ? `: “${turn.user.transcript}”` : ' (not transcribed yet)'}
                </p>
              ) : null}
              <Links urls={turn.user.attachments} />
            </div>
            {turn.assistant.map((part) => (
              <div class="bubble assistant" key={part.part}>
                <span class="who">
                  Assistant · part {part.part} ·{' '}
                  {part.delivered_at ? `delivered ${time(part.delivered_at)}` : 'not delivered'}
                </span>
                <p>{part.text}</p>
                <Links urls={[...part.images, ...(part.file ? [part.file] : [])]} />
                {part.audio_url ? (
                  <audio controls preload="none" src={part.audio_url} aria-label="Speech reply" />
                ) : null}
              </div>
            ))}
            {turn.assistant.length === 0 ? (
              <p class="muted">{turn.status === 'processing' ? 'Reply on its way…' : `No reply (${turn.status}).`}</p>
            ) : null}
          </li>
        ))}
      </ol>
    </section>
  );
}
