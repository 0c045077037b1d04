import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

/** A page's error line, read out by screen readers as it appears. */
export function ErrorLine({ message }: { message: string | undefined }) {
  if (!message) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export function Field({ label, hint, children }: { label: string; hint?: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span class="label">{label}</span>
      {children}
      {hint ? <span class="hint">{hint}</span> : null}
    </label>
  );
}

/** Copies `text` to the clipboard, and says so. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="secondary"
      onClick={() => {
        void navigator.clipboard.writeText(text).then(() => setCopied(true));
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  );
}

/** A secret shown this once, with its copy button. */
export function SecretValue({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div class="secret">
      <span class="label">{label}</span>
      <code data-testid={testId}>{value}</code>
      <CopyButton text={value} label={`Copy ${label.toLowerCase()}`} />
    </div>
  );
}

const stageNames: Record<string, string> = {
  accepted: 'accepted',
  validating: 'validating',
  transcribing: 'transcribing',
  waiting_turn: 'waiting its turn',
  generating: 'generating',
  preparing: 'preparing',
  synthesizing: 'synthesizing speech',
  waiting_reply_delay: 'waiting out the reply delay',
  delivering: 'delivering',
  retry_pending: 'retry pending',
  paused: 'paused',
  delivered: 'delivered',
  failed: 'failed',
  not_answered: 'not answered',
  waiting_burst: 'waiting for the rest of a burst',
  coalesced: 'answered with a later message',
  superseded: 'reply dropped for a newer message',
};

/** "delivering 2/4", "delivered", ... */
export function stageLabel(stage: string, currentPart?: number | null, partCount?: number | null): string {
  const name = stageNames[stage] ?? stage;
  return stage === 'delivering' && currentPart && partCount ? `${name} ${currentPart}/${partCount}` : name;
}

export function StageBadge({ stage, label }: { stage: string; label: string }) {
  return <span class={`badge stage-${stage}`}>{label}</span>;
}

export const time = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');

/** A confirmation for what cannot be undone. */
export const confirmed = (question: string): boolean => window.confirm(question);

/** A labelled number input; `onValue` gets the number typed (NaN while the field is empty). */
export function NumberField(props: {
  label: string;
  hint?: string;
  min: number;
  max: number;
  step?: number;
  value: number;
  onValue: (value: number) => void;
}) {
  return (
    <Field label={props.label} {...(props.hint !== undefined ? { hint: props.hint } : {})}>
      <input
        type="number"
        min={props.min}
        max={props.max}
        step={props.step ?? 1}
        value={props.value}
        onInput={(e) => props.onValue(e.currentTarget.valueAsNumber)}
      />
    </Field>
  );
}
