import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { createBacklogEstimator, startLoadGate } from '../../src/api/load-gate.js';
import { temporalBacklogProbe, type BacklogReading } from '../../src/api/task-queue-backlog.js';
import { waitFor } from '../../src/lib/wait.js';

const empty: BacklogReading = { workflow: { count: 0, ageMs: 0 }, activity: { count: 0, ageMs: 0 } };
const reading = (workflow: [number, number], activity: [number, number] = [0, 0]): BacklogReading => ({
  workflow: { count: workflow[0], ageMs: workflow[1] },
  activity: { count: activity[0], ageMs: activity[1] },
});

describe('backlog estimate: Temporal refreshes its figures only every few seconds', () => {
  test('an unchanged reading of a queue that was not empty has aged since it was first seen', () => {
    let now = 10_000;
    const estimator = createBacklogEstimator({ staleAfterMs: 2_000, now: () => now });
    assert.equal(estimator.estimate(), undefined, 'no reading yet: unknown');
    estimator.record(reading([3, 400], [1, 100]));
    assert.deepEqual(estimator.estimate(), { workflow: 400, activity: 100 });
    now += 500;
    estimator.record(reading([3, 400], [1, 100])); // the server's cached figures, read again
    now += 500;
    assert.deepEqual(estimator.estimate(), { workflow: 1_400, activity: 1_100 }, 'both heads have waited 1 s more');
  });

  test('a new reading replaces the estimate; an empty queue has no age, whatever time passes', () => {
    let now = 0;
    const estimator = createBacklogEstimator({ staleAfterMs: 2_000, now: () => now });
    estimator.record(reading([5, 2_000]));
    now += 1_000;
    estimator.record(reading([2, 300])); // a worker took the old head: the new one is younger
    assert.equal(estimator.estimate()?.workflow, 300);
    estimator.record(empty);
    now += 1_500;
    assert.deepEqual(estimator.estimate(), { workflow: 0, activity: 0 });
  });

  test('a reading older than staleAfterMs counts no more: unknown', () => {
    let now = 0;
    const estimator = createBacklogEstimator({ staleAfterMs: 2_000, now: () => now });
    estimator.record(reading([5, 9_000]));
    now += 2_000;
    assert.equal(estimator.estimate()?.workflow, 11_000);
    now += 1;
    assert.equal(estimator.estimate(), undefined);
  });
});

describe('load gate', () => {
  /** A gate whose probe answers what the test sets, on a clock the test moves. */
  function gateUnderTest(options: { maxBacklogMs: number }) {
    const state: {
      now: number;
      next: BacklogReading | Error;
      reads: number;
      shed: number;
      reported: Array<Record<string, number>>;
    } = {
      now: 0,
      next: empty,
      reads: 0,
      shed: 0,
      reported: [],
    };
    const gate = startLoadGate({
      probe: async () => {
        state.reads += 1;
        if (state.next instanceof Error) throw state.next;
        return state.next;
      },
      maxBacklogMs: options.maxBacklogMs,
      retryAfterSeconds: 7,
      refreshMs: 5,
      staleAfterMs: 2_000,
      now: () => state.now,
      onShed: () => (state.shed += 1),
      onBacklog: (backlog) => state.reported.push(backlog),
    });
    /** Resolves after the gate has read the probe's current answer at least once more. */
    const readAgain = async (): Promise<void> => {
      const target = state.reads + 2;
      await waitFor(() => state.reads >= target, {
        timeoutMs: 5_000,
        intervalMs: 1,
        what: 'the gate to read the backlog',
      });
    };
    return { gate, state, readAgain };
  }

  test('open while the oldest task is within the bound; refuses (and counts) past it; open again once the backlog is gone', async () => {
    const { gate, state, readAgain } = gateUnderTest({ maxBacklogMs: 1_000 });
    try {
      state.next = reading([4, 900], [2, 500]);
      await readAgain();
      assert.equal(gate.admit(), undefined);
      state.next = reading([4, 900], [2, 1_200]); // the activity queue counts as much as the workflow queue
      await readAgain();
      assert.deepEqual(gate.admit(), { retryAfterSeconds: 7 });
      assert.deepEqual(gate.admit(), { retryAfterSeconds: 7 });
      assert.equal(state.shed, 2);
      state.next = empty;
      await readAgain();
      assert.equal(gate.admit(), undefined);
      assert.equal(state.shed, 2);
      assert.deepEqual(state.reported.at(-1), { workflow: 0, activity: 0 });
    } finally {
      await gate.stop();
    }
  });

  test('closes as the unchanged reading ages past the bound, without a new figure from Temporal', async () => {
    const { gate, state, readAgain } = gateUnderTest({ maxBacklogMs: 1_000 });
    try {
      state.next = reading([10, 600]);
      await readAgain();
      assert.equal(gate.admit(), undefined);
      state.now += 401; // the same head task, 401 ms later: 1001 ms old
      assert.deepEqual(gate.admit(), { retryAfterSeconds: 7 });
    } finally {
      await gate.stop();
    }
  });

  test('when Temporal stops answering, the last reading counts for staleAfterMs, then the gate is open', async () => {
    const { gate, state, readAgain } = gateUnderTest({ maxBacklogMs: 1_000 });
    try {
      state.next = reading([10, 1_500]);
      await readAgain();
      state.next = new Error('14 UNAVAILABLE: connection refused');
      await readAgain();
      assert.deepEqual(gate.admit(), { retryAfterSeconds: 7 }, 'a failed read keeps the last reading for a moment');
      state.now += 2_001;
      assert.equal(
        gate.admit(),
        undefined,
        'then the gate is open (the start itself answers 503 when Temporal is down)',
      );
      assert.equal(gate.backlog(), undefined);
    } finally {
      await gate.stop();
    }
  });

  test('stop() ends the background reads', async () => {
    const { gate, state, readAgain } = gateUnderTest({ maxBacklogMs: 1_000 });
    await readAgain();
    await gate.stop();
    const reads = state.reads;
    // Another gate, started now with the same interval, as the witness: its second read comes from
    // a timer set after any timer the stopped gate could have left, so that one would fire first.
    const witness = gateUnderTest({ maxBacklogMs: 1_000 });
    await witness.readAgain();
    await witness.gate.stop();
    assert.equal(state.reads, reads);
  });
});

describe('the backlog read from Temporal, with Worker Versioning', () => {
  const { TaskQueueType } = proto.temporal.api.enums.v1;
  const stats = (count: number, ageSeconds: number) => ({
    approximateBacklogCount: count,
    approximateBacklogAge: { seconds: ageSeconds, nanos: 0 },
  });
  /** A Temporal whose task queue adds up every version (a stopped build's 60 s-old tasks among them), as the dev server does. */
  function fakeTemporal(routing: Record<string, unknown> | undefined) {
    const asked: string[] = [];
    const byVersion: Record<string, { workflow: number; activity: number }> = {
      new: { workflow: 2, activity: 0 },
      ramping: { workflow: 3, activity: 1 },
    };
    const connection = {
      withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
      workflowService: {
        describeTaskQueue: async (request: { taskQueueType: proto.temporal.api.enums.v1.TaskQueueType }) => {
          asked.push(`queue ${request.taskQueueType}`);
          return {
            stats: request.taskQueueType === TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW ? stats(9, 60) : stats(1, 60),
            versioningInfo: routing,
          };
        },
        describeWorkerDeploymentVersion: async (request: { deploymentVersion: { buildId: string } }) => {
          const { buildId } = request.deploymentVersion;
          asked.push(`version ${buildId}`);
          const ages = byVersion[buildId]!;
          return {
            versionTaskQueues: [
              { name: 'other-queue', type: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, stats: stats(50, 500) },
              { name: 'q', type: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, stats: stats(1, ages.workflow) },
              { name: 'q', type: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, stats: stats(1, ages.activity) },
            ],
          };
        },
      },
    };
    return { connection: connection as unknown as Connection, asked };
  }

  test('unversioned (no version current): the task queue’s own figures', async () => {
    const { connection, asked } = fakeTemporal(undefined);
    const backlog = await temporalBacklogProbe(connection, { namespace: 'default', taskQueue: 'q' })();
    assert.deepEqual(backlog, { workflow: { count: 9, ageMs: 60_000 }, activity: { count: 1, ageMs: 60_000 } });
    assert.equal(asked.filter((call) => call.startsWith('version')).length, 0);
  });

  test('versioned: the current version’s backlog of our queue, not the old builds’ tasks', async () => {
    const current = { currentDeploymentVersion: { deploymentName: 'chatrelay', buildId: 'new' } };
    const { connection, asked } = fakeTemporal(current);
    const backlog = await temporalBacklogProbe(connection, { namespace: 'default', taskQueue: 'q' })();
    assert.deepEqual(backlog, { workflow: { count: 1, ageMs: 2_000 }, activity: { count: 1, ageMs: 0 } });
    assert.ok(asked.includes('version new'));
  });

  test('a ramping version counts too: the older head of the two, per type; at 0 % it takes no new work', async () => {
    const ramping = (percentage: number) => ({
      currentDeploymentVersion: { deploymentName: 'chatrelay', buildId: 'new' },
      rampingDeploymentVersion: { deploymentName: 'chatrelay', buildId: 'ramping' },
      rampingVersionPercentage: percentage,
    });
    const ramped = await temporalBacklogProbe(fakeTemporal(ramping(10)).connection, {
      namespace: 'default',
      taskQueue: 'q',
    })();
    assert.deepEqual(ramped, { workflow: { count: 1, ageMs: 3_000 }, activity: { count: 1, ageMs: 1_000 } });
    const idle = fakeTemporal(ramping(0));
    await temporalBacklogProbe(idle.connection, { namespace: 'default', taskQueue: 'q' })();
    assert.ok(!idle.asked.includes('version ramping'));
  });
});
