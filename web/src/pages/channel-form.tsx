import { useState } from 'preact/hooks';
import type { Agent, Channel } from '../api.js';
import { useAction } from '../hooks.js';
import { ErrorLine, Field, NumberField } from '../ui.js';

export interface ChannelForm {
  agent_id: string;
  page_id: string;
  reply_webhook_url: string;
  assistant_connected: boolean;
  reply_delay_seconds: number;
  voice_replies: 'off' | 'always' | 'when_user_sent_voice';
  max_message_length: number;
  events_url: string;
  typing_ms_per_char: number;
  typing_max_seconds: number;
  coalesce_window_seconds: number;
  supersede_stale_replies: boolean;
}

export const formOfChannel = (channel: Channel): ChannelForm => ({
  agent_id: channel.agent_id,
  page_id: channel.page_id,
  reply_webhook_url: channel.reply_webhook_url,
  assistant_connected: channel.assistant_connected,
  reply_delay_seconds: channel.reply_delay_seconds,
  voice_replies: channel.voice_replies,
  max_message_length: channel.max_message_length,
  events_url: channel.events_url,
  typing_ms_per_char: channel.typing_ms_per_char,
  typing_max_seconds: channel.typing_max_seconds,
  coalesce_window_seconds: channel.coalesce_window_seconds,
  supersede_stale_replies: channel.supersede_stale_replies,
});

/**
 * The contract's "Connect" form: API token (new channels only), unique page ID, Reply Webhook URL,
 * "Connect assistant to this channel", the reply delay slider, voice replies, maximum length.
 */
export function ChannelEditor({
  agents,
  initial,
  withToken,
  submitLabel,
  onSave,
}: {
  agents: Agent[];
  initial: ChannelForm;
  withToken: boolean;
  submitLabel: string;
  onSave: (form: ChannelForm, ownToken: string | undefined) => Promise<void>;
}) {
  const [form, setForm] = useState(initial);
  const [tokenChoice, setTokenChoice] = useState<'generate' | 'own'>('generate');
  const [ownToken, setOwnToken] = useState('');
  const action = useAction();
  const set = <K extends keyof ChannelForm>(key: K, value: ChannelForm[K]) => setForm({ ...form, [key]: value });
  return (
    <form
      class="card form"
      aria-label={submitLabel}
      onSubmit={(event) => {
        event.preventDefault();
        void action.run(() => onSave(form, withToken && tokenChoice === 'own' ? ownToken : undefined));
      }}
    >
      <Field label="Agent" hint="The model and prompt that answer this channel.">
        <select required value={form.agent_id} onChange={(e) => set('agent_id', e.currentTarget.value)}>
          <option value="">Choose an agent</option>
          {agents.map((agent) => (
            <option key={agent.id} value={agent.id}>
              {agent.name}
            </option>
          ))}
        </select>
      </Field>
      {withToken ? (
        <fieldset>
          <legend>API token</legend>
          <label class="check">
            <input
              type="radio"
              name="token-choice"
              checked={tokenChoice === 'generate'}
              onChange={() => setTokenChoice('generate')}
            />
            Generate one for me
          </label>
          <label class="check">
            <input
              type="radio"
              name="token-choice"
              checked={tokenChoice === 'own'}
              onChange={() => setTokenChoice('own')}
            />
            Use my own
          </label>
          {tokenChoice === 'own' ? (
            <Field label="Your API token" hint="At least 16 printable characters, no spaces.">
              <input required minLength={16} value={ownToken} onInput={(e) => setOwnToken(e.currentTarget.value)} />
            </Field>
          ) : null}
        </fieldset>
      ) : null}
      <Field label="Unique page ID" hint="The page_id your platform sends with each message.">
        <input required value={form.page_id} onInput={(e) => set('page_id', e.currentTarget.value)} />
      </Field>
      <Field label="Reply Webhook URL" hint="Where replies are POSTed.">
        <input
          type="url"
          required
          placeholder="https://example.com/replies"
          value={form.reply_webhook_url}
          onInput={(e) => set('reply_webhook_url', e.currentTarget.value)}
        />
      </Field>
      <Field
        label="Events URL (optional)"
        hint="Where operational events (a failed message, paused delivery, a handoff request) are POSTed, signed like replies."
      >
        <input
          type="url"
          placeholder="https://example.com/chatrelay-events"
          value={form.events_url}
          onInput={(e) => set('events_url', e.currentTarget.value)}
        />
      </Field>
      <label class="check">
        <input
          type="checkbox"
          checked={form.assistant_connected}
          onChange={(e) => set('assistant_connected', e.currentTarget.checked)}
        />
        Connect assistant to this channel
      </label>
      <label class="field">
        <span class="label" id="delay-label">
          Reply delay: <output for="reply-delay">{form.reply_delay_seconds} s</output>
        </span>
        <input
          id="reply-delay"
          type="range"
          min={0}
          max={300}
          step={1}
          aria-labelledby="delay-label"
          value={form.reply_delay_seconds}
          onInput={(e) => set('reply_delay_seconds', e.currentTarget.valueAsNumber)}
        />
      </label>
      <div class="grid">
        <Field label="Voice replies">
          <select
            value={form.voice_replies}
            onChange={(e) => set('voice_replies', e.currentTarget.value as ChannelForm['voice_replies'])}
          >
            <option value="off">Off</option>
            <option value="always">Always</option>
            <option value="when_user_sent_voice">When the user sent a voice message</option>
          </select>
        </Field>
        <NumberField
          label="Maximum message length"
          hint="Characters per reply part, 100 to 10000."
          min={100}
          max={10000}
          value={form.max_message_length}
          onValue={(value) => set('max_message_length', value)}
        />
        <NumberField
          label="Typing pace (ms per character)"
          hint="Pause before each reply part after the first, as if typed; 0 is off."
          min={0}
          max={1000}
          value={form.typing_ms_per_char}
          onValue={(value) => set('typing_ms_per_char', value)}
        />
        <NumberField
          label="Longest typing pause (seconds)"
          hint="1 to 60."
          min={1}
          max={60}
          value={form.typing_max_seconds}
          onValue={(value) => set('typing_max_seconds', value)}
        />
        <NumberField
          label="Burst window"
          hint="Seconds: messages of one user this close together get one reply; 0 (off) to 60."
          min={0}
          max={60}
          value={form.coalesce_window_seconds}
          onValue={(value) => set('coalesce_window_seconds', value)}
        />
      </div>
      <label class="check">
        <input
          type="checkbox"
          checked={form.supersede_stale_replies}
          onChange={(e) => set('supersede_stale_replies', e.currentTarget.checked)}
        />
        Drop a reply not yet sent when the user writes again (the newer reply answers both)
      </label>
      <ErrorLine message={action.error} />
      <div class="actions">
        <button type="submit" disabled={action.busy}>
          {submitLabel}
        </button>
      </div>
    </form>
  );
}
