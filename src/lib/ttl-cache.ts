/** Remembers the result of `load(key)` for `ttlMs`; concurrent misses for one key share one load. */
export function ttlCache<V>(
  load: (key: string) => Promise<V>,
  options: { ttlMs: number; maxEntries?: number; now?: () => number },
) {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, { value: Promise<V>; expiresAt: number }>();
  return {
    get(key: string): Promise<V> {
      const hit = entries.get(key);
      if (hit && hit.expiresAt > now()) return hit.value;
      if (entries.size >= maxEntries) entries.clear();
      const value = load(key);
      entries.set(key, { value, expiresAt: now() + options.ttlMs });
      value.catch(() => entries.delete(key)); // never cache a failure
      return value;
    },
    invalidate(key: string): void {
      entries.delete(key);
    },
  };
}
