/**
 * Issue 24, item 7: the workflow that deletes an erased user's workflow executions, on the
 * time-skipping server with its activity stubbed (the real one runs on the dev server in
 * test/e2e/erasure.test.ts). Runs still open are left alone and looked at again, then deleted
 * anyway once the gentle passes are spent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import type { EraseHistoriesInput, HistoryErasureActivities } from '../../src/activities/history-erasure.js';
import {
  HISTORY_ERASURE_BATCH,
  HISTORY_ERASURE_GENTLE_PASSES,
  type historyErasureWorkflow,
} from '../../src/workflows/history-erasure.js';
import { bundle, createTimeSkippingEnv, testDataConverter } from '../helpers/temporal.js';
import { recordHistory, workflowsPath } from '../helpers/workflow-harness.js';

describe('historyErasureWorkflow (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundle;
  before(async () => {
    [env, workflowBundle] = await Promise.all([
      createTimeSkippingEnv({ dataConverter: testDataConverter }),
      bundle(workflowsPath),
    ]);
  });
  after(async () => {
    await env?.teardown();
  });

  /** Runs the workflow once with `activity` as its deletion pass; the passes it was asked for. */
  async function run(
    workflowId: string,
    workflowIds: string[],
    stillOpen: (pass: EraseHistoriesInput, n: number) => string[],
  ) {
    const passes: EraseHistoriesInput[] = [];
    const activities: HistoryErasureActivities = {
      eraseWorkflowHistories: (input) => {
        passes.push(input);
        const running = stillOpen(input, passes.length);
        return Promise.resolve({ deleted: input.workflowIds.length - running.length, running });
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'history-erasure-test',
      workflowBundle,
      activities,
      dataConverter: testDataConverter,
    });
    const result = await worker.runUntil(
      env.client.workflow.execute<typeof historyErasureWorkflow>('historyErasureWorkflow', {
        workflowId,
        taskQueue: 'history-erasure-test',
        args: [{ workflowIds }],
      }),
    );
    return { passes, result };
  }

  test('deletes what is closed, and looks again at a run still closing until it is', async () => {
    const { passes, result } = await run('history-erasure', ['wf-a', 'wf-b'], (pass, n) =>
      n <= 2 ? pass.workflowIds.filter((id) => id === 'wf-b') : [],
    );
    assert.deepEqual(passes, [
      { workflowIds: ['wf-a', 'wf-b'], force: false },
      { workflowIds: ['wf-b'], force: false },
      { workflowIds: ['wf-b'], force: false },
    ]);
    assert.deepEqual(result, { deleted: 2 });
    await recordHistory('history-erasure', env.client.workflow.getHandle('history-erasure'));
  });

  test('many workflows go in batches, each pass taking the ones still open', async () => {
    const ids = Array.from({ length: HISTORY_ERASURE_BATCH * 2 + 1 }, (_, n) => `wf-${String(n).padStart(3, '0')}`);
    const { passes, result } = await run('history-erasure-many', ids, (pass, n) =>
      n === 1 ? pass.workflowIds.slice(0, 1) : [],
    );
    assert.deepEqual(
      passes.map((pass) => pass.workflowIds.length),
      [HISTORY_ERASURE_BATCH, HISTORY_ERASURE_BATCH, 1, 1],
    );
    assert.deepEqual(passes.at(-1)?.workflowIds, ['wf-000']);
    assert.deepEqual(result, { deleted: ids.length });
  });

  test('a run that never closes is deleted anyway (terminated) once the gentle passes are spent', async () => {
    const { passes, result } = await run('history-erasure-stuck', ['wf-stuck'], (pass) =>
      pass.force === true ? [] : pass.workflowIds,
    );
    assert.equal(passes.length, HISTORY_ERASURE_GENTLE_PASSES + 1);
    assert.ok(passes.slice(0, -1).every((pass) => pass.force === false));
    assert.deepEqual(passes.at(-1), { workflowIds: ['wf-stuck'], force: true });
    assert.deepEqual(result, { deleted: 1 });
  });
});
