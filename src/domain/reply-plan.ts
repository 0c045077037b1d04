/**
 * What happens to a message's reply, decided in one place: how it is written (in the answer step,
 * or by the workflow, raced against the agent's "one moment" part), then the steps from the reply
 * written to its last part delivered (speech, the reply delay, the stale-reply check, each part,
 * and the typing pauses between paced parts).
 *
 * Both executors follow it: the answer step (src/activities/answer.ts) takes the plan's first steps
 * itself when they need no workflow (the stale-reply check and the first attempts of the parts,
 * up to the first speech, timer or pause), which is the whole plan in the common case; the workflow
 * (src/workflows/message/) takes the rest, or every step when the answer step did not write the
 * reply. Pure: the settings are the message's snapshot, fixed at admission, so every replay and
 * both executors compute the same plan.
 */
import type { ChannelSnapshot } from './models.js';

/** The settings a reply's plan reads: the channel's and its agent's, as the message's snapshot fixed them. */
export type ReplySettings = Pick<
  ChannelSnapshot,
  'replyDelaySeconds' | 'voiceReplies' | 'typing' | 'interim' | 'supersedeStaleReplies'
>;

/** How the reply is written. */
export interface WritingPlan {
  /**
   * The agent's "one moment" part, when it has one: the model step is raced against its timer (a
   * durable timer, which only the workflow has), so the answer step leaves the writing to the
   * workflow; absent: the answer step writes the reply (a text message's common case).
   */
  interim?: { afterSeconds: number; text: string };
  /** Whether the step that writes the reply gives each part's length: the plan's typing pauses are made of them. */
  partLengths: boolean;
}

/** How the reply is written: where the model step runs, and what it gives back. */
export function writingPlan(settings: Pick<ReplySettings, 'interim' | 'typing'>): WritingPlan {
  return {
    ...(settings.interim !== undefined ? { interim: settings.interim } : {}),
    partLengths: settings.typing !== undefined,
  };
}

/** What the plan needs to know of a written reply. */
export interface WrittenReply {
  partCount: number;
  /**
   * Each part's length: a reply of the model's has them when its channel paces parts (writingPlan,
   * and the answer step's own writing); without them the parts are not paced.
   */
  partLengths?: readonly number[];
  /** The agent's fallback reply, written because the model (or the transcription) could not answer: its parts are never paced. */
  fallback: boolean;
  /** The agent's handoff text (the model handed the chat to a person): never stale, since it tells the user a person is coming. */
  handoff: boolean;
}

export interface ReplyPlanInput {
  settings: ReplySettings;
  /** Whether the user sent a voice note (speech "when the user sent voice"). */
  userSentVoice: boolean;
  reply: WrittenReply;
  /**
   * What was done already: the answer step took the plan's first steps (answerStepShare) and
   * delivered this many parts, from the first; the plan is then what is left.
   */
  done?: { answerStepDelivered: number };
}

export type ReplyStep =
  /** Every part's speech, in one step; the parts then go out with whatever audio it made. */
  | { kind: 'speak' }
  /** The channel's reply delay: a durable timer before anything goes out. */
  | { kind: 'wait_reply_delay'; ms: number }
  /** Just before the first part goes out: a newer message of the chat makes the reply stale, and it is dropped unsent. */
  | { kind: 'drop_if_stale' }
  /** Paced parts: the pause before part `part` (after the first), as long as typing it would take (0 for an empty part). */
  | { kind: 'typing_pause'; part: number; ms: number }
  /** Part `part`: its first attempt, then the channel's retry schedule. */
  | { kind: 'deliver'; part: number };

/** Whether the reply is spoken too: always, or when the user sent a voice note. */
export function speaks(settings: Pick<ReplySettings, 'voiceReplies'>, userSentVoice: boolean): boolean {
  return settings.voiceReplies === 'always' || (settings.voiceReplies === 'when_user_sent_voice' && userSentVoice);
}

/**
 * The steps from the reply written to its last part delivered, in order: speech, the reply delay,
 * the stale-reply check, then each part, each paced part after the first behind its typing pause;
 * with `done`, only what is left of them.
 */
export function replyPlan(input: ReplyPlanInput): ReplyStep[] {
  const { settings, reply } = input;
  const steps: ReplyStep[] = [];
  if (speaks(settings, input.userSentVoice)) steps.push({ kind: 'speak' });
  if (settings.replyDelaySeconds > 0) steps.push({ kind: 'wait_reply_delay', ms: settings.replyDelaySeconds * 1000 });
  if (settings.supersedeStaleReplies && !reply.handoff) steps.push({ kind: 'drop_if_stale' });
  const pauses =
    !reply.fallback && reply.partLengths !== undefined && pacesParts(settings, reply.partCount)
      ? typingPausesMs(settings.typing, reply.partLengths)
      : undefined;
  for (let part = 0; part < reply.partCount; part++) {
    if (pauses !== undefined && part > 0) steps.push({ kind: 'typing_pause', part, ms: pauses[part] ?? 0 });
    steps.push({ kind: 'deliver', part });
  }
  if (input.done === undefined) return steps;
  // The answer step's share was its stale check and its first deliveries: what it delivered is done.
  const share = answerStepShare(steps);
  const taken = (share.dropIfStale ? 1 : 0) + Math.min(input.done.answerStepDelivered, share.parts);
  return steps.slice(taken);
}

/**
 * Paced parts: a pause before each part of a reply after the first, as long as typing it would
 * take (its length times the channel's milliseconds per character), never longer than the cap.
 */
export function typingPausesMs(typing: ChannelSnapshot['typing'], partLengths: readonly number[]): number[] {
  if (typing === undefined) return [];
  return partLengths.map((length, index) =>
    index === 0 ? 0 : Math.min(length * typing.msPerChar, typing.maxSeconds * 1000),
  );
}

/** Whether a reply of `partCount` parts is paced: only the parts after the first wait. */
export const pacesParts = (snapshot: Pick<ChannelSnapshot, 'typing'>, partCount: number): boolean =>
  snapshot.typing !== undefined && partCount > 1;

/** The answer step's start-to-close timeout (src/workflows/activity-proxies.ts): a run still going then is cancelled and retried. */
export const ANSWER_STEP_TIMEOUT_MS = 120_000;

/**
 * How long after its start the answer step may still start a part's POST (ANSWER_STEP_BUDGET_MS):
 * well under its timeout, so that its last POST (DELIVERY_TIMEOUT_MS at most) and the writes
 * after it end before the step's retry could start; the parts not started by then are the
 * workflow's delivery steps'.
 */
export const DEFAULT_ANSWER_STEP_BUDGET_MS = 60_000;

/** What the answer step's timeout leaves, beyond its budget and its last POST, for the writes after that POST. */
export const ANSWER_STEP_MARGIN_MS = 20_000;

/**
 * The plan's first steps that the answer step takes itself, within its one activity: the
 * stale-reply check and the parts' first attempts, up to the first step that needs the workflow
 * (speech, the reply delay, a typing pause). `parts` 0: none, the workflow takes every step.
 */
export function answerStepShare(steps: readonly ReplyStep[]): { dropIfStale: boolean; parts: number } {
  let dropIfStale = false;
  let parts = 0;
  for (const step of steps) {
    if (step.kind === 'drop_if_stale' && parts === 0) dropIfStale = true;
    else if (step.kind === 'deliver') parts += 1;
    else break;
  }
  // A stale check with no part after it in the share is not the answer step's to make.
  return parts > 0 ? { dropIfStale, parts } : { dropIfStale: false, parts: 0 };
}

/** Whether the plan paces its parts (its typing pauses need the parts' lengths). */
export const pacesReply = (steps: readonly ReplyStep[]): boolean => steps.some((step) => step.kind === 'typing_pause');

/**
 * A plan's deliveries as the workflow's delivery loop takes them (src/workflows/delivery.ts): the
 * first part it delivers, and the pause before each part by index (absent when none is paced);
 * undefined when the plan delivers nothing.
 */
export function deliveriesOf(
  steps: readonly ReplyStep[],
  partCount: number,
): { fromPart: number; pausesMs?: number[] } | undefined {
  const first = steps.find((step) => step.kind === 'deliver');
  if (first === undefined) return undefined;
  const pauses = steps.filter((step) => step.kind === 'typing_pause');
  if (pauses.length === 0) return { fromPart: first.part };
  const pausesMs = Array.from({ length: partCount }, () => 0);
  for (const pause of pauses) pausesMs[pause.part] = pause.ms;
  return { fromPart: first.part, pausesMs };
}
