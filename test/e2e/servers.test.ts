import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { bundle, createTimeSkippingEnv } from '../helpers/temporal.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

describe('provisioned servers', () => {
  let env: TestWorkflowEnvironment;
  let mongo: TestMongo;

  before(async () => {
    [env, mongo] = await Promise.all([createTimeSkippingEnv(), startTestMongo()]);
  });
  after(async () => {
    await Promise.all([env?.teardown(), mongo?.close()]);
  });

  test('the time-skipping server runs a one-hour timer without waiting an hour', async () => {
    const workflowBundle = await bundle(fileURLToPath(new URL('../fixtures/workflows/timer.ts', import.meta.url)));
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: 'timer', workflowBundle });
    const startedAt = Date.now();
    const result: unknown = await worker.runUntil(
      env.client.workflow.execute('hourTimerWorkflow', { taskQueue: 'timer', workflowId: 'timer-1' }),
    );
    assert.equal(result, 'woke up');
    // An hour of workflow time passed in (much) less than a minute of real time.
    assert.ok(Date.now() - startedAt < 60_000);
  });

  test('the MongoDB-compatible server takes a write and a read through the official driver', async () => {
    const things = mongo.db.collection<{ _id: string; n: number; tags: string[] }>('things');
    await things.insertOne({ _id: 'a', n: 1, tags: ['x'] });
    await things.updateOne({ _id: 'a' }, { $inc: { n: 41 }, $push: { tags: 'y' } });
    assert.deepEqual(await things.findOne({ _id: 'a' }), { _id: 'a', n: 42, tags: ['x', 'y'] });
  });
});
