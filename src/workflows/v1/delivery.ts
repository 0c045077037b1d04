import { condition, proxyActivities, proxyLocalActivities, setHandler, sleep } from '@temporalio/workflow';
import type { Activities, DeliveryResult } from '../../activities/v1/index.js';
import { nonRetryableErrorTypes } from '../../domain/errors.js';
import { workflowNow } from '../clock.js';
import { resumeDeliverySignal, type MessageProgress } from './definitions.js';

/**
 * Database-only steps: short, run as local activities (no task queue round trip, one history event
 * each), and retried until MongoDB answers, so an accepted message is never dropped.
 */
export const store = proxyLocalActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes },
});

/**
 * One HTTP attempt per activity: the workflow owns the retry schedule (and Retry-After), so an
 * activity retry only covers our own failures (MongoDB down), never the receiver's answers.
 */
const delivery = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes },
});

/** While paused, how often the channel is looked at again even without a resume signal. */
const PAUSED_RECHECK = '1 hour';

export interface DeliveryPlan {
  messageId: string;
  channelId: string;
  /** The snapshot's reply URL; a redelivery leaves it out (the channel's current URL is used). */
  url?: string;
  partCount: number;
  fromPart: number;
  retryScheduleSeconds: number[];
  /** Set for an admin's redelivery: its number, and the parts go to the channel's current URL. */
  redelivery?: number;
}

/**
 * Delivers parts in order: part k+1 only after part k succeeded. Retries follow the schedule,
 * stretched by Retry-After; a final answer or an exhausted schedule stops the reply there. When the
 * channel is paused (a 410 Gone), the part waits, in order, until an admin resumes the channel.
 */
export async function deliverParts(
  plan: DeliveryPlan,
  progress: MessageProgress,
): Promise<{ delivered: number; error?: string }> {
  let resumed = false;
  setHandler(resumeDeliverySignal, () => {
    resumed = true;
  });
  const { messageId, partCount, retryScheduleSeconds: schedule } = plan;
  let delivered = 0;
  for (let partIndex = plan.fromPart; partIndex < partCount; partIndex++) {
    progress.partIndex = partIndex;
    let attempt = 0;
    let retriesUsed = 0;
    for (;;) {
      attempt += 1;
      progress.stage = 'delivering';
      progress.attempt = attempt;
      const result: DeliveryResult = await delivery.deliverPart({
        messageId,
        channelId: plan.channelId,
        partIndex,
        partCount,
        attempt,
        ...(plan.url !== undefined ? { url: plan.url } : {}),
        ...(plan.redelivery !== undefined ? { redelivery: plan.redelivery } : {}),
      });
      if (result.outcome === 'delivered') {
        delete progress.nextRetryAt;
        delete progress.lastError;
        delivered += 1;
        break;
      }
      progress.lastError = result.error ?? result.outcome;
      if (result.outcome === 'gone' || result.outcome === 'paused') {
        progress.stage = 'paused';
        delete progress.nextRetryAt;
        await store.setStage({ messageId, stage: 'paused', nextRetryAt: null, lastError: progress.lastError });
        resumed = false;
        // Wait for the admin's resume; re-check now and then in case the signal raced with parking.
        while (await store.isChannelPaused({ channelId: plan.channelId })) {
          await condition(() => resumed, PAUSED_RECHECK);
          resumed = false;
        }
        retriesUsed = 0;
        continue;
      }
      if (result.outcome !== 'retry')
        return { delivered, error: `part ${partIndex + 1} of ${partCount}: ${progress.lastError}` };
      const wait = schedule[retriesUsed];
      if (wait === undefined) {
        return {
          delivered,
          error: `part ${partIndex + 1} of ${partCount}: retries exhausted after ${retriesUsed + 1} attempts (${progress.lastError})`,
        };
      }
      retriesUsed += 1;
      const waitMs = Math.max(wait, result.retryAfterSeconds ?? 0) * 1000;
      const nextRetryAt = new Date(workflowNow() + waitMs).toISOString();
      progress.stage = 'retry_pending';
      progress.nextRetryAt = nextRetryAt;
      await store.setStage({ messageId, stage: 'retry_pending', nextRetryAt, lastError: progress.lastError });
      await sleep(waitMs);
    }
  }
  return { delivered };
}
