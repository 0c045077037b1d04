/** Remembers the result of `load(key)` for `ttlMs`; concurrent misses for one key share one load. */
export function ttlCache<V>(
  load: (key: string) => Promise<V>,
  options: { ttlMs: number; maxEntries?: number; now?: () => number },
) {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, { value: Promise<V>; expiresAt: number }>();
  return {
    /**
     * The value, from the cache while it lasts; with `fresh`, a cached value it rejects is loaded
     * again (for a caller that knows the value changed since it was cached).
     */
    async get(key: string, fresh?: (value: V) => boolean): Promise<V> {
      const hit = entries.get(key);
      if (hit && hit.expiresAt > now()) {
        if (!fresh) return hit.value;
        const value = await hit.value;
        if (fresh(value)) return value;
        if (entries.get(key) === hit) entries.delete(key);
        return this.get(key);
      }
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
