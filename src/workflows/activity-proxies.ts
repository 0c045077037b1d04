/**
 * Every activity the workflows call, each under the one policy that governs it: a policy is
 * declared once with the activities it applies to beside it, so none can be called under another.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { nonRetryableErrorTypes } from '../domain/errors.js';
import { ANSWER_STEP_TIMEOUT_MS } from '../domain/reply-plan.js';

/**
 * MongoDB-only steps: short, run as local activities (no task queue round trip, one history event
 * each), and retried until MongoDB answers, so an accepted message is never dropped.
 */
export const {
  admitMessage,
  recordUnansweredMessage,
  composeFallbackReply,
  checkChatTurn,
  checkChannelPaused,
  closeMessage,
  applyChatControl,
  dropStaleReply,
} = proxyLocalActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes },
});

/**
 * One POST of one reply part, bounded by DELIVERY_TIMEOUT_MS, as a local activity: the workflow
 * owns the retry schedule (and Retry-After) with durable timers, so a retry here only covers our
 * own failures (MongoDB away), never the receiver's answers.
 */
export const { sendReplyPart } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes },
});

/** The retry policy of every model call: a few tries for overload and outages, then the workflow decides. */
const modelRetry = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 5,
  nonRetryableErrorTypes,
};

/**
 * Model calls: regular activities (they may take long and must survive a worker's death), retried
 * a few times for overload and outages; then the workflow decides (fallback reply, text only).
 * `answerMessage` is a text message's whole common case in one step: admission, the model call,
 * and the first delivery attempts when nothing (a delay, speech) comes between.
 */
export const { answerMessage, answerInBurst, composeReply, transcribeVoiceMessage, speakReply } =
  proxyActivities<Activities>({
    startToCloseTimeout: ANSWER_STEP_TIMEOUT_MS,
    // Heartbeats (src/activities/heartbeat.ts): a call whose worker died, or whose result was lost
    // while Temporal was away, is retried after this rather than after the start-to-close timeout.
    heartbeatTimeout: '10 seconds',
    retry: modelRetry,
  });

/**
 * The same one step of a text message (and of one at the end of its burst window) as a local
 * activity (`modelStep: 'local'`, the default): it runs within the workflow task that starts the
 * workflow, so a message is one workflow task and 7 history events instead of 2 and 12
 * (docs/architecture.md). Its result is durable once that task
 * completes; a worker that dies before runs it again on replay, as a retried activity would (every
 * part of it is safe to repeat). A call longer than 80% of the workflow task timeout keeps the task
 * open with a workflow task heartbeat (3 events each), and the task holds one of the worker's
 * workflow task slots meanwhile: for models that answer in more than a few seconds, the regular
 * activity above (`modelStep: 'activity'`, from `MODEL_STEP=activity`) is the better fit.
 */
export const { answerMessage: answerMessageLocally, answerInBurst: answerInBurstLocally } =
  proxyLocalActivities<Activities>({
    // The step bounds its own deliveries by ANSWER_STEP_BUDGET_MS, well within this (src/activities/answer.ts).
    startToCloseTimeout: ANSWER_STEP_TIMEOUT_MS,
    retry: modelRetry,
  });
