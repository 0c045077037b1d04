import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSemaphore } from '../../src/lib/semaphore.js';

/** A task that runs until the test ends it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('createSemaphore', () => {
  test('lets at most `permits` tasks run at once, the others in arrival order', async () => {
    const semaphore = createSemaphore(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, index) =>
      semaphore.run(async () => {
        started.push(index);
        await g.opened;
        return index;
      }),
    );
    await Promise.resolve();
    assert.deepEqual(started, [0, 1]);
    assert.equal(semaphore.active, 2);
    assert.equal(semaphore.waiting, 2);
    gates[1]?.open();
    assert.equal(await runs[1], 1);
    assert.deepEqual(started, [0, 1, 2]);
    gates[0]?.open();
    gates[2]?.open();
    gates[3]?.open();
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
    assert.deepEqual(started, [0, 1, 2, 3]);
    assert.equal(semaphore.active, 0);
  });

  test('a failing task frees its permit', async () => {
    const semaphore = createSemaphore(1);
    await assert.rejects(
      semaphore.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await semaphore.run(() => Promise.resolve('next')), 'next');
  });

  test('a waiter whose signal aborts leaves the line and never runs', async () => {
    const semaphore = createSemaphore(1);
    const holder = gate();
    const first = semaphore.run(() => holder.opened);
    const controller = new AbortController();
    let ran = false;
    const waiter = semaphore.run(() => {
      ran = true;
      return Promise.resolve();
    }, controller.signal);
    assert.equal(semaphore.waiting, 1);
    controller.abort(new Error('activity cancelled'));
    await assert.rejects(waiter, /activity cancelled/);
    assert.equal(semaphore.waiting, 0);
    holder.open();
    await first;
    assert.equal(ran, false);
    assert.equal(semaphore.active, 0);
  });
});
