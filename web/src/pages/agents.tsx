import { useState } from 'preact/hooks';
import { agentDefaults, api, listAll, unwrap, type Agent, type Schemas } from '../api.js';
import { useAction, useLoad } from '../hooks.js';
import { useTitle } from '../title.js';
import { confirmed, ErrorLine, Field, NumberField } from '../ui.js';

type AgentFields = Schemas['UpdateAgentRequest'];

/** An agent's editable fields, as the API types them. */
export type AgentForm = Omit<Agent, 'id' | 'created_at' | 'updated_at'>;

/** A new agent's form: the API's own defaults (from its OpenAPI document), an empty name and prompt. */
const newAgentForm = async (): Promise<AgentForm> => ({
  name: '',
  system_prompt: '',
  model: '',
  temperature: 0,
  max_history_messages: 0,
  vision: false,
  transcription_model: '',
  tts_model: '',
  tts_voice: '',
  voice_prefix: '',
  fallback_reply: '',
  interim_after_seconds: 0,
  interim_text: '',
  handoff_text: '',
  ...(await agentDefaults()),
});

const formOf = (agent: Agent): AgentForm => ({
  name: agent.name,
  system_prompt: agent.system_prompt,
  model: agent.model,
  temperature: agent.temperature,
  max_history_messages: agent.max_history_messages,
  vision: agent.vision,
  transcription_model: agent.transcription_model,
  tts_model: agent.tts_model,
  tts_voice: agent.tts_voice,
  voice_prefix: agent.voice_prefix,
  fallback_reply: agent.fallback_reply,
  interim_after_seconds: agent.interim_after_seconds,
  interim_text: agent.interim_text,
  handoff_text: agent.handoff_text,
});

export const listAllAgents = (): Promise<Agent[]> =>
  listAll((after) => unwrap(api.GET('/v1/agents', { params: { query: { limit: 100, ...(after ? { after } : {}) } } })));

function AgentEditor({
  initial,
  submitLabel,
  onSave,
  onCancel,
}: {
  initial: AgentForm;
  submitLabel: string;
  onSave: (fields: AgentForm) => Promise<void>;
  onCancel: () => void;
}) {
  const [form, setForm] = useState(initial);
  const action = useAction();
  const set = <K extends keyof AgentForm>(key: K, value: AgentForm[K]) => setForm({ ...form, [key]: value });
  return (
    <form
      class="card form"
      aria-label={submitLabel}
      onSubmit={(event) => {
        event.preventDefault();
        void action.run(() => onSave(form));
      }}
    >
      <Field label="Name">
        <input required value={form.name} onInput={(e) => set('name', e.currentTarget.value)} />
      </Field>
      <Field label="System prompt">
        <textarea rows={4} value={form.system_prompt} onInput={(e) => set('system_prompt', e.currentTarget.value)} />
      </Field>
      <div class="grid">
        <Field label="Model">
          <input required value={form.model} onInput={(e) => set('model', e.currentTarget.value)} />
        </Field>
        <NumberField
          label="Temperature"
          hint="0 to 2"
          min={0}
          max={2}
          step={0.1}
          value={form.temperature}
          onValue={(value) => set('temperature', value)}
        />
        <NumberField
          label="History length"
          hint="Earlier messages the model sees, 0 to 200"
          min={0}
          max={200}
          value={form.max_history_messages}
          onValue={(value) => set('max_history_messages', value)}
        />
        <label class="check">
          <input type="checkbox" checked={form.vision} onChange={(e) => set('vision', e.currentTarget.checked)} />
          Vision: images go to the model as images
        </label>
        <Field label="Transcription model">
          <input value={form.transcription_model} onInput={(e) => set('transcription_model', e.currentTarget.value)} />
        </Field>
        <Field label="Speech model">
          <input value={form.tts_model} onInput={(e) => set('tts_model', e.currentTarget.value)} />
        </Field>
        <Field label="Speech voice">
          <input value={form.tts_voice} onInput={(e) => set('tts_voice', e.currentTarget.value)} />
        </Field>
        <Field label="Voice message prefix">
          <input value={form.voice_prefix} onInput={(e) => set('voice_prefix', e.currentTarget.value)} />
        </Field>
      </div>
      <Field label="Fallback reply" hint="Sent when the model cannot answer; empty sends nothing.">
        <textarea rows={2} value={form.fallback_reply} onInput={(e) => set('fallback_reply', e.currentTarget.value)} />
      </Field>
      <div class="grid">
        <NumberField
          label="One moment after (seconds)"
          hint="When the model is slower, the interim text is sent first; 0 is off."
          min={0}
          max={120}
          value={form.interim_after_seconds}
          onValue={(value) => set('interim_after_seconds', value)}
        />
        <Field label="Interim text">
          <input value={form.interim_text} onInput={(e) => set('interim_text', e.currentTarget.value)} />
        </Field>
      </div>
      <Field
        label="Handoff text"
        hint="Sent when the model hands the chat to a person (the chat is then paused); empty: the model cannot hand off."
      >
        <textarea rows={2} value={form.handoff_text} onInput={(e) => set('handoff_text', e.currentTarget.value)} />
      </Field>
      <ErrorLine message={action.error} />
      <div class="actions">
        <button type="submit" disabled={action.busy}>
          {submitLabel}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function AgentsPage() {
  useTitle('Agents');
  const agents = useLoad(listAllAgents, []);
  const defaults = useLoad(newAgentForm, []);
  const [editing, setEditing] = useState<'new' | Agent | undefined>(undefined);
  const remove = useAction();
  return (
    <section>
      <div class="heading">
        <h1>Agents</h1>
        <button type="button" onClick={() => setEditing('new')}>
          New agent
        </button>
      </div>
      <p class="lead">An agent is the model and prompt that answer a channel's users.</p>
      {editing === 'new' && defaults.data ? (
        <AgentEditor
          initial={defaults.data}
          submitLabel="Create agent"
          onCancel={() => setEditing(undefined)}
          onSave={async (fields) => {
            await unwrap(api.POST('/v1/agents', { body: fields }));
            setEditing(undefined);
            agents.reload();
          }}
        />
      ) : null}
      {editing !== undefined && editing !== 'new' ? (
        <AgentEditor
          key={editing.id}
          initial={formOf(editing)}
          submitLabel="Save agent"
          onCancel={() => setEditing(undefined)}
          onSave={async (fields) => {
            const patch: AgentFields = fields;
            await unwrap(api.PATCH('/v1/agents/{id}', { params: { path: { id: editing.id } }, body: patch }));
            setEditing(undefined);
            agents.reload();
          }}
        />
      ) : null}
      <ErrorLine message={agents.error ?? defaults.error ?? remove.error} />
      {agents.data?.length === 0 ? <p>No agent yet: create one, then connect a channel to it.</p> : null}
      <ul class="list">
        {agents.data?.map((agent) => (
          <li key={agent.id} class="card row">
            <div>
              <strong>{agent.name}</strong>
              <span class="muted">
                {' '}
                {agent.model} · temperature {agent.temperature} · {agent.id}
              </span>
            </div>
            <div class="actions">
              <button type="button" class="secondary" onClick={() => setEditing(agent)}>
                Edit <span class="visually-hidden">{agent.name}</span>
              </button>
              <button
                type="button"
                class="danger"
                onClick={() => {
                  if (!confirmed(`Delete the agent "${agent.name}"? This cannot be undone.`)) return;
                  void remove.run(async () => {
                    await unwrap(api.DELETE('/v1/agents/{id}', { params: { path: { id: agent.id } } }));
                    agents.reload();
                  });
                }}
              >
                Delete <span class="visually-hidden">{agent.name}</span>
              </button>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
