import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOverview, OVERVIEW_REUSE_FACTOR } from '../../src/api/overview.js';
import type { Stores } from '../../src/stores/index.js';

/** Dashboard reads that take `cost` of the fake clock each, and count their calls. */
function fakeReads(clock: { now: number }, cost: number, fail = { next: false }) {
  let calls = 0;
  const dashboard: Pick<Stores['dashboard'], 'activitySince' | 'channelsOfMessages' | 'pausedChannels' | 'pageIds'> = {
    async activitySince() {
      calls += 1;
      await Promise.resolve();
      clock.now += cost;
      if (fail.next) {
        fail.next = false;
        throw new Error('the database went away');
      }
      return { messages: [], outcomes: [], attempts: [] };
    },
    channelsOfMessages: async () => new Map(),
    pausedChannels: async () => [],
    pageIds: async () => new Map(),
  };
  return { stores: { dashboard: dashboard as Stores['dashboard'] }, calls: () => calls };
}

test('callers at the same time share one computation of the overview', async () => {
  const clock = { now: 0 };
  const reads = fakeReads(clock, 10);
  const overview = createOverview({ stores: reads.stores, clock: () => clock.now });
  const [a, b, c] = await Promise.all([overview.summary(), overview.summary(), overview.summary()]);
  assert.equal(reads.calls(), 1);
  assert.equal(a, b);
  assert.equal(b, c);
});

test('a summary is reused for a multiple of what it cost, then computed afresh', async () => {
  const clock = { now: 1_000 };
  const reads = fakeReads(clock, 200);
  const overview = createOverview({ stores: reads.stores, clock: () => clock.now });
  await overview.summary();
  clock.now += 200 * OVERVIEW_REUSE_FACTOR - 1;
  await overview.summary();
  assert.equal(reads.calls(), 1, 'still within the reuse window');
  clock.now += 1;
  await overview.summary();
  assert.equal(reads.calls(), 2, 'past it');
});

test('a failed computation is not reused, and an explicit time always computes', async () => {
  const clock = { now: 0 };
  const fail = { next: true };
  const reads = fakeReads(clock, 5, fail);
  const overview = createOverview({ stores: reads.stores, clock: () => clock.now });
  await assert.rejects(overview.summary(), /went away/);
  await overview.summary();
  assert.equal(reads.calls(), 2);
  await overview.summary(new Date());
  assert.equal(reads.calls(), 3);
});
