import { setHandler } from '@temporalio/workflow';
import type { Answer, AnswerAfterBurst } from '../../activities/index.js';
import type { ChannelSnapshot, FinalStatus, MessageStage, MessageWorkflowInput } from '../../domain/models.js';
import type { FailureEvents } from '../../domain/operational-events.js';
import {
  answerInBurst,
  answerInBurstLocally,
  answerMessage,
  answerMessageLocally,
  closeMessage,
} from '../activity-proxies.js';
import { progressQuery, type MessageProgress } from '../definitions.js';
import type { CarriedPlan, DeliveryPlan } from '../delivery.js';
import { chatLineTurn, continueWithMemo } from '../../chat-line/wait.js';
import { enterStage, startProgress } from '../progress.js';

export interface MessageResult {
  status: FinalStatus;
  reason?: string;
  partsDelivered: number;
  /** Coalesced or superseded: the message whose reply answers this one. */
  answeredBy?: string;
}

/** The message workflow's type, for continuing it as new. */
type MessageWorkflow = (input: MessageRunInput) => Promise<MessageResult>;

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
export function startRun(input: MessageRunInput): MessageRun {
  const { messageId, chatId, lineSeq } = input;
  const progress = startProgress(messageId, 'accepted');
  setHandler(progressQuery, () => progress);
  const carried: Carried = { ...input.continued };
  // A long wait for the turn continues the workflow as new (src/chat-line/wait.ts) with what this
  // run has done; the memo (its place) goes along.
  const turn = chatLineTurn(chatId, lineSeq, {
    continueAsNew: () => continueWithMemo<MessageWorkflow>({ ...input, continued: carried }),
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
      continueAsNew: (rest) => continueWithMemo<MessageWorkflow>({ ...input, continued: { delivery: rest } }),
    },
    answerStep:
      input.modelStep === 'activity'
        ? { answer: answerMessage, inBurst: answerInBurst }
        : { answer: answerMessageLocally, inBurst: answerInBurstLocally },
    close,
  };
}
