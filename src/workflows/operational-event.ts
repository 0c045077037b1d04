import { proxyLocalActivities, sleep } from '@temporalio/workflow';
import type { EventActivities, EventAttemptResult } from '../activities/events.js';
import { nonRetryableErrorTypes } from '../domain/errors.js';
import type { OperationalEventInput } from '../domain/operational-events.js';
import { nextRetryWaitSeconds } from '../domain/retry-wait.js';

/**
 * One POST of the event, bounded by DELIVERY_TIMEOUT_MS, as a local activity (as a reply part's):
 * the workflow owns the retry schedule on durable timers, so a retry here only covers our own
 * failures (MongoDB away while the signing secret is read), never the receiver's answers.
 */
const { sendOperationalEvent } = proxyLocalActivities<EventActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes },
});

/** How an event's delivery ended, with every attempt's result (the workflow's result, for an operator). */
export interface OperationalEventResult {
  status: 'delivered' | 'failed';
  attempts: EventAttemptResult[];
  error?: string;
}

/**
 * Delivers one operational event to its channel's events URL: the same body and `webhook-id` on
 * every attempt, retried on the replies' schedule (stretched by Retry-After) with durable timers;
 * a 2xx ends it, and so does a final answer (4xx, 410) or the schedule's end.
 */
export async function operationalEventWorkflow(input: OperationalEventInput): Promise<OperationalEventResult> {
  const attempts: EventAttemptResult[] = [];
  let waitedSeconds = 0;
  for (let retriesUsed = 0; ; retriesUsed++) {
    const result = await sendOperationalEvent({ ...input, attempt: attempts.length + 1 });
    attempts.push(result);
    if (result.outcome === 'delivered') return { status: 'delivered', attempts };
    const error = result.error ?? result.outcome;
    if (result.outcome !== 'retry') return { status: 'failed', attempts, error };
    // The receiver's Retry-After capped, the schedule's total kept, as for replies (src/domain/retry-wait.ts).
    const waitSeconds = nextRetryWaitSeconds(
      input.retryScheduleSeconds,
      retriesUsed,
      waitedSeconds,
      result.retryAfterSeconds,
    );
    if (waitSeconds === undefined)
      return { status: 'failed', attempts, error: `retries exhausted after ${attempts.length} attempts (${error})` };
    waitedSeconds += waitSeconds;
    await sleep(waitSeconds * 1000);
  }
}
