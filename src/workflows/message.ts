import { ContinueAsNew, isCancellation, setHandler } from '@temporalio/workflow';
import type { Answer, AnswerAfterBurst } from '../activities/index.js';
import type { ChannelSnapshot, FinalStatus, MessageStage, MessageWorkflowInput } from '../domain/models.js';
import type { FailureEvents } from '../domain/operational-events.js';
import { chatLineTurn, continueWithMemo } from '../chat-line/wait.js';
import {
  answerInBurst,
  answerInBurstLocally,
  answerMessage,
  answerMessageLocally,
  closeMessage,
} from './activity-proxies.js';
import { progressQuery, type MessageProgress } from './definitions.js';
import type { CarriedPlan, DeliveryPlan } from './delivery.js';
import { admitAfterFailure, answerText, answerVoice, failureReason, writeFallback } from './message/answer.js';
import { deliverReply, deliverRest } from './message/deliver.js';
import { enterStage, recordFinalStatus, startProgress } from './progress.js';

/**
 * Handles one inbound message from acceptance to the last part delivered (or a recorded failure).
 * Steps that only concern this message (admission, transcription) run at once; the steps that
 * touch the chat's history and its receiver wait for the message's turn in its chat's line, which
 * the API gave it when it accepted the message. In the common case (text, no reply delay, one
 * part, nobody ahead in the chat) that is one step: admission, the model call and the delivery,
 * as a local activity (one workflow task, 7 history events: docs/architecture.md) or, with
 * `modelStep: 'activity'` in the input (MODEL_STEP), as a regular activity with heartbeats.
 *
 * This file is the path's one dispatch and what its steps share (the run); the steps are two
 * modules: up to the reply written (message/answer.ts) and from it to the last part delivered
 * (message/deliver.ts), which follows the reply's plan (src/domain/reply-plan.ts), as the answer
 * step does.
 */
export async function messageWorkflow(input: MessageRunInput): Promise<MessageResult> {
  const run = startRun(input);
  let result: MessageResult;
  try {
    result = await messagePath(run);
  } catch (error) {
    // A failure no retry can heal (a record deleted under us): the message ends as failed, and the
    // chat's turn is handed on, instead of the chat waiting behind a failed workflow.
    if (isCancellation(error) || error instanceof ContinueAsNew) throw error;
    result = await run.close('failed', 0, failureReason(error));
  }
  recordFinalStatus(result.status);
  return result;
}

/** A message's path: its reply written (or why there is none), then delivered as the reply's plan says. */
async function messagePath(run: MessageRun): Promise<MessageResult> {
  // A fresh run of a reply that waited long for its paused channel: the rest of its delivery.
  if (run.carried.delivery) return deliverRest(run, run.carried.delivery);

  const answered = run.input.message.audio === undefined ? await answerText(run) : await answerVoice(run);
  if (answered.kind === 'ended') return answered.result;
  if (answered.kind === 'written') return deliverReply(run, answered.settings, { ...answered.reply, fallback: false });

  // No reply could be written: the agent's fallback reply, with the settings (a text message's one
  // step that failed before admission could say: admission again, as a step of its own).
  let settings = answered.settings;
  if (settings === undefined) {
    const admission = await admitAfterFailure(run);
    if ('refused' in admission) return admission.refused;
    settings = admission.settings;
  } else if (!run.turn.held) {
    // The step failed while the message waited for its turn: the fallback goes out in it too.
    run.enter('waiting_turn');
    await run.turn.wait();
  }
  const partCount = await writeFallback(run, settings, answered.failure);
  return deliverReply(run, settings, { partCount, fallback: true, handoff: false }, answered.failure);
}

export interface MessageResult {
  status: FinalStatus;
  reason?: string;
  partsDelivered: number;
  /** Coalesced or superseded: the message whose reply answers this one. */
  answeredBy?: string;
}

/** What a run has done that a fresh run (continued as new during a long wait) must not do again. */
export interface Carried {
  transcribed?: boolean;
  /** Why the reply could not be written: the fresh run sends the fallback reply. */
  failure?: string;
  /** The reply's parts still to deliver: the fresh run goes straight on with them. */
  delivery?: CarriedPlan;
}

/** The input of a run: the message, and in a run continued as new what the earlier runs did. */
export interface MessageRunInput extends MessageWorkflowInput {
  continued?: Carried;
}

/** How a text message's one step runs, and that step at the end of a burst window (by `modelStep`). */
export interface AnswerStep {
  answer: (input: MessageWorkflowInput) => Promise<Answer>;
  inBurst: (input: MessageWorkflowInput & { snapshot: ChannelSnapshot }) => Promise<AnswerAfterBurst>;
}

/**
 * Ends the message: its outcome recorded and its turn handed on. `events`: where a failure is
 * reported (the snapshot's events URL); `answeredBy`: the message whose reply answers this one
 * (coalesced or superseded).
 */
export type Close = (
  status: FinalStatus,
  partsDelivered: number,
  reason?: string,
  extra?: { events?: FailureEvents | undefined; answeredBy?: string },
) => Promise<MessageResult>;

/** One run of a message's workflow: what every step of it shares. */
export interface MessageRun {
  input: MessageRunInput;
  progress: MessageProgress;
  /** Moves the progress to a stage (and reports it). */
  enter(stage: MessageStage): void;
  /** The message's place in its chat's line; a long wait for it continues the workflow as new. */
  turn: ReturnType<typeof chatLineTurn>;
  /** What this run has done that a fresh run must not do again (kept up to date by the steps). */
  carried: Carried;
  /** How a long pause of the channel goes on in a fresh run, with the parts still to deliver. */
  pausedWait: NonNullable<DeliveryPlan['longWait']>;
  answerStep: AnswerStep;
  close: Close;
}

/** Starts a run: its progress (and the query that reads it), its turn, and how it ends. */
function startRun(input: MessageRunInput): MessageRun {
  const { messageId, chatId, lineSeq } = input;
  const progress = startProgress(messageId, 'accepted');
  setHandler(progressQuery, () => progress);
  const carried: Carried = { ...input.continued };
  // A long wait for the turn continues the workflow as new (src/chat-line/wait.ts) with what this
  // run has done; the memo (its place) goes along.
  const turn = chatLineTurn(chatId, lineSeq, {
    continueAsNew: () => continueWithMemo<typeof messageWorkflow>({ ...input, continued: carried }),
  });
  const close: Close = async (status, partsDelivered, reason, extra = {}) => {
    const { events, answeredBy } = extra;
    enterStage(progress, status);
    if (reason !== undefined) progress.reason = reason;
    const absorbed = answeredBy !== undefined ? { answeredBy } : {};
    await closeMessage({
      messageId,
      chatId,
      lineSeq,
      // Known from a read of the stored line; when not known, closing reads it (a message that
      // never got its turn voids its place rather than passing the turn over an earlier one).
      ...(turn.held ? { turnHeld: true } : {}),
      status,
      partsDelivered,
      ...(reason !== undefined ? { reason } : {}),
      ...(events !== undefined ? { events } : {}),
      ...absorbed,
    });
    return { status, partsDelivered, ...(reason !== undefined ? { reason } : {}), ...absorbed };
  };
  return {
    input,
    progress,
    enter: (stage) => enterStage(progress, stage),
    turn,
    carried,
    pausedWait: {
      continueAsNew: (rest) => continueWithMemo<typeof messageWorkflow>({ ...input, continued: { delivery: rest } }),
    },
    answerStep:
      input.modelStep === 'activity'
        ? { answer: answerMessage, inBurst: answerInBurst }
        : { answer: answerMessageLocally, inBurst: answerInBurstLocally },
    close,
  };
}
