import {
  ActivityFailure,
  ApplicationFailure,
  ContinueAsNew,
  isCancellation,
  proxySinks,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import { ErrorType, fallbackErrorTypes } from '../domain/errors.js';
import type { ChannelSnapshot, FinalStatus, MessageStage, MessageWorkflowInput } from '../domain/models.js';
import { failureEventsOf, type FailureEvents } from '../domain/operational-events.js';
import type { ObservabilitySinks } from '../observability/workflow-interceptors.js';
import { observabilitySinkName } from '../observability/workflow-context.js';
import type { Answer, InlineDelivery } from '../activities/index.js';
import { typingPausesMs } from '../domain/pacing.js';
import { HANDOFF_REQUESTED_REASON } from '../domain/handoff.js';
import { wantsVoice } from '../domain/snapshot.js';
import {
  admitMessage,
  answerInBurst,
  answerInBurstLocally,
  answerMessage,
  answerMessageLocally,
  closeMessage,
  composeFallbackReply,
  composeReply,
  dropStaleReply,
  recordUnansweredMessage,
  speakReply,
  transcribeVoiceMessage,
} from './activities.js';
import { progressQuery, type MessageProgress } from './definitions.js';
import { deliverParts, type CarriedPlan, type DeliveryPlan } from './delivery.js';
import { withInterim } from './interim.js';
import { chatLineTurn, continueWithMemo } from './line.js';
import { workflowNow } from './clock.js';
import { recordFinalStatus } from './final-status.js';
import { enterStage, startProgress } from './progress.js';

export interface MessageResult {
  status: FinalStatus;
  reason?: string;
  partsDelivered: number;
  /** Coalesced or superseded: the message whose reply answers this one. */
  answeredBy?: string;
}

/**
 * Ends the message: its outcome recorded and its turn handed on. `events`: where a failure is
 * reported (the snapshot's events URL); `answeredBy`: the message whose reply answers this one
 * (coalesced or superseded).
 */
type Close = (
  status: FinalStatus,
  partsDelivered: number,
  reason?: string,
  extra?: { events?: FailureEvents | undefined; answeredBy?: string },
) => Promise<MessageResult>;

/**
 * When generation fails for a reason of our own (MongoDB away longer than the activity's retries),
 * the workflow waits and tries again this many times, backing off, before it gives up and answers
 * with the fallback reply; about an hour in all.
 */
const GENERATION_ROUNDS = 7;
const generationBackoffMs = (round: number): number => Math.min(30_000 * 2 ** (round - 1), 15 * 60_000);

const sinks = proxySinks<ObservabilitySinks>();

/** What a run has done that a fresh run (continued as new during a long wait) must not do again. */
interface Continued {
  transcribed?: boolean;
  failure?: string;
  /** The reply's parts still to deliver: the fresh run goes straight on with them. */
  delivery?: CarriedPlan;
}

type PausedWait = NonNullable<DeliveryPlan['longWait']>;

/** The input of a run: the message, and in a run continued as new what the earlier runs did. */
export interface MessageRunInput extends MessageWorkflowInput {
  continued?: Continued;
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

/** The failure type behind an activity failure, if it has one. */
function failureType(error: unknown): string | undefined {
  return applicationFailure(error)?.type ?? undefined;
}

/** Why an activity failed, in words fit for the message record. */
function failureReason(error: unknown): string {
  const cause = applicationFailure(error) ?? (error instanceof ActivityFailure ? error.cause : undefined);
  if (cause) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Handles one inbound message from acceptance to the last part delivered (or a recorded failure).
 * Steps that only concern this message (admission, transcription) run at once; the steps that
 * touch the chat's history and its receiver wait for the message's turn in its chat's line, which
 * the API gave it when it accepted the message. In the common case (text, no reply delay, one
 * part, nobody ahead in the chat) that is one step: admission, the model call and the delivery,
 * as a local activity (one workflow task, 7 history events: docs/architecture.md) or, with
 * `modelStep: 'activity'` in the input (MODEL_STEP), as a regular activity with heartbeats.
 */
export async function messageWorkflow(input: MessageRunInput): Promise<MessageResult> {
  const steps: AnswerSteps =
    input.modelStep === 'activity'
      ? { answer: answerMessage, answerInBurst }
      : { answer: answerMessageLocally, answerInBurst: answerInBurstLocally };
  return handleMessage(input, steps);
}

/** How a text message's one step runs, and that step at the end of a burst window (by `modelStep`). */
interface AnswerSteps {
  answer: (input: MessageWorkflowInput) => Promise<Answer>;
  answerInBurst: (input: MessageWorkflowInput & { snapshot: ChannelSnapshot }) => Promise<Answer>;
}

async function handleMessage(input: MessageRunInput, steps: AnswerSteps): Promise<MessageResult> {
  const { messageId, chatId, lineSeq } = input;
  const progress = startProgress(messageId, 'accepted');
  setHandler(progressQuery, () => progress);
  // What this run has done that a fresh run must not do again, should a long wait for the turn
  // continue the workflow as new (src/workflows/line.ts); the memo (its place) goes along.
  const done: Continued = { ...input.continued };
  const turn = chatLineTurn(chatId, lineSeq, {
    continueAsNew: () =>
      continueWithMemo<typeof messageWorkflow>({
        ...input,
        continued: done,
      }),
    checksBeforeContinue: input.checksBeforeContinue,
  });
  // A long pause of the channel goes on in a fresh run too, with the parts still to deliver.
  const pausedWait: PausedWait = {
    continueAsNew: (rest) => continueWithMemo<typeof messageWorkflow>({ ...input, continued: { delivery: rest } }),
    checksBeforeContinue: input.checksBeforeContinue,
  };
  const close: Close = async (status, partsDelivered, reason, extra = {}) => {
    const { events, answeredBy } = extra;
    enterStage(progress, status);
    if (reason !== undefined) progress.reason = reason;
    const absorbed = answeredBy !== undefined ? { answeredBy } : {};
    await closeMessage({
      messageId,
      chatId,
      lineSeq,
      status,
      partsDelivered,
      ...(reason !== undefined ? { reason } : {}),
      ...(events !== undefined ? { events } : {}),
      ...absorbed,
    });
    return { status, partsDelivered, ...(reason !== undefined ? { reason } : {}), ...absorbed };
  };

  let result: MessageResult;
  try {
    result = done.delivery
      ? await deliverRest(done.delivery, progress, close, pausedWait)
      : await answer(input, steps, progress, turn, close, done, pausedWait);
  } catch (error) {
    // A failure no retry can heal (a record deleted under us): the message ends as failed, and the
    // chat's turn is handed on, instead of the chat waiting behind a failed workflow.
    if (isCancellation(error) || error instanceof ContinueAsNew) throw error;
    result = await close('failed', 0, failureReason(error));
  }
  recordFinalStatus(result.status);
  return result;
}

async function answer(
  input: MessageWorkflowInput,
  steps: AnswerSteps,
  progress: MessageProgress,
  turn: ReturnType<typeof chatLineTurn>,
  close: Close,
  done: Continued,
  pausedWait: PausedWait,
): Promise<MessageResult> {
  const { messageId, chatId, lineSeq } = input;
  const enter = (stage: MessageStage): void => enterStage(progress, stage);
  /** Nothing is answered, but the message is kept: in the chat history when the assistant is off. */
  const refuse = async (refusal: {
    outcome: 'not_answered' | 'failed';
    reason: string;
    turn: boolean;
    voicePrefix?: string;
    events?: FailureEvents;
  }): Promise<MessageResult> => {
    if (refusal.outcome === 'not_answered') {
      if (refusal.turn) turn.grant();
      enter('waiting_turn');
      await turn.wait();
      await recordUnansweredMessage({
        messageId,
        chatId,
        ...(refusal.voicePrefix !== undefined ? { voicePrefix: refusal.voicePrefix } : {}),
      });
    }
    return close(refusal.outcome, 0, refusal.reason, { events: refusal.events });
  };
  /** Absorbed into a newer message of the chat, whose reply answers this one. */
  const absorbed = (answer: Extract<Answer, { kind: 'coalesced' | 'superseded' }>): Promise<MessageResult> => {
    if (answer.kind === 'superseded') progress.partCount = answer.partCount;
    return close(answer.kind, 0, undefined, { answeredBy: answer.answeredBy });
  };
  /** Admission as a step of its own: the settings, and the turn (waited for). */
  const admit = async (): Promise<ChannelSnapshot | MessageResult> => {
    enter('validating');
    const admission = await admitMessage(input);
    if (admission.outcome !== 'accepted') return refuse(admission);
    if (admission.turn) turn.grant();
    return admission.snapshot;
  };

  /**
   * The model step as a step of its own, raced against the agent's "one moment" timer when it
   * has one; with paced parts it also gives each part's length.
   */
  const generate = (settings: ChannelSnapshot) => {
    const replyInput = {
      ...replyInputFor(messageId, chatId, settings),
      ...(settings.typing !== undefined ? { partLengths: true } : {}),
    };
    const generation = modelStep(() => composeReply(replyInput));
    const { interim } = settings;
    return interim === undefined
      ? generation
      : withInterim(generation, { messageId, chatId, snapshot: settings, interim });
  };

  // A reason set here means the message is recorded as failed (the user still gets a reply: the fallback).
  let failure: string | undefined;
  let snapshot: ChannelSnapshot | undefined;
  let partCount: number | undefined;
  /** Each part's length, when the channel paces the parts (and the reply has more than one). */
  let partLengths: number[] | undefined;
  let atOnce: InlineDelivery | undefined;
  // Set when the model handed the chat to a person: the reply (the handoff text) is delivered as any, and the outcome says so.
  let handoff: string | undefined;
  /** Takes what a model step wrote: the reply's parts (and whether it is a handoff), or, when the chat is with a person, why nothing was. */
  const took = (result: {
    partCount: number;
    partLengths?: number[];
    handoff?: true;
    held?: string;
  }): string | undefined => {
    if (result.held !== undefined) return result.held;
    ({ partCount, partLengths } = result);
    if (result.handoff) handoff = HANDOFF_REQUESTED_REASON;
    return undefined;
  };

  if (input.message.audio === undefined) {
    // A text message: admission, the model call and the first delivery attempts in one step
    // (unless an earlier run already failed it, and only the fallback is left to send).
    enter('generating');
    failure = done.failure;
    while (failure === undefined) {
      const step = await modelStep(() => steps.answer(input));
      if ('failure' in step) {
        failure = done.failure = step.failure;
        break;
      }
      let answer: Answer = step.result;
      if (answer.kind === 'refused') return refuse(answer);
      snapshot = answer.snapshot;
      if (answer.kind === 'coalescing') {
        const inBurst = await afterBurstWindow(input, answer.snapshot, progress, steps);
        if ('failure' in inBurst) {
          failure = done.failure = inBurst.failure;
          break;
        }
        answer = inBurst.result;
      }
      // The chat is with a person: the step put the message in its history; nothing to answer.
      if (answer.kind === 'held') return close('not_answered', 0, answer.reason);
      if (answer.kind === 'coalesced' || answer.kind === 'superseded') return absorbed(answer);
      if (answer.kind === 'answered') {
        partCount = answer.partCount;
        partLengths = answer.partLengths;
        atOnce = answer.delivery;
        if (answer.handoff) handoff = HANDOFF_REQUESTED_REASON;
        break;
      }
      if (answer.kind === 'admitted') {
        // The agent has a "one moment" part: the model step runs here, raced against its timer.
        const generated = await generate(snapshot);
        if ('failure' in generated) failure = done.failure = generated.failure;
        else {
          const held = took(generated.result);
          if (held !== undefined) return close('not_answered', 0, held);
        }
        break;
      }
      enter('waiting_turn');
      await turn.wait();
      enter('generating');
    }
  } else {
    const admitted = await admit();
    if (!('channelId' in admitted)) return admitted;
    snapshot = admitted;
    failure = done.failure;
    if (!done.transcribed) {
      enter('transcribing');
      try {
        await transcribeVoiceMessage({ messageId, agentId: snapshot.agentId });
      } catch (error) {
        // With typed text as well, the message is still answered from the text alone.
        if (input.message.text === undefined) failure = done.failure = failureReason(error);
      }
      done.transcribed = true;
    }
    enter('waiting_turn');
    await turn.wait();
    if (failure === undefined && snapshot.coalesceWindowSeconds) {
      // A coalescing channel: the same window as a text message's, then absorbed or answered.
      enter('generating');
      const inBurst = await afterBurstWindow(input, snapshot, progress, steps);
      if ('failure' in inBurst) failure = inBurst.failure;
      else {
        const result = inBurst.result;
        if (result.kind === 'coalesced' || result.kind === 'superseded') return absorbed(result);
        if (result.kind === 'held') return close('not_answered', 0, result.reason);
        if (result.kind === 'answered') {
          ({ partCount, partLengths } = result);
          atOnce = result.delivery;
          if (result.handoff) handoff = HANDOFF_REQUESTED_REASON;
        } else if (result.kind === 'admitted') {
          // The agent has a "one moment" part: the model step runs here, raced against its timer.
          const generated = await generate(snapshot);
          if ('failure' in generated) failure = generated.failure;
          else {
            const held = took(generated.result);
            if (held !== undefined) return close('not_answered', 0, held);
          }
        }
      }
    } else if (failure === undefined) {
      enter('generating');
      const step = await generate(snapshot);
      if ('failure' in step) failure = step.failure;
      else {
        const held = took(step.result);
        if (held !== undefined) return close('not_answered', 0, held);
      }
    }
  }

  if (snapshot === undefined) {
    // The one step failed before it could say: admission again, as a step of its own, gives the settings.
    const admitted = await admit();
    if (!('channelId' in admitted)) return admitted;
    snapshot = admitted;
    enter('waiting_turn');
    await turn.wait();
  }
  if (partCount === undefined) {
    progress.reason = failure;
    ({ partCount } = await composeFallbackReply({
      ...replyInputFor(messageId, chatId, snapshot),
      reason: failure ?? 'no reply',
    }));
  }
  progress.partCount = partCount;

  const status: FinalStatus = failure === undefined ? 'delivered' : 'failed';
  const events = failureEventsOf(input, snapshot);
  const reason = failure ?? handoff;
  if (reason !== undefined) progress.reason = reason;
  const ended = (partsDelivered: number): MessageResult => {
    enter(status);
    return { status, partsDelivered, ...(reason !== undefined ? { reason } : {}) };
  };
  if (atOnce?.finished) return ended(atOnce.delivered);

  let withAudio = false;
  if (wantsVoice(snapshot, input.message)) {
    enter('synthesizing');
    try {
      withAudio = (await speakReply({ messageId, agentId: snapshot.agentId })).spoken > 0;
    } catch {
      withAudio = true; // some parts may have their audio
      // The parts go out with the audio made so far, the rest as text; the failure is in the history.
    }
  }

  if (snapshot.replyDelaySeconds > 0) {
    enter('waiting_reply_delay');
    const delayMs = snapshot.replyDelaySeconds * 1000;
    sinks[observabilitySinkName].replyDelayStarted(delayMs);
    await sleep(delayMs);
    sinks[observabilitySinkName].replyDelayEnded();
  }

  if (snapshot.supersedeStaleReplies && atOnce === undefined) {
    // Just before the first part goes out: a newer message of the chat makes this reply stale.
    const { supersededBy } = await dropStaleReply({ messageId, chatId, lineSeq });
    if (supersededBy !== undefined) return close('superseded', 0, failure, { answeredBy: supersededBy });
  }

  const delivered = await deliverParts(
    {
      messageId,
      chatId,
      channelId: snapshot.channelId,
      url: snapshot.replyWebhookUrl,
      partCount,
      fromPart: atOnce?.delivered ?? 0,
      ...(atOnce?.stopped ? { firstAttempt: atOnce.stopped.result } : {}),
      retryScheduleSeconds: snapshot.retryScheduleSeconds,
      withAudio,
      ...(partLengths !== undefined ? { pausesMs: typingPausesMs(snapshot.typing, partLengths) } : {}),
      finish: {
        status,
        lineSeq,
        partsBefore: atOnce?.delivered ?? 0,
        ...(reason !== undefined ? { reason } : {}),
        // Carried with the parts, so a run continued as new during a long pause still knows it.
        ...(events !== undefined ? { events } : {}),
      },
      longWait: pausedWait,
    },
    progress,
  );
  const partsDelivered = (atOnce?.delivered ?? 0) + delivered.delivered;
  if (delivered.finished) return ended(partsDelivered);
  return close('failed', partsDelivered, failure ?? delivered.error ?? 'not every part was delivered', { events });
}

/** A fresh run of a message whose reply waited long for its paused channel: the rest of the delivery. */
async function deliverRest(
  plan: CarriedPlan,
  progress: MessageProgress,
  close: Close,
  pausedWait: PausedWait,
): Promise<MessageResult> {
  progress.partCount = plan.partCount;
  const delivered = await deliverParts({ ...plan, longWait: pausedWait }, progress);
  const partsDelivered = plan.finish.partsBefore + delivered.delivered;
  const { status, reason } = plan.finish;
  if (!delivered.finished)
    return close('failed', partsDelivered, reason ?? delivered.error ?? 'not every part was delivered', {
      events: plan.finish.events,
    });
  enterStage(progress, status);
  return { status, partsDelivered, ...(reason !== undefined ? { reason } : {}) };
}

/**
 * A text message of a coalescing channel, holding its turn: waits out the window after its own
 * receipt (one durable timer, none when the window is already over, as after a wait for the
 * turn), then is either absorbed into a later message of its chat or answered.
 */
async function afterBurstWindow(
  input: MessageWorkflowInput,
  snapshot: ChannelSnapshot,
  progress: MessageProgress,
  steps: AnswerSteps,
) {
  const windowEnd = Date.parse(input.receivedAt) + (snapshot.coalesceWindowSeconds ?? 0) * 1000;
  const waitMs = windowEnd - workflowNow();
  if (waitMs > 0) {
    enterStage(progress, 'waiting_burst');
    await sleep(waitMs);
    enterStage(progress, 'generating');
  }
  return modelStep(() => steps.answerInBurst({ ...input, snapshot }));
}

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
      const type = failureType(error);
      if (type !== undefined && fallbackErrorTypes.includes(type)) return { failure: failureReason(error) };
      if (type === ErrorType.MessageNotStored || round >= GENERATION_ROUNDS)
        return { failure: `the reply could not be generated: ${failureReason(error)}` };
      await sleep(generationBackoffMs(round));
    }
  }
}

/** What the reply steps need of a message: its ids and the settings its snapshot fixed. */
function replyInputFor(messageId: string, chatId: string, snapshot: ChannelSnapshot) {
  return {
    messageId,
    chatId,
    agentId: snapshot.agentId,
    voicePrefix: snapshot.voicePrefix,
    maxMessageLength: snapshot.maxMessageLength,
  };
}
