import { LruMap } from '../lib/caches.js';

/**
 * Token buckets keyed by string: each key may spend `burst` requests at once and regains
 * `perMinute` per minute. Per process: with N API processes a key gets up to N times the limit
 * (documented); that keeps the acknowledgement path free of shared-state round trips.
 */
export interface RateLimiter {
  /** Takes one token for `key`; returns 0 when allowed, else the seconds until one is available. */
  take(key: string): number;
  /** The seconds until `key` has a token (0: now), without taking one. */
  wait(key: string): number;
}

/**
 * Buckets are kept for at most `maxKeys` keys, least recently used first out. Forgetting a key
 * grants it a fresh burst, so only keys idle for a while must go: a key in use is never the least
 * recently used, and pushing an idle one out takes `maxKeys` other keys, which the limits above
 * this one (a channel's own rate, for end users) make slow. (Clearing every bucket when full, as
 * before, let one channel reset every limit by sending enough distinct client ids.)
 */
export function createRateLimiter(options: {
  perMinute: number;
  burst?: number;
  now?: () => number;
  maxKeys?: number;
}): RateLimiter {
  const now = options.now ?? Date.now;
  const ratePerMs = options.perMinute / 60_000;
  const burst = options.burst ?? Math.max(1, Math.ceil(options.perMinute / 6));
  const buckets = new LruMap<string, { tokens: number; at: number }>(options.maxKeys ?? 100_000);

  const refilled = (key: string): { tokens: number; at: number } => {
    const t = now();
    const bucket = buckets.get(key) ?? { tokens: burst, at: t };
    bucket.tokens = Math.min(burst, bucket.tokens + (t - bucket.at) * ratePerMs);
    bucket.at = t;
    return bucket;
  };
  const secondsUntilToken = (tokens: number): number =>
    tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / ratePerMs / 1000));

  return {
    take(key) {
      if (options.perMinute <= 0) return 0; // 0 disables the limit
      const bucket = refilled(key);
      buckets.set(key, bucket);
      if (bucket.tokens < 1) return secondsUntilToken(bucket.tokens);
      bucket.tokens -= 1;
      return 0;
    },
    wait(key) {
      if (options.perMinute <= 0 || !buckets.has(key)) return 0;
      return secondsUntilToken(refilled(key).tokens);
    },
  };
}
