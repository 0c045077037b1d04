/**
 * How long a delivery waits before its next attempt (replies, the interim part, operational
 * events). Pure code: the activity that parses a receiver's `Retry-After` and the workflows that
 * turn a wait into a timer and a date both use it, so that no receiver can hold a chat for years
 * nor make a workflow compute a date past what `Date` can hold (issue 23, item 10).
 */

/** The longest a receiver's `Retry-After` is honoured: an hour (a longer one counts as an hour). */
export const MAX_RETRY_AFTER_SECONDS = 3_600;

/**
 * A receiver's `Retry-After`, in seconds, as honoured: at most `MAX_RETRY_AFTER_SECONDS`; anything
 * that is not a finite number of seconds from now counts as no header at all.
 */
export function capRetryAfter(seconds: number | undefined): number | undefined {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return undefined;
  return Math.min(seconds, MAX_RETRY_AFTER_SECONDS);
}

/** The time the whole schedule takes, as documented (27.6 h with the default schedule). */
export function scheduleTotalSeconds(schedule: readonly number[]): number {
  return schedule.reduce((sum, step) => sum + step, 0);
}

/**
 * The wait before retry number `retriesUsed + 1`: the schedule's step, stretched by the wait the
 * receiver asked for (capped as above), and never past the schedule's total once the waits already
 * made (`waitedSeconds`) are counted; undefined when the schedule is over (no step left, or its
 * total spent by earlier stretched waits).
 */
export function nextRetryWaitSeconds(
  schedule: readonly number[],
  retriesUsed: number,
  waitedSeconds: number,
  askedSeconds: number | undefined,
): number | undefined {
  const step = schedule[retriesUsed];
  if (step === undefined) return undefined;
  const left = scheduleTotalSeconds(schedule) - waitedSeconds;
  if (left <= 0) return undefined;
  return Math.min(Math.max(step, capRetryAfter(askedSeconds) ?? 0), left);
}
