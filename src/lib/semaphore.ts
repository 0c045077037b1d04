/**
 * A counting semaphore for one process: at most `permits` holders at once, the others wait in
 * arrival order. Used to bound memory, e.g. voice notes held in memory while they are transcribed.
 */
export interface Semaphore {
  /**
   * Runs `task` once a permit is free, and frees it when `task` settles. A caller whose `signal`
   * aborts while it waits leaves the line (rejecting with the signal's reason) and never runs.
   */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Holders now (for tests and metrics). */
  readonly active: number;
  /** Callers waiting for a permit now. */
  readonly waiting: number;
}

export function createSemaphore(permits: number): Semaphore {
  if (!Number.isInteger(permits) || permits < 1)
    throw new RangeError(`permits must be a positive integer, not ${permits}`);
  let active = 0;
  const queue: Array<() => void> = [];

  const acquire = (signal: AbortSignal | undefined): Promise<void> => {
    signal?.throwIfAborted();
    if (active < permits) {
      active += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const granted = (): void => {
        signal?.removeEventListener('abort', abandon);
        resolve();
      };
      const abandon = (): void => {
        const at = queue.indexOf(granted);
        if (at >= 0) queue.splice(at, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted while waiting for a permit'));
      };
      signal?.addEventListener('abort', abandon, { once: true });
      queue.push(granted);
    });
  };

  const release = (): void => {
    // The permit goes straight to the next in line (active stays the same), so no newcomer overtakes it.
    const next = queue.shift();
    if (next) next();
    else active -= 1;
  };

  return {
    async run(task, signal) {
      await acquire(signal);
      try {
        return await task();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
  };
}
