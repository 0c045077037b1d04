import { ActivityFailure, ApplicationFailure, sleep } from '@temporalio/workflow';
import { ErrorType, fallbackErrorTypes } from '../../domain/errors.js';

/**
 * When generation fails for a reason of our own (MongoDB away longer than the activity's retries),
 * the workflow waits and tries again this many times, backing off, before it gives up and answers
 * with the fallback reply; about an hour in all.
 */
const GENERATION_ROUNDS = 7;
const generationBackoffMs = (round: number): number => Math.min(30_000 * 2 ** (round - 1), 15 * 60_000);

/**
 * The application failure behind an activity's failure: its cause for a regular activity; a local
 * activity's may come as the application failure itself.
 */
function applicationFailure(error: unknown): ApplicationFailure | undefined {
  if (error instanceof ApplicationFailure) return error;
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

/** The failure type behind an activity failure, if it has one. */
function failureType(error: unknown): string | undefined {
  return applicationFailure(error)?.type ?? undefined;
}

/** Why an activity failed, in words fit for the message record. */
export function failureReason(error: unknown): string {
  const cause = applicationFailure(error) ?? (error instanceof ActivityFailure ? error.cause : undefined);
  if (cause) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A model step, with the model's failures told apart from ours: the model's (after the activity's
 * retries) and a deleted agent end in the fallback reply; ours (MongoDB away for long) are tried
 * again after a wait, a bounded number of times; a missing record cannot heal and ends at once.
 */
export async function modelStep<T>(run: () => Promise<T>): Promise<{ result: T } | { failure: string }> {
  for (let round = 1; ; round++) {
    try {
      return { result: await run() };
    } catch (error) {
      const type = failureType(error);
      if (type !== undefined && fallbackErrorTypes.includes(type)) return { failure: failureReason(error) };
      if (type === ErrorType.MessageNotStored || round >= GENERATION_ROUNDS)
        return { failure: `the reply could not be generated: ${failureReason(error)}` };
      await sleep(generationBackoffMs(round));
    }
  }
}
