import { useState } from 'preact/hooks';
import { api, unwrap, type Channel } from '../api.js';
import { useAction, useLoad } from '../hooks.js';
import { useTitle } from '../title.js';
import { confirmed, ErrorLine, SecretValue } from '../ui.js';
import { listAllAgents } from './agents.js';
import { ChannelEditor, formOfChannel } from './channel-form.js';
import { curlFor } from './channels.js';
import { ChatsList } from './chat.js';
import { MessagesList } from './messages.js';
import { TryIt } from './try-it.js';

const tabs = [
  ['messages', 'Messages'],
  ['try', 'Try it'],
  ['chats', 'Conversations'],
  ['settings', 'Settings'],
] as const;

export function ChannelPage({ channelId, tab }: { channelId: string; tab: string }) {
  const channel = useLoad(
    () => unwrap(api.GET('/v1/channels/{id}', { params: { path: { id: channelId } } })),
    [channelId],
  );
  useTitle(channel.data ? `Channel ${channel.data.page_id}` : 'Channel');
  return (
    <section>
      <p>
        <a href="#/channels">← Channels</a>
      </p>
      <ErrorLine message={channel.error} />
      {channel.data ? (
        <>
          <div class="heading">
            <h1>{channel.data.page_id}</h1>
            {channel.data.delivery_paused ? (
              <span class="badge stage-paused" title={channel.data.paused_reason ?? ''}>
                delivery paused
              </span>
            ) : null}
          </div>
          <nav class="tabs" aria-label="Channel">
            {tabs.map(([id, label]) => (
              <a key={id} href={`#/channels/${channelId}/${id}`} aria-current={tab === id ? 'page' : undefined}>
                {label}
              </a>
            ))}
          </nav>
          {tab === 'messages' ? <MessagesList channelId={channelId} /> : null}
          {tab === 'try' ? <TryIt channel={channel.data} /> : null}
          {tab === 'chats' ? <ChatsList channelId={channelId} /> : null}
          {tab === 'settings' ? <ChannelSettings channel={channel.data} onChange={channel.reload} /> : null}
        </>
      ) : null}
    </section>
  );
}

function ChannelSettings({ channel, onChange }: { channel: Channel; onChange: () => void }) {
  const agents = useLoad(listAllAgents, []);
  const action = useAction();
  const [shown, setShown] = useState<{ token?: string; secret?: string; note: string } | undefined>(undefined);
  const [saved, setSaved] = useState(false);
  const path = { params: { path: { id: channel.id } } };
  const channelActions: { label: string; confirm?: string; danger?: boolean; act: () => Promise<void> }[] = [
    {
      label: 'Rotate token',
      confirm: 'Rotate the API token? The current token stops working at once.',
      act: async () => {
        const rotated = await unwrap(api.POST('/v1/channels/{id}/rotate-token', path));
        setShown({ token: rotated.api_token, note: 'The new API token, shown this once. The old one is refused.' });
        onChange();
      },
    },
    {
      label: 'Rotate signing secret',
      confirm: 'Rotate the signing secret? The previous one keeps signing for a grace period.',
      act: async () => {
        const rotated = await unwrap(api.POST('/v1/channels/{id}/rotate-signing-secret', path));
        const until = new Date(rotated.previous_secrets_valid_until).toLocaleString();
        setShown({
          secret: rotated.signing_secret,
          note: `The new signing secret, shown this once. The previous one also signs until ${until}.`,
        });
      },
    },
    channel.delivery_paused
      ? {
          label: 'Resume delivery',
          act: async () => {
            await unwrap(api.POST('/v1/channels/{id}/resume', path));
            onChange();
          },
        }
      : {
          label: 'Pause delivery',
          confirm: 'Pause delivery? Replies wait, in order, until you resume.',
          act: async () => {
            await unwrap(api.POST('/v1/channels/{id}/pause', path));
            onChange();
          },
        },
    {
      label: 'Delete channel',
      danger: true,
      confirm: `Delete the channel "${channel.page_id}"? Its token stops working. This cannot be undone.`,
      act: async () => {
        await unwrap(api.DELETE('/v1/channels/{id}', path));
        location.hash = '#/channels';
      },
    },
  ];
  return (
    <>
      <h2>Settings</h2>
      {agents.data ? (
        <ChannelEditor
          key={channel.updated_at}
          agents={agents.data}
          withToken={false}
          submitLabel="Save channel"
          initial={formOfChannel(channel)}
          onSave={async (form) => {
            await unwrap(api.PATCH('/v1/channels/{id}', { ...path, body: form }));
            setSaved(true);
            onChange();
          }}
        />
      ) : null}
      {saved ? <p role="status">Saved.</p> : null}
      <h2>Tokens and delivery</h2>
      <p>
        API token ending in <code>{channel.api_token_last4}</code> (version {channel.token_version}).
        {channel.delivery_paused ? ` Delivery is paused: ${channel.paused_reason ?? ''}` : ' Delivery is on.'}
      </p>
      {shown ? (
        <div class="card created" role="status">
          <p>{shown.note}</p>
          {shown.token ? <SecretValue label="API token" value={shown.token} testId="api-token" /> : null}
          {shown.secret ? <SecretValue label="Signing secret" value={shown.secret} testId="signing-secret" /> : null}
          {shown.token ? (
            <pre>
              <code>{curlFor(channel.page_id, shown.token)}</code>
            </pre>
          ) : null}
        </div>
      ) : null}
      <ErrorLine message={action.error} />
      <div class="actions wrap">
        {channelActions.map((entry) => (
          <button
            key={entry.label}
            type="button"
            class={entry.danger ? 'danger' : 'secondary'}
            disabled={action.busy}
            onClick={() => {
              if (entry.confirm !== undefined && !confirmed(entry.confirm)) return;
              void action.run(entry.act);
            }}
          >
            {entry.label}
          </button>
        ))}
      </div>
    </>
  );
}
