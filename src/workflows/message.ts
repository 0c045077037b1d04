import { ActivityFailure, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { Activities, DeliveryResult } from '../activities/index.js';
import { nonRetryableErrorTypes } from '../domain/errors.js';
import type { ChannelSnapshot, InboundEnvelope, MessageStage } from '../domain/models.js';
import { workflowNow } from './clock.js';
import { progressQuery, type MessageProgress } from './definitions.js';

/** Database-only steps: short, and retried until MongoDB answers, so an accepted message is never dropped. */
const store = proxyActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes },
});

/** Model calls: retried a few times for overload and outages, then the fallback reply is used. */
const model = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes },
});

/**
 * One HTTP attempt per activity: the workflow owns the retry schedule (and Retry-After), so an
 * activity retry only covers our own failures (MongoDB down), never the receiver's answers.
 */
const delivery = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes },
});

export interface MessageResult {
  status: 'delivered' | 'failed' | 'not_answered';
  reason?: string;
  partsDelivered: number;
}

/** Why an activity failed, in words fit for the message record. */
function failureReason(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause) return error.cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** Handles one inbound message from acceptance to the last part delivered (or a recorded failure). */
export async function messageWorkflow(envelope: InboundEnvelope): Promise<MessageResult> {
  const { messageId } = envelope;
  const progress: MessageProgress = { messageId, stage: 'accepted' };
  setHandler(progressQuery, () => progress);
  const enter = (stage: MessageStage): void => {
    progress.stage = stage;
  };

  enter('validating');
  const validation = await store.validateChannel(envelope);
  if (!validation.ok) {
    // Nothing is answered, but the message is kept: in the chat history when the assistant is off.
    if (validation.outcome === 'not_answered') {
      await store.upsertChat(envelope);
      await store.addUserMessage({ messageId });
    }
    progress.reason = validation.reason;
    enter(validation.outcome);
    await store.finishMessage({ messageId, status: validation.outcome, reason: validation.reason });
    return { status: validation.outcome, reason: validation.reason, partsDelivered: 0 };
  }
  const snapshot = validation.snapshot;
  await store.upsertChat(envelope);

  // A reason set here means the user gets the agent's fallback reply and the message is recorded as failed.
  let failure: string | undefined;

  if (envelope.message.audio !== undefined) {
    enter('transcribing');
    try {
      await model.transcribe({ messageId, agentId: snapshot.agentId });
    } catch (error) {
      // With typed text as well, the message is still answered from the text alone.
      if (envelope.message.text === undefined) failure = failureReason(error);
    }
  }
  await store.addUserMessage({ messageId, agentId: snapshot.agentId });

  if (failure === undefined) {
    enter('generating');
    try {
      await model.generateReply({ messageId, agentId: snapshot.agentId });
    } catch (error) {
      failure = failureReason(error);
    }
  }
  if (failure !== undefined) {
    progress.reason = failure;
    await store.storeFallbackReply({ messageId, agentId: snapshot.agentId, reason: failure });
  }

  enter('preparing');
  const { partCount } = await store.prepareParts({ messageId, maxMessageLength: snapshot.maxMessageLength });
  progress.partCount = partCount;

  if (wantsVoice(snapshot, envelope)) {
    enter('synthesizing');
    for (let index = 0; index < partCount; index++) {
      try {
        await model.synthesizeSpeech({ messageId, partIndex: index, agentId: snapshot.agentId });
      } catch {
        // The text still goes out without audio; the failure is in the activity's history.
      }
    }
  }

  if (snapshot.replyDelaySeconds > 0) {
    enter('waiting_reply_delay');
    await store.setStage({ messageId, stage: 'waiting_reply_delay' });
    await sleep(snapshot.replyDelaySeconds * 1000);
  }

  const delivered = await deliverParts(messageId, partCount, snapshot, progress);
  if (delivered.error !== undefined) failure = failure ?? delivered.error;
  const status = failure === undefined && delivered.count === partCount ? 'delivered' : 'failed';
  enter(status);
  if (failure !== undefined) progress.reason = failure;
  await store.finishMessage({ messageId, status, ...(failure !== undefined ? { reason: failure } : {}) });
  return { status, partsDelivered: delivered.count, ...(failure !== undefined ? { reason: failure } : {}) };
}

function wantsVoice(snapshot: ChannelSnapshot, envelope: InboundEnvelope): boolean {
  return snapshot.voiceReplies === 'always' || (snapshot.voiceReplies === 'when_user_sent_voice' && envelope.message.audio !== undefined);
}

/**
 * Delivers parts in order: part k+1 only after part k succeeded. Retries follow the snapshot's
 * schedule, stretched by Retry-After; a final answer or an exhausted schedule stops the reply there.
 */
async function deliverParts(
  messageId: string,
  partCount: number,
  snapshot: ChannelSnapshot,
  progress: MessageProgress,
): Promise<{ count: number; error?: string }> {
  const schedule = snapshot.retryScheduleSeconds;
  for (let partIndex = 0; partIndex < partCount; partIndex++) {
    progress.partIndex = partIndex;
    for (let attempt = 1; ; attempt++) {
      progress.stage = 'delivering';
      progress.attempt = attempt;
      const result: DeliveryResult = await delivery.deliverPart({ messageId, partIndex, attempt });
      if (result.outcome === 'delivered') {
        delete progress.nextRetryAt;
        delete progress.lastError;
        break;
      }
      progress.lastError = result.error ?? result.outcome;
      if (result.outcome !== 'retry') return { count: partIndex, error: `part ${partIndex + 1} of ${partCount}: ${progress.lastError}` };
      const wait = schedule[attempt - 1];
      if (wait === undefined) {
        return { count: partIndex, error: `part ${partIndex + 1} of ${partCount}: retries exhausted after ${attempt} attempts (${progress.lastError})` };
      }
      const waitMs = Math.max(wait, result.retryAfterSeconds ?? 0) * 1000;
      const nextRetryAt = new Date(workflowNow() + waitMs).toISOString();
      progress.stage = 'retry_pending';
      progress.nextRetryAt = nextRetryAt;
      await store.setStage({ messageId, stage: 'retry_pending', nextRetryAt, lastError: progress.lastError });
      await sleep(waitMs);
    }
  }
  return { count: partCount };
}
