import { ActivityFailure, ApplicationFailure, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { Activities } from '../../activities/v1/index.js';
import { ErrorType, nonRetryableErrorTypes } from '../../domain/errors.js';
import type { ChannelSnapshot, InboundEnvelope, MessageStage } from '../../domain/models.js';
import { progressQuery, type MessageProgress } from './definitions.js';
import { deliverParts, store } from './delivery.js';
import { chatTurn } from './turns.js';

/** Failures that end generation with the fallback reply; any other is ours and is tried again. */
const modelFailureTypes: string[] = [ErrorType.ModelUnavailable, ErrorType.ModelRejected, ErrorType.ChannelGone];

/** Model calls: retried a few times for overload and outages, then the fallback reply is used. */
const model = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  // Heartbeats (src/activities/heartbeat.ts): a call whose worker died, or whose result was lost
  // while Temporal was away, is retried after this rather than after the start-to-close timeout.
  heartbeatTimeout: '10 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
    nonRetryableErrorTypes,
  },
});

export interface MessageResult {
  status: 'delivered' | 'failed' | 'not_answered';
  reason?: string;
  partsDelivered: number;
}

/** A failure of the model or of the user's input, as opposed to one of our own infrastructure. */
function isModelFailure(error: unknown): boolean {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  return (
    cause instanceof ApplicationFailure &&
    cause.type !== null &&
    cause.type !== undefined &&
    modelFailureTypes.includes(cause.type)
  );
}

/** Why an activity failed, in words fit for the message record. */
function failureReason(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause) return error.cause.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Handles one inbound message from acceptance to the last part delivered (or a recorded failure).
 * Steps that only concern this message (acceptance, transcription) run at once; the steps that
 * touch the chat's history and its receiver run in the chat's turn, one message at a time.
 */
export async function messageWorkflow(envelope: InboundEnvelope): Promise<MessageResult> {
  const { messageId } = envelope;
  const progress: MessageProgress = { messageId, stage: 'accepted' };
  setHandler(progressQuery, () => progress);
  const turn = chatTurn(envelope.chatId, messageId);
  try {
    return await handleMessage(envelope, progress, turn);
  } finally {
    await turn.release();
  }
}

async function handleMessage(
  envelope: InboundEnvelope,
  progress: MessageProgress,
  turn: ReturnType<typeof chatTurn>,
): Promise<MessageResult> {
  const { messageId } = envelope;
  const enter = (stage: MessageStage): void => {
    progress.stage = stage;
  };
  enter('validating');
  const accepted = await store.acceptMessage(envelope);
  if (!accepted.ok) {
    // Nothing is answered, but the message is kept: in the chat history when the assistant is off.
    if (accepted.outcome === 'not_answered') {
      enter('waiting_turn');
      await turn.wait();
      await store.addUserMessage({ messageId });
    }
    progress.reason = accepted.reason;
    enter(accepted.outcome);
    await store.finishMessage({ messageId, status: accepted.outcome, reason: accepted.reason, partsDelivered: 0 });
    return { status: accepted.outcome, reason: accepted.reason, partsDelivered: 0 };
  }
  const snapshot = accepted.snapshot;

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

  enter('waiting_turn');
  await turn.wait();

  const replyInput = {
    messageId,
    agentId: snapshot.agentId,
    voicePrefix: snapshot.voicePrefix,
    maxMessageLength: snapshot.maxMessageLength,
  };
  let partCount: number | undefined;
  if (failure === undefined) {
    enter('generating');
    // The model's retry budget is for the model: when the attempts ran out on our own store
    // (MongoDB away for a while), go again instead of answering with the fallback.
    for (;;) {
      try {
        ({ partCount } = await model.generateReply(replyInput));
      } catch (error) {
        if (!isModelFailure(error)) continue;
        failure = failureReason(error);
      }
      break;
    }
  }
  if (partCount === undefined) {
    progress.reason = failure;
    ({ partCount } = await store.storeFallbackReply({ ...replyInput, reason: failure ?? 'no reply' }));
  }
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

  const delivered = await deliverParts(
    {
      messageId,
      channelId: snapshot.channelId,
      url: snapshot.replyWebhookUrl,
      partCount,
      fromPart: 0,
      retryScheduleSeconds: snapshot.retryScheduleSeconds,
    },
    progress,
  );
  if (delivered.error !== undefined) failure = failure ?? delivered.error;
  const status = failure === undefined && delivered.delivered === partCount ? 'delivered' : 'failed';
  enter(status);
  if (failure !== undefined) progress.reason = failure;
  await store.finishMessage({
    messageId,
    status,
    partsDelivered: delivered.delivered,
    ...(failure !== undefined ? { reason: failure } : {}),
  });
  return { status, partsDelivered: delivered.delivered, ...(failure !== undefined ? { reason: failure } : {}) };
}

function wantsVoice(snapshot: ChannelSnapshot, envelope: InboundEnvelope): boolean {
  return (
    snapshot.voiceReplies === 'always' ||
    (snapshot.voiceReplies === 'when_user_sent_voice' && envelope.message.audio !== undefined)
  );
}
