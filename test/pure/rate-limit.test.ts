import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateLimiter } from '../../src/api/rate-limit.js';
import { sourceKey } from '../../src/api/source-address.js';

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
  assert.deepEqual(
    [limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a')],
    [0, 0, 0, 1],
    'refill is capped at the burst',
  );
});

test('the wait grows with the deficit at slow rates, and 0 disables the limit', () => {
  const now = 0;
  const slow = createRateLimiter({ perMinute: 2, burst: 1, now: () => now });
  assert.equal(slow.take('k'), 0);
  assert.equal(slow.take('k'), 30);
  const off = createRateLimiter({ perMinute: 0 });
  for (let i = 0; i < 1000; i++) assert.equal(off.take('k'), 0);
});

test('a flood of new keys pushes out only idle keys: a key in use keeps its empty bucket', () => {
  const now = 0;
  const limiter = createRateLimiter({ perMinute: 60, burst: 1, now: () => now, maxKeys: 100 });
  assert.equal(limiter.take('abuser'), 0);
  // Enough other keys to fill the bound many times over (before: every bucket was cleared when it filled).
  for (let i = 0; i < 1_000; i++) {
    assert.equal(limiter.take(`client-${i}`), 0);
    assert.ok(limiter.take('abuser') > 0, `the abuser got a fresh burst after ${i + 1} other keys`);
  }
  // The oldest idle keys went; the recent ones are still limited.
  assert.equal(limiter.take('client-0'), 0, 'pushed out: a fresh bucket');
  assert.ok(limiter.take('client-999') > 0, 'still held: still empty');
});

test('wait tells the seconds until a token without taking one', () => {
  const now = 0;
  const limiter = createRateLimiter({ perMinute: 60, burst: 2, now: () => now });
  assert.equal(limiter.wait('k'), 0, 'an unseen key can go now');
  assert.equal(limiter.take('k'), 0);
  assert.equal(limiter.wait('k'), 0);
  assert.equal(limiter.wait('k'), 0, 'waiting does not spend');
  assert.equal(limiter.take('k'), 0);
  assert.equal(limiter.wait('k'), 1);
  assert.equal(createRateLimiter({ perMinute: 0 }).wait('k'), 0);
});

test('source addresses: IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64', () => {
  assert.equal(sourceKey('203.0.113.7'), '203.0.113.7');
  assert.equal(sourceKey('::ffff:203.0.113.7'), '203.0.113.7');
  assert.equal(sourceKey('2001:db8:0:1:aaaa:bbbb:cccc:dddd'), '2001:db8:0:1::/64');
  assert.equal(sourceKey('2001:DB8:0:1::2'), '2001:db8:0:1::/64', 'every address of a /64 is one source');
  assert.equal(sourceKey('2001:db8::1:2:3:4:5'), '2001:db8:0:1::/64', '"::" expands to the zeros it stands for');
  assert.equal(sourceKey('::1'), '0:0:0:0::/64');
  assert.equal(sourceKey(undefined), 'unknown');
});
