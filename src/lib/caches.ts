/** Two bounded in-memory caches, for per-process state that must never grow without a limit. */

/**
 * A map that holds at most `maxEntries` entries and, when full, forgets the one used least
 * recently. For per-key state fed by strangers (rate-limit buckets, caches of unknown ids): a flood
 * of new keys pushes out only keys nobody has used for a while, never the whole map at once.
 * (A JavaScript Map keeps insertion order, so re-inserting on use keeps the oldest first.)
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, marked as just used. */
  get(key: K): V | undefined {
    if (!this.entries.has(key)) return undefined;
    const value = this.entries.get(key) as V;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** The value, without marking it as used. */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  /** Whether the key is held, without marking it as used. */
  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Forgets every entry whose key `matches`. */
  deleteWhere(matches: (key: K) => boolean): void {
    for (const key of [...this.entries.keys()]) if (matches(key)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

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
