/** How many documents each collection lost to an erasure or a retention run, by collection name. */
export type ErasureCounts = Record<string, number>;

/** Adds `from` into `into` (and returns it). */
export function addCounts(into: ErasureCounts, from: ErasureCounts): ErasureCounts {
  for (const [name, count] of Object.entries(from)) into[name] = (into[name] ?? 0) + count;
  return into;
}

export const DAY_MS = 86_400_000;

/**
 * A message older than the retention period is kept while its workflow still runs (retrying,
 * paused); this long past the period it is deleted anyway: no delivery waits that long.
 */
export const ABANDONED_AFTER_MS = 90 * DAY_MS;
