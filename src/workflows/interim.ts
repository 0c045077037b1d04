import { CancellationScope, condition, isCancellation, sleep } from '@temporalio/workflow';
import { INTERIM_PART } from '../domain/ids.js';
import type { ChannelSnapshot } from '../domain/models.js';
import { nextRetryWaitSeconds } from '../domain/retry-wait.js';
import { sendReplyPart } from './activity-proxies.js';

/** Where a message's "one moment" part goes, and what it says. */
export interface InterimPlan {
  messageId: string;
  chatId: string;
  snapshot: ChannelSnapshot;
  interim: NonNullable<ChannelSnapshot['interim']>;
}

/**
 * The model step raced against the agent's "one moment" timer (a durable timer): when the model
 * has answered first, the timer is cancelled and nothing more happens; otherwise the interim part
 * is delivered while the model goes on, and the reply waits for it, so that the chat reads "one
 * moment", then the reply. The caller holds the chat's turn, so no other reply comes between.
 */
export async function withInterim<T>(generation: Promise<T>, plan: InterimPlan): Promise<T> {
  let ready = false;
  const generated = generation.then(
    () => {
      ready = true;
    },
    () => {
      ready = true;
    },
  );
  const timer = new CancellationScope();
  const fired = timer
    .run(() => sleep(plan.interim.afterSeconds * 1000))
    .then(
      () => true,
      (error: unknown) => {
        if (isCancellation(error)) return false;
        throw error;
      },
    );
  const interimFirst = await Promise.race([generated.then(() => false), fired]);
  if (interimFirst) await deliverInterim(plan, () => ready);
  else timer.cancel();
  return generation;
}

/**
 * The interim part, on the reply's retry schedule (stretched by Retry-After) for as long as the
 * reply is not ready: once it is, an interim not yet delivered is moot and dropped. A final answer,
 * a paused channel or an exhausted schedule ends it too; the reply then goes its own way.
 */
async function deliverInterim(plan: InterimPlan, ready: () => boolean): Promise<void> {
  const { snapshot } = plan;
  let waitedSeconds = 0;
  for (let attempt = 1; !ready(); attempt++) {
    const retryWaitSeconds = snapshot.retryScheduleSeconds[attempt - 1];
    const result = await sendReplyPart({
      messageId: plan.messageId,
      chatId: plan.chatId,
      channelId: snapshot.channelId,
      url: snapshot.replyWebhookUrl,
      partIndex: INTERIM_PART,
      partCount: 0, // no part of the reply
      attempt,
      interim: plan.interim.text,
      ...(retryWaitSeconds !== undefined ? { retryWaitSeconds } : {}),
    });
    if (result.outcome !== 'retry' || result.retryInSeconds === undefined) return;
    // Bounded like the reply's retries (src/workflows/delivery.ts), whatever the activity returned.
    const waitSeconds = nextRetryWaitSeconds(
      snapshot.retryScheduleSeconds,
      attempt - 1,
      waitedSeconds,
      result.retryInSeconds,
    );
    if (waitSeconds === undefined) return;
    waitedSeconds += waitSeconds;
    await condition(ready, waitSeconds * 1000);
  }
}
