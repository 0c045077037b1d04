/**
 * A message's path up to its reply written (or why there is none): admission, transcription, the
 * turn, the burst window, the model step, and the fallback reply. src/workflows/message.ts
 * dispatches to it; src/workflows/message/deliver.ts takes the written reply on from here.
 */
import { ActivityFailure, ApplicationFailure, sleep } from '@temporalio/workflow';
import type { AnswerAfterBurst, InlineDelivery } from '../../activities/index.js';
import { ErrorType, fallbackErrorTypes } from '../../domain/errors.js';
import type { ChannelSnapshot } from '../../domain/models.js';
import type { FailureEvents } from '../../domain/operational-events.js';
import { writingPlan } from '../../domain/reply-plan.js';
import {
  admitMessage,
  composeFallbackReply,
  composeReply,
  recordUnansweredMessage,
  transcribeVoiceMessage,
} from '../activity-proxies.js';
import { workflowNow } from '../clock.js';
import { withInterim } from '../interim.js';
import type { MessageResult, MessageRun } from '../message.js';

/** A reply the model wrote, and what the answer step did of its plan. */
export interface ModelReply {
  partCount: number;
  /** Each part's length, when the plan paces the parts. */
  partLengths?: number[];
  /** The agent's handoff text: the model handed the chat to a person. */
  handoff: boolean;
  /** The answer step took the plan's first steps (src/domain/reply-plan.ts): what came of its deliveries. */
  answerStepDelivery?: InlineDelivery;
}

/** Where the path up to the reply led. */
export type Answered =
  /** The message ended without a reply of its own: refused, held for a person, or absorbed into a newer one. */
  | { kind: 'ended'; result: MessageResult }
  | { kind: 'written'; settings: ChannelSnapshot; reply: ModelReply }
  /** No reply could be written (`failure` says why): the fallback reply answers. `settings` once admission gave them. */
  | { kind: 'not_written'; failure: string; settings?: ChannelSnapshot | undefined };

const ended = (result: MessageResult): Answered => ({ kind: 'ended', result });

/** No reply: the failure is kept for a fresh run, should a long wait for the turn still come (it sends the fallback). */
function notWritten(run: MessageRun, failure: string, settings?: ChannelSnapshot): Answered {
  run.carried.failure = failure;
  return { kind: 'not_written', failure, settings };
}

/**
 * A text message up to its reply: admission, the model call and the first steps of the reply's
 * plan in one step (the answer step), taken again each time it finds an earlier message of the
 * chat in the way, once its turn has come; a coalescing channel's message waits out its burst
 * window in between. A fresh run of a message that had failed goes straight to the fallback reply.
 */
export async function answerText(run: MessageRun): Promise<Answered> {
  run.enter('generating');
  if (run.carried.failure !== undefined) return { kind: 'not_written', failure: run.carried.failure };
  let settings: ChannelSnapshot | undefined;
  for (;;) {
    const step = await modelStep(() => run.answerStep.answer(run.input));
    if ('failure' in step) return notWritten(run, step.failure, settings);
    const answer = step.result;
    switch (answer.kind) {
      case 'refused':
        return ended(await refuse(run, answer));
      case 'waiting_turn':
        // The step read the line and found an earlier place still at work. It reads it again when
        // it runs next: after a hint that a place ended, or a look of the workflow's own.
        settings = answer.snapshot;
        run.enter('waiting_turn');
        await run.turn.untilWorthAsking();
        run.enter('generating');
        continue;
      case 'coalescing': {
        run.turn.grant();
        settings = answer.snapshot;
        const inBurst = await afterBurstWindow(run, settings);
        if ('failure' in inBurst) return notWritten(run, inBurst.failure, settings);
        return takeAnswer(run, inBurst.result);
      }
      default:
        // Every other answer was taken in the message's turn.
        run.turn.grant();
        return takeAnswer(run, answer);
    }
  }
}

/**
 * A voice message up to its reply: admission, then its transcription (both its own, so they run
 * at once), then its turn; then, as a text message's, its burst window on a coalescing channel,
 * or the model step. A transcription that fails leaves the fallback reply, unless the user typed
 * text as well: that is answered alone.
 */
export async function answerVoice(run: MessageRun): Promise<Answered> {
  const { input, carried } = run;
  const admission = await admit(run);
  if ('refused' in admission) return ended(admission.refused);
  const { settings } = admission;
  let failure = carried.failure;
  if (!carried.transcribed) {
    run.enter('transcribing');
    try {
      await transcribeVoiceMessage({ messageId: input.messageId, agentId: settings.agentId });
    } catch (error) {
      // With typed text as well, the message is still answered from the text alone.
      if (input.message.text === undefined) failure = carried.failure = failureReason(error);
    }
    carried.transcribed = true;
  }
  run.enter('waiting_turn');
  await run.turn.wait();
  if (failure !== undefined) return notWritten(run, failure, settings);
  run.enter('generating');
  if (settings.coalesceWindowSeconds) {
    // A coalescing channel: the same window as a text message's, then absorbed or answered.
    const inBurst = await afterBurstWindow(run, settings);
    if ('failure' in inBurst) return notWritten(run, inBurst.failure, settings);
    return takeAnswer(run, inBurst.result);
  }
  return writeReply(run, settings);
}

/**
 * What the answer step did in the message's turn (at once, or once its burst window was over):
 * the message absorbed or held, or the reply written, or left for the workflow to write.
 */
async function takeAnswer(run: MessageRun, answer: AnswerAfterBurst): Promise<Answered> {
  switch (answer.kind) {
    // The chat is with a person: the step put the message in its history; nothing to answer.
    case 'held':
      return ended(await run.close('not_answered', 0, answer.reason));
    // Absorbed into a newer message of the chat, whose reply answers this one.
    case 'coalesced':
    case 'superseded':
      if (answer.kind === 'superseded') run.progress.partCount = answer.partCount;
      return ended(await run.close(answer.kind, 0, undefined, { answeredBy: answer.answeredBy }));
    case 'answered':
      return {
        kind: 'written',
        settings: answer.snapshot,
        reply: {
          partCount: answer.partCount,
          ...(answer.partLengths !== undefined ? { partLengths: answer.partLengths } : {}),
          handoff: answer.handoff === true,
          ...(answer.delivery !== undefined ? { answerStepDelivery: answer.delivery } : {}),
        },
      };
    // The agent has a "one moment" part: the model step runs here, raced against its timer.
    case 'reply_to_write':
      return writeReply(run, answer.snapshot);
  }
}

/**
 * A message of a coalescing channel, holding its turn: waits out the window after its own receipt
 * (one durable timer, none when the window is already over, as after a wait for the turn), then is
 * either absorbed into a later message of its chat or answered.
 */
async function afterBurstWindow(run: MessageRun, settings: ChannelSnapshot) {
  const windowEnd = Date.parse(run.input.receivedAt) + (settings.coalesceWindowSeconds ?? 0) * 1000;
  const waitMs = windowEnd - workflowNow();
  if (waitMs > 0) {
    run.enter('waiting_burst');
    await sleep(waitMs);
    run.enter('generating');
  }
  return modelStep(() => run.answerStep.inBurst({ ...run.input, snapshot: settings }));
}

/** What the reply steps need of a message: its ids and the settings its snapshot fixed. */
function replyInputFor(run: MessageRun, settings: ChannelSnapshot) {
  return {
    messageId: run.input.messageId,
    chatId: run.input.chatId,
    agentId: settings.agentId,
    voicePrefix: settings.voicePrefix,
    maxMessageLength: settings.maxMessageLength,
  };
}

/**
 * The model step as a step of the workflow's own (a voice message's, or a text message's whose
 * agent has a "one moment" part), as the reply's writing plan says: raced against the interim's
 * timer when there is one, and giving each part's length when the parts are paced.
 */
async function writeReply(run: MessageRun, settings: ChannelSnapshot): Promise<Answered> {
  const plan = writingPlan(settings);
  const { messageId, chatId } = run.input;
  const input = { ...replyInputFor(run, settings), ...(plan.partLengths ? { partLengths: true } : {}) };
  const generation = modelStep(() => composeReply(input));
  const step = await (plan.interim === undefined
    ? generation
    : withInterim(generation, { messageId, chatId, snapshot: settings, interim: plan.interim }));
  if ('failure' in step) return notWritten(run, step.failure, settings);
  const written = step.result;
  // The chat is with a person: the message is in its history, with no answer.
  if (written.held !== undefined) return ended(await run.close('not_answered', 0, written.held));
  return {
    kind: 'written',
    settings,
    reply: {
      partCount: written.partCount,
      ...(written.partLengths !== undefined ? { partLengths: written.partLengths } : {}),
      handoff: written.handoff === true,
    },
  };
}

/** The agent's fallback reply, stored in place of the reply that could not be written (`failure` says why); its part count. */
export async function writeFallback(run: MessageRun, settings: ChannelSnapshot, failure: string): Promise<number> {
  run.progress.reason = failure;
  const { partCount } = await composeFallbackReply({ ...replyInputFor(run, settings), reason: failure });
  return partCount;
}

/** Why a message gets no answer: refused by its channel, or not answered (the assistant is off). */
interface Refusal {
  outcome: 'not_answered' | 'failed';
  reason: string;
  /** Whether admission found the turn there. */
  turn: boolean;
  voicePrefix?: string;
  events?: FailureEvents;
}

/** Nothing is answered, but a message not answered is kept: in the chat's history, in its turn. */
async function refuse(run: MessageRun, refusal: Refusal): Promise<MessageResult> {
  // Admission read the line: the turn is there (or, when not, closing reads it again).
  if (refusal.turn) run.turn.grant();
  if (refusal.outcome === 'not_answered') {
    run.enter('waiting_turn');
    await run.turn.wait();
    await recordUnansweredMessage({
      messageId: run.input.messageId,
      chatId: run.input.chatId,
      ...(refusal.voicePrefix !== undefined ? { voicePrefix: refusal.voicePrefix } : {}),
    });
  }
  return run.close(refusal.outcome, 0, refusal.reason, { events: refusal.events });
}

/** Admission as a step of its own: the message's settings (and the turn, when it is there already), or its refusal. */
async function admit(run: MessageRun): Promise<{ settings: ChannelSnapshot } | { refused: MessageResult }> {
  run.enter('validating');
  const admission = await admitMessage(run.input);
  if (admission.outcome !== 'accepted') return { refused: await refuse(run, admission) };
  if (admission.turn) run.turn.grant();
  return { settings: admission.snapshot };
}

/**
 * The settings of a text message whose one step failed before admission could say (the fallback
 * reply needs them): admission again, as a step of its own, then the turn.
 */
export async function admitAfterFailure(
  run: MessageRun,
): Promise<{ settings: ChannelSnapshot } | { refused: MessageResult }> {
  const admission = await admit(run);
  if ('refused' in admission) return admission;
  run.enter('waiting_turn');
  await run.turn.wait();
  return admission;
}

/**
 * When generation fails for a reason of our own (MongoDB away longer than the activity's retries),
 * the workflow waits and tries again this many times, backing off, before it gives up and answers
 * with the fallback reply; about an hour in all.
 */
const GENERATION_ROUNDS = 7;
const generationBackoffMs = (round: number): number => Math.min(30_000 * 2 ** (round - 1), 15 * 60_000);

/**
 * A model step, with the model's failures told apart from ours: the model's (after the activity's
 * retries) and a deleted agent end in the fallback reply; ours (MongoDB away for long) are tried
 * again after a wait, a bounded number of times; a missing record cannot heal and ends at once.
 */
async function modelStep<T>(run: () => Promise<T>): Promise<{ result: T } | { failure: string }> {
  for (let round = 1; ; round++) {
    try {
      return { result: await run() };
    } catch (error) {
      const type = applicationFailure(error)?.type ?? undefined;
      if (type !== undefined && fallbackErrorTypes.includes(type)) return { failure: failureReason(error) };
      if (type === ErrorType.MessageNotStored || round >= GENERATION_ROUNDS)
        return { failure: `the reply could not be generated: ${failureReason(error)}` };
      await sleep(generationBackoffMs(round));
    }
  }
}

/**
 * The application failure behind an activity's failure: its cause for a regular activity; a local
 * activity's may come as the application failure itself.
 */
function applicationFailure(error: unknown): ApplicationFailure | undefined {
  if (error instanceof ApplicationFailure) return error;
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

/** Why an activity failed, in words fit for the message record. */
export function failureReason(error: unknown): string {
  const cause = applicationFailure(error) ?? (error instanceof ActivityFailure ? error.cause : undefined);
  if (cause) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
