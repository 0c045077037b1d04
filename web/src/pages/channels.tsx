import { useState } from 'preact/hooks';
import { api, listAll, unwrap, type Channel, type CreatedChannel } from '../api.js';
import { useLoad } from '../hooks.js';
import { useTitle } from '../title.js';
import { ErrorLine, SecretValue } from '../ui.js';
import { listAllAgents } from './agents.js';
import { ChannelEditor, type ChannelForm } from './channel-form.js';

export const listAllChannels = (): Promise<Channel[]> =>
  listAll((after) =>
    unwrap(api.GET('/v1/channels', { params: { query: { limit: 100, ...(after ? { after } : {}) } } })),
  );

export function ChannelsPage() {
  useTitle('Channels');
  const channels = useLoad(listAllChannels, []);
  return (
    <section>
      <div class="heading">
        <h1>Channels</h1>
        <a class="button" href="#/channels/new">
          Connect a channel
        </a>
      </div>
      <p class="lead">A channel is one page of a client platform: its messages come in, its replies go out.</p>
      <ErrorLine message={channels.error} />
      {channels.data?.length === 0 ? <p>No channel yet. Connect one to start relaying messages.</p> : null}
      <ul class="list">
        {channels.data?.map((channel) => (
          <li key={channel.id} class="card row">
            <div>
              <a href={`#/channels/${channel.id}`}>
                <strong>{channel.page_id}</strong>
              </a>
              <span class="muted"> → {channel.reply_webhook_url}</span>
            </div>
            <div>
              {channel.delivery_paused ? <span class="badge stage-paused">paused</span> : null}
              {channel.assistant_connected ? null : <span class="badge">assistant off</span>}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** What a platform sends first, with this channel's token, ready to paste into a terminal. */
export function curlFor(pageId: string, token: string): string {
  const body = JSON.stringify({ client_id: 'user-1', page_id: pageId, platform: 'CustomApp', text: 'Hello!' });
  return [
    `curl -sS ${location.origin}/webhook/mychatbot \\`,
    `  -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' \\`,
    `  -d '${body.replace(/'/g, "'\\''")}'`,
  ].join('\n');
}

/** The token and signing secret of a new channel, shown this once. */
export function CreatedSecrets({ channel }: { channel: CreatedChannel }) {
  return (
    <div class="card created" role="status">
      <h2>Channel connected</h2>
      <p>Copy these now: they are not shown again (rotate them to get new ones).</p>
      <SecretValue label="API token" value={channel.api_token} testId="api-token" />
      <SecretValue label="Signing secret" value={channel.signing_secret} testId="signing-secret" />
      <p>Send it a first message:</p>
      <pre>
        <code>{curlFor(channel.page_id, channel.api_token)}</code>
      </pre>
      <a class="button" href={`#/channels/${channel.id}`}>
        Open the channel
      </a>
    </div>
  );
}

export function ConnectChannelPage() {
  useTitle('Connect a channel');
  const agents = useLoad(listAllAgents, []);
  const [created, setCreated] = useState<CreatedChannel | undefined>(undefined);
  const save = async (form: ChannelForm, ownToken: string | undefined) => {
    setCreated(
      await unwrap(api.POST('/v1/channels', { body: { ...form, ...(ownToken ? { api_token: ownToken } : {}) } })),
    );
  };
  return (
    <section>
      <h1>Connect a channel</h1>
      <ErrorLine message={agents.error} />
      {created ? <CreatedSecrets channel={created} /> : null}
      {!created && agents.data?.length === 0 ? (
        <p>
          A channel is answered by an agent: <a href="#/agents">create an agent</a> first.
        </p>
      ) : null}
      {!created && agents.data && agents.data.length > 0 ? (
        <ChannelEditor
          agents={agents.data}
          withToken
          submitLabel="Connect"
          initial={{
            agent_id: agents.data.length === 1 ? (agents.data[0]?.id ?? '') : '',
            page_id: '',
            reply_webhook_url: '',
            assistant_connected: true,
            reply_delay_seconds: 0,
            voice_replies: 'off',
            max_message_length: 2000,
            events_url: '',
            typing_ms_per_char: 0,
            typing_max_seconds: 5,
            coalesce_window_seconds: 0,
            supersede_stale_replies: false,
          }}
          onSave={save}
        />
      ) : null}
    </section>
  );
}
