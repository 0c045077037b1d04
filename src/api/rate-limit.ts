/**
 * Token buckets keyed by string: each key may spend `burst` requests at once and regains
 * `perMinute` per minute. Per process: with N API processes a key gets up to N times the limit
 * (documented); that keeps the acknowledgement path free of shared-state round trips.
 */
export interface RateLimiter {
  /** Takes one token for `key`; returns 0 when allowed, else the seconds until one is available. */
  take(key: string): number;
}

export function createRateLimiter(options: { perMinute: number; burst?: number; now?: () => number; maxKeys?: number }): RateLimiter {
  const now = options.now ?? Date.now;
  const ratePerMs = options.perMinute / 60_000;
  const burst = options.burst ?? Math.max(1, Math.ceil(options.perMinute / 6));
  const maxKeys = options.maxKeys ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key) {
      if (options.perMinute <= 0) return 0; // 0 disables the limit
      const t = now();
      let bucket = buckets.get(key);
      if (!bucket) {
        if (buckets.size >= maxKeys) buckets.clear(); // bounded memory: forgetting grants a fresh burst
        bucket = { tokens: burst, at: t };
        buckets.set(key, bucket);
      } else {
        bucket.tokens = Math.min(burst, bucket.tokens + (t - bucket.at) * ratePerMs);
        bucket.at = t;
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000));
    },
  };
}
