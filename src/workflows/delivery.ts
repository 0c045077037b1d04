import { condition, setHandler, sleep } from '@temporalio/workflow';
import type { Finish, SendPartResult } from '../activities/index.js';
import { checkChannelPaused, sendReplyPart } from './activity-proxies.js';
import { nextRetryWaitSeconds } from '../domain/retry-wait.js';
import { workflowNow } from './clock.js';
import { checksBeforeContinue, timeToContinue } from '../chat-line/wait.js';
import { resumeDeliverySignal, type MessageProgress } from './definitions.js';
import { enterStage } from './progress.js';

/** While paused, how often the channel is looked at again even without a resume signal. */
const PAUSED_RECHECK = '1 hour';

export interface DeliveryPlan {
  messageId: string;
  chatId: string;
  channelId: string;
  /** The snapshot's reply URL; a redelivery leaves it out (the channel's current URL is used). */
  url?: string;
  partCount: number;
  fromPart: number;
  /** The result of the first attempt of part `fromPart`, when the step that wrote the reply made it. */
  firstAttempt?: SendPartResult;
  retryScheduleSeconds: number[];
  /** Set for an admin's redelivery: its number, and the parts go to the channel's current URL. */
  redelivery?: number;
  /** Attempts already made of part `fromPart` (by an earlier run: attempt numbers go on from there). */
  attemptsMade?: number;
  /** Set when an earlier run left part `fromPart` waiting for its paused channel: this run waits first. */
  paused?: boolean;
  /** Whether the reply has speech to send with its parts. */
  withAudio: boolean;
  /**
   * Paced parts: milliseconds to wait (a durable timer) before the first attempt of each part, by
   * index; absent or 0 for no pause. A part already tried (by an earlier step or run) waits no more.
   */
  pausesMs?: number[];
  /** How the message ends if every part is delivered: recorded with the last part's delivery. */
  finish: Omit<Finish, 'partsDelivered'> & { partsBefore: number };
  /**
   * How a long pause goes on in a fresh run (after `checksBeforeContinue.pausedChannel` hourly
   * rechecks, src/chat-line/wait.ts): `continueAsNew` gets the plan for the parts still to deliver
   * (from the waiting part on, the parts delivered before it counted in `partsBefore`).
   */
  longWait?: { continueAsNew: (rest: CarriedPlan) => Promise<never> };
}

/** The part of a delivery plan a fresh run carries on with. */
export type CarriedPlan = Omit<DeliveryPlan, 'firstAttempt' | 'longWait'>;

export interface DeliveryOutcome {
  delivered: number;
  error?: string;
  /** True when the last part's delivery also recorded the end and released the chat's turn. */
  finished: boolean;
}

/**
 * Delivers parts in order: part k+1 only after part k succeeded. Retries follow the schedule,
 * stretched by Retry-After (an hour at most, and never past the schedule's total); a final answer
 * or an exhausted schedule stops the reply there. When the channel is paused (a 410 Gone), the
 * part waits, in order, until an admin resumes the channel.
 */
export async function deliverParts(plan: DeliveryPlan, progress: MessageProgress): Promise<DeliveryOutcome> {
  let resumed = false;
  setHandler(resumeDeliverySignal, () => {
    resumed = true;
  });
  const { messageId, partCount, retryScheduleSeconds: schedule } = plan;
  let delivered = 0;
  let made = plan.firstAttempt;

  /** Waits for the admin's resume; re-checks now and then in case the signal raced with parking. */
  async function waitForResume(partIndex: number, attempt: number): Promise<void> {
    enterStage(progress, 'paused');
    delete progress.nextRetryAt;
    resumed = false;
    for (let check = 0; await checkChannelPaused({ channelId: plan.channelId }); check++) {
      const { longWait, firstAttempt: _sent, ...rest } = plan;
      if (longWait && timeToContinue(check, checksBeforeContinue.pausedChannel))
        await longWait.continueAsNew({
          ...rest,
          fromPart: partIndex,
          attemptsMade: attempt,
          paused: true,
          finish: { ...plan.finish, partsBefore: plan.finish.partsBefore + delivered },
        });
      await condition(() => resumed, PAUSED_RECHECK);
      resumed = false;
    }
  }

  // A fresh run of a paused delivery goes on waiting before it sends anything.
  let pausedAtStart = plan.paused === true;
  for (let partIndex = plan.fromPart; partIndex < partCount; partIndex++) {
    progress.partIndex = partIndex;
    const last = partIndex === partCount - 1;
    let attempt = partIndex === plan.fromPart ? (plan.attemptsMade ?? 0) : 0;
    let retriesUsed = 0;
    /** The retry waits made for this part so far: together they stay within the schedule's total. */
    let waitedSeconds = 0;
    const pauseMs = plan.pausesMs?.[partIndex] ?? 0;
    if (pauseMs > 0 && attempt === 0 && made === undefined && !pausedAtStart) {
      enterStage(progress, 'delivering');
      await sleep(pauseMs);
    }
    for (;;) {
      if (pausedAtStart) {
        pausedAtStart = false;
        await waitForResume(partIndex, attempt);
      }
      attempt += 1;
      enterStage(progress, 'delivering');
      progress.attempt = attempt;
      const retryWaitSeconds = schedule[retriesUsed];
      const { partsBefore, ...finish } = plan.finish;
      const result: SendPartResult =
        made ??
        (await sendReplyPart({
          messageId,
          chatId: plan.chatId,
          channelId: plan.channelId,
          partIndex,
          partCount,
          attempt,
          ...(plan.url !== undefined ? { url: plan.url } : {}),
          ...(plan.redelivery !== undefined ? { redelivery: plan.redelivery } : {}),
          ...(plan.withAudio ? { withAudio: true } : {}),
          ...(retryWaitSeconds !== undefined ? { retryWaitSeconds } : {}),
          ...(last ? { finish: { ...finish, partsDelivered: partsBefore + delivered + 1 } } : {}),
        }));
      made = undefined;
      if (result.outcome === 'delivered') {
        delete progress.nextRetryAt;
        delete progress.lastError;
        delivered += 1;
        if (last) return { delivered, finished: true };
        break;
      }
      progress.lastError = result.error ?? result.outcome;
      if (result.outcome === 'gone' || result.outcome === 'paused') {
        await waitForResume(partIndex, attempt);
        retriesUsed = 0;
        waitedSeconds = 0;
        continue;
      }
      if (result.outcome !== 'retry')
        return { delivered, finished: false, error: `part ${partIndex + 1} of ${partCount}: ${progress.lastError}` };
      // Bounded here too, not only where the header is parsed: whatever an activity (of any build)
      // returns, the wait stays within an hour's stretch and the schedule's total, and the date below
      // never overflows (a receiver's 99999999999999 once made it throw and fail the message).
      const waitSeconds =
        retryWaitSeconds === undefined || result.retryInSeconds === undefined
          ? undefined
          : nextRetryWaitSeconds(schedule, retriesUsed, waitedSeconds, result.retryInSeconds);
      if (waitSeconds === undefined) {
        return {
          delivered,
          finished: false,
          error: `part ${partIndex + 1} of ${partCount}: retries exhausted after ${retriesUsed + 1} attempts (${progress.lastError})`,
        };
      }
      retriesUsed += 1;
      waitedSeconds += waitSeconds;
      enterStage(progress, 'retry_pending');
      progress.nextRetryAt = new Date(workflowNow() + waitSeconds * 1000).toISOString();
      await sleep(waitSeconds * 1000);
    }
  }
  return { delivered, finished: false };
}
