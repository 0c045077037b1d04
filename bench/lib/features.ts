/**
 * The features the benchmark can turn on, one per run (`--feature`), to measure what each costs
 * per message in MongoDB commands and API and worker CPU (issue 25). Each one changes the bench
 * agent and channel, the messages sent, or the receiver or model in front of the stack, and says
 * what the run must show for its figures to be the feature's:
 *
 *  - voice-in:       every message is a voice note (`audio`, a URL of the benchmark's receiver,
 *                    which serves a small Ogg file); the worker downloads and transcribes it, the
 *                    demo model answering `transcribed <n> bytes`; its reply is one part
 *  - voice-out:      the channel's `voice_replies` is `always`: every reply part is spoken (the
 *                    demo model's speech) and carries its audio URL
 *  - interim:        the agent's `interim_after_seconds` is 1: with a model slower than that
 *                    (`--model-latency-ms` above 1000) an interim part goes before every answer
 *  - handoff:        every message asks the demo model for the handoff (`#call:handoff_to_human`,
 *                    the agent has a handoff text), in a chat of its own (a chat handed off holds
 *                    its later messages for a person); the reply is the handoff text
 *  - model-retry:    the model's first answer to every message is a 500 (a proxy in front of the
 *                    demo model, bench/lib/flaky-model.ts); the worker's retry gets the answer
 *  - receiver-retry: the receiver answers 503 to the first attempt of every message's first part;
 *                    the part is sent again after the first wait of DELIVERY_RETRY_SCHEDULE
 */
import { buildReplyParts } from '../../src/domain/reply-parts.js';
import type { ReplyCounts } from './analyze.js';
import type { PlannedMessage } from './load.js';
import type { Arrival } from './receiver.js';

export const benchFeatures = ['voice-in', 'voice-out', 'interim', 'handoff', 'model-retry', 'receiver-retry'] as const;

export type BenchFeature = (typeof benchFeatures)[number];

/** The agent's `interim_after_seconds` in the interim mode (the admin API's smallest above off). */
export const INTERIM_AFTER_SECONDS = 1;
/** The agent's handoff text in the handoff mode: what every message is answered. */
export const HANDOFF_TEXT = 'A person from our team will answer you here shortly.';
/** What makes the demo model call the handoff tool (src/demo-model/protocol.ts). */
export const HANDOFF_REQUEST = '#call:handoff_to_human';
/** The path of the voice note the receiver serves. */
export const VOICE_NOTE_PATH = '/voice-note.ogg';
/** DELIVERY_RETRY_SCHEDULE's first wait by default (src/config.ts). */
const DEFAULT_FIRST_RETRY_SECONDS = 5;

/** Parses `--feature`; undefined when not given. */
export function parseFeature(value: string | undefined): BenchFeature | undefined {
  if (value === undefined) return undefined;
  const feature = benchFeatures.find((name) => name === value);
  if (!feature) throw new Error(`--feature must be one of ${benchFeatures.join(', ')}, got ${JSON.stringify(value)}`);
  return feature;
}

/** What a feature needs of the other options; an error naming it, or undefined. */
export function featureConflict(
  feature: BenchFeature,
  options: { baseline: boolean; url: string | null; modelLatencyMs: number },
): string | undefined {
  if (options.baseline) return `--feature ${feature} needs --no-baseline (the baseline has no features)`;
  if (options.url) return `--feature ${feature} needs the local stack (no --url)`;
  if (feature === 'interim' && options.modelLatencyMs <= INTERIM_AFTER_SECONDS * 1000)
    return `--feature interim needs --model-latency-ms above ${INTERIM_AFTER_SECONDS * 1000} (the interim part goes after ${INTERIM_AFTER_SECONDS} s)`;
  return undefined;
}

/** The bench agent's and channel's settings for the feature (none: the common case). */
export function featureSettings(feature: BenchFeature | undefined): {
  agent: { interim_after_seconds?: number; handoff_text?: string };
  channel: { voice_replies?: 'always' };
} {
  if (feature === 'interim') return { agent: { interim_after_seconds: INTERIM_AFTER_SECONDS }, channel: {} };
  if (feature === 'handoff') return { agent: { handoff_text: HANDOFF_TEXT }, channel: {} };
  if (feature === 'voice-out') return { agent: {}, channel: { voice_replies: 'always' } };
  return { agent: {}, channel: {} };
}

/** Whether every message must go to a chat of its own (a handed-off chat answers nothing more). */
export const oneChatPerMessage = (feature: BenchFeature | undefined): boolean => feature === 'handoff';

/** A planned message as the feature sends it: a voice note, a request for the handoff, a text of its own. */
export function featureMessage(
  message: PlannedMessage,
  feature: BenchFeature | undefined,
  settings: { audioBaseUrl: string; maxMessageLength: number },
): PlannedMessage {
  if (feature === 'voice-in')
    // The transcript (`transcribed <n> bytes`, after the agent's voice prefix) is echoed in one part.
    return {
      ...message,
      long: false,
      audio: `${settings.audioBaseUrl}${VOICE_NOTE_PATH}?m=${message.index}`,
      expectedParts: 1,
    };
  if (feature === 'model-retry') {
    // The proxy tells messages apart by their text: the warm-up's and the phase's must differ.
    const text = `${message.clientMessageId}: ${message.text}`;
    return { ...message, text, expectedParts: buildReplyParts(`Echo: ${text}`, settings.maxMessageLength).length };
  }
  if (feature === 'handoff')
    return {
      ...message,
      text: `${message.text} ${HANDOFF_REQUEST}`,
      expectedParts: buildReplyParts(HANDOFF_TEXT, settings.maxMessageLength).length,
    };
  return message;
}

/** The wait the feature adds to every reply on purpose, in seconds (counted like the reply delay). */
export function featureWaitSeconds(feature: BenchFeature | undefined, extraEnv: Record<string, string>): number {
  if (feature !== 'receiver-retry') return 0;
  const first = Number(extraEnv.DELIVERY_RETRY_SCHEDULE?.split(',')[0]);
  return Number.isFinite(first) ? first : DEFAULT_FIRST_RETRY_SECONDS;
}

/** What the feature made happen in a phase, beyond the reply parts. */
export interface FeatureCounts {
  /** Voice notes the receiver served. */
  voiceNotesServed: number;
  /** Chat requests the flaky model proxy answered 500. */
  modelFailures: number;
  /** Reply parts received whose text is the handoff text. */
  handoffReplies: number;
}

/** Reply parts accepted by the receiver whose text is the handoff text. */
export const handoffReplies = (arrivals: readonly Arrival[]): number =>
  arrivals.filter((arrival) => arrival.status === 200 && arrival.textLength === HANDOFF_TEXT.length).length;

/** What shows the feature happened in a phase: a count, and what it must reach (one per message or part). */
export function featureEvidence(
  feature: BenchFeature,
  replies: ReplyCounts,
  counts: FeatureCounts,
): { what: string; got: number; expected: number } {
  switch (feature) {
    case 'voice-in':
      return { what: 'voice notes downloaded', got: counts.voiceNotesServed, expected: replies.accepted };
    case 'voice-out':
      return { what: 'reply parts with speech audio', got: replies.partsWithAudio, expected: replies.expectedParts };
    case 'interim':
      return { what: 'interim parts', got: replies.interimParts, expected: replies.accepted };
    case 'handoff':
      return { what: 'replies of the handoff text', got: counts.handoffReplies, expected: replies.expectedParts };
    case 'model-retry':
      return { what: 'model requests failed on purpose', got: counts.modelFailures, expected: replies.accepted };
    case 'receiver-retry':
      return { what: 'deliveries refused on purpose', got: replies.refusedDeliveries, expected: replies.accepted };
  }
}

/** Why a phase's figures are not the feature's (it did not happen for every message), or undefined. */
export function featureShortfall(
  feature: BenchFeature,
  replies: ReplyCounts,
  counts: FeatureCounts,
): string | undefined {
  const { what, got, expected } = featureEvidence(feature, replies, counts);
  return got >= expected ? undefined : `--feature ${feature}: ${got} ${what}, expected ${expected}`;
}
