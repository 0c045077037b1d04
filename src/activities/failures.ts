import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ErrorType } from '../domain/errors.js';

/**
 * The failures activities raise for a record that is not there, each typed with what happened
 * (src/domain/errors.ts), so that the workflow's branches and retry policies tell them apart from
 * the model's failures and from ours (MongoDB away), which are retried. None heals by retrying.
 */

const gone = (type: ErrorType, message: string): ApplicationFailure =>
  ApplicationFailure.create({ type, message, nonRetryable: true });

/** The message's record is missing (deleted by hand, or another database). */
export const messageNotStored = (messageId: string) =>
  gone(ErrorType.MessageNotStored, `message ${messageId} is not stored`);

/** The channel's agent was deleted while the message was being answered. */
export const agentGone = (agentId: string) => gone(ErrorType.AgentGone, `agent ${agentId} no longer exists`);

/** A part of the message's reply is not stored (none of them when `partIndex` is not given). */
export const replyPartMissing = (messageId: string, partIndex?: number) =>
  gone(
    ErrorType.ReplyPartMissing,
    partIndex === undefined
      ? `the reply to ${messageId} is not stored`
      : `part ${partIndex + 1} of the reply to ${messageId} is not stored`,
  );

/**
 * The step was cancelled (a local activity past its start-to-close timeout, whose retry may be
 * running already): it stops where it is, recording nothing more, with the SDK's own cancellation.
 */
export const stepCancelled = (signal: AbortSignal): CancelledFailure =>
  signal.reason instanceof CancelledFailure
    ? signal.reason
    : new CancelledFailure(`the step was cancelled: ${String(signal.reason)}`);
