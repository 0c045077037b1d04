/** MongoDB driver errors that mean the database cannot be reached right now (not a bad request or a bug). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return (
    typeof name === 'string' &&
    /^Mongo(ServerSelection|Network|NetworkTimeout|TopologyClosed|NotConnected)Error$/.test(name)
  );
}

export interface PersistOptions {
  /** Give up (rethrow the last error) once this much time has passed. */
  withinMs: number;
  /** Stop at once when this aborts (the step was cancelled). */
  signal?: AbortSignal;
  /** The first pause between tries; it doubles, up to 2 s. */
  firstPauseMs?: number;
}

/**
 * Runs a write again while the database is unreachable, for a bounded time: for a write whose loss
 * costs more than the wait, such as the record of a POST already made (without it, the step's
 * retry would POST the part again). The write must be safe to repeat (an insert keyed by `_id`).
 */
export async function persistently<T>(write: () => Promise<T>, options: PersistOptions): Promise<T> {
  const giveUpAt = Date.now() + options.withinMs;
  let pauseMs = options.firstPauseMs ?? 250;
  for (;;) {
    try {
      return await write();
    } catch (error) {
      if (!isDatabaseUnavailable(error) || options.signal?.aborted || Date.now() + pauseMs > giveUpAt) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    pauseMs = Math.min(pauseMs * 2, 2_000);
  }
}
