import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateLimiter } from '../../src/api/rate-limit.js';

test('a key gets its burst, then waits for tokens at the configured rate', () => {
  let now = 0;
  const limiter = createRateLimiter({ perMinute: 60, burst: 3, now: () => now });
  assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0]);
  assert.equal(limiter.take('a'), 1, 'one token a second: retry after 1 s');
  assert.equal(limiter.take('b'), 0, 'other keys are not affected');
  now += 1_000;
  assert.equal(limiter.take('a'), 0);
  assert.equal(limiter.take('a'), 1);
  now += 10_000;
  assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0, 1], 'refill is capped at the burst');
});

test('the wait grows with the deficit at slow rates, and 0 disables the limit', () => {
  const now = 0;
  const slow = createRateLimiter({ perMinute: 2, burst: 1, now: () => now });
  assert.equal(slow.take('k'), 0);
  assert.equal(slow.take('k'), 30);
  const off = createRateLimiter({ perMinute: 0 });
  for (let i = 0; i < 1000; i++) assert.equal(off.take('k'), 0);
});
