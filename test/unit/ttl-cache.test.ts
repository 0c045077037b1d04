import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ttlCache } from '../../src/lib/ttl-cache.js';

/** A cache over a store whose value the test changes, counting the loads. */
function cacheOver(initial: { version: number }) {
  let stored = initial;
  let loads = 0;
  let clock = 0;
  const cache = ttlCache(
    async () => {
      loads++;
      return stored;
    },
    { ttlMs: 1_000, now: () => clock },
  );
  return {
    cache,
    set: (value: { version: number }) => (stored = value),
    loads: () => loads,
    advance: (ms: number) => (clock += ms),
  };
}

test('a cached value serves later reads until it expires', async () => {
  const c = cacheOver({ version: 1 });
  assert.equal((await c.cache.get('k')).version, 1);
  c.set({ version: 2 });
  assert.equal((await c.cache.get('k')).version, 1, 'still cached');
  assert.equal(c.loads(), 1);
  c.advance(1_001);
  assert.equal((await c.cache.get('k')).version, 2, 'expired, loaded again');
  assert.equal(c.loads(), 2);
});

test('a caller that knows of a newer value than the cached one gets it loaded again', async () => {
  const c = cacheOver({ version: 1 });
  await c.cache.get('k');
  c.set({ version: 2 });
  const atLeast = (version: number) => (value: { version: number }) => value.version >= version;
  assert.equal((await c.cache.get('k', atLeast(1))).version, 1, 'fresh enough: no load');
  assert.equal(c.loads(), 1);
  assert.equal((await c.cache.get('k', atLeast(2))).version, 2, 'too old: loaded again');
  assert.equal(c.loads(), 2);
  assert.equal((await c.cache.get('k', atLeast(2))).version, 2, 'the new value is cached');
  assert.equal(c.loads(), 2);
});
