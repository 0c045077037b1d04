import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/lib/logger.js';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/observability/metrics.js';
import { installTemporalRuntime } from '../../src/observability/temporal.js';
import {
  activityInterceptors,
  observabilitySinks,
  workflowInterceptorModules,
} from '../../src/observability/worker-observability.js';
import { createTimeSkippingEnv, testDataConverter, testWorkflowInterceptorModules } from '../helpers/temporal.js';
import type { ProbeActivities } from '../fixtures/workflows/probe-workflows.js';
import { sample } from '../helpers/metrics-text.js';
import { LogCapture } from '../helpers/stack.js';
import { archivedHistories } from '../helpers/workflow-harness.js';

const workflowsPath = fileURLToPath(new URL('../fixtures/workflows/probe-workflows.ts', import.meta.url));
const realWorkflowsPath = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));

describe('worker interceptors: message ids on workflow and activity log lines, reply-delay waits through a sink', () => {
  const logs = new LogCapture();
  const logger = createLogger({ level: 'info', name: 'chatrelay-worker', destination: logs });
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundle;
  const events: string[] = [];
  let metrics: WorkerMetrics;

  const activities: ProbeActivities = {
    async probe() {
      logger.info('probe ran');
      return 'probed';
    },
  };

  before(async () => {
    installTemporalRuntime({ logger });
    [env, workflowBundle] = await Promise.all([
      createTimeSkippingEnv(),
      bundleWorkflowCode({
        workflowsPath,
        workflowInterceptorModules: workflowInterceptorModules({ tracing: true }),
        logger: { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} },
      }),
    ]);
    metrics = createWorkerMetrics({ processMetrics: false });
    // Record what the sink reports, on top of the real tracker.
    const tracker = metrics.replyDelay;
    const started = tracker.started.bind(tracker);
    const ended = tracker.ended.bind(tracker);
    tracker.started = (workflowId, delayMs) => {
      events.push(`started ${workflowId} ${delayMs}`);
      started(workflowId, delayMs);
    };
    tracker.ended = (workflowId) => {
      events.push(`ended ${workflowId}`);
      ended(workflowId);
    };
  });
  after(async () => {
    await env?.teardown();
  });

  test('a workflow run: ids on every line, the reply delay reported once started and once ended', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'observed',
      workflowBundle,
      activities,
      interceptors: { activity: [activityInterceptors(metrics)] },
      sinks: observabilitySinks(metrics),
    });
    const envelope = { messageId: 'msg_observed1', pageId: 'page-observed', delayMs: 3_600_000 };
    const handle = await worker.runUntil(async () => {
      const started = await env.client.workflow.start('observedWorkflow', {
        taskQueue: 'observed',
        workflowId: 'wf-observed-1',
        args: [envelope],
      });
      assert.equal(await started.result(), 'probed');
      return started;
    });

    assert.deepEqual(events, ['started wf-observed-1 3600000', 'ended wf-observed-1']);
    assert.equal(metrics.replyDelay.size(), 0);
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'chatrelay_reply_delay_waits_started_total'), 1);
    assert.equal(sample(text, 'chatrelay_activity_duration_seconds_count', { activity: 'probe', outcome: 'ok' }), 1);

    const lines = logs.lines();
    const probe = lines.find((line) => line.msg === 'probe ran');
    assert.equal(probe?.pageId, 'page-observed', 'the page id reached the activity through the header');
    assert.equal(probe?.messageId, 'msg_observed1');
    assert.equal(probe?.workflowId, 'wf-observed-1');
    assert.equal(probe?.activity, 'probe');
    const hello = lines.find((line) => line.msg === 'workflow says hello');
    assert.equal(hello?.sdkComponent, 'workflow', 'workflow log lines come through the runtime logger');
    assert.equal(hello?.pageId, 'page-observed');
    assert.equal(hello?.messageId, 'msg_observed1');
    assert.equal(hello?.workflowId, 'wf-observed-1');

    // Replaying the finished history reports the wait's start and end again, which cancel out.
    events.length = 0;
    await Worker.runReplayHistory(
      { workflowBundle, sinks: observabilitySinks(metrics) },
      await handle.fetchHistory(),
      'wf-observed-1',
    );
    assert.deepEqual(events, ['started wf-observed-1 3600000', 'ended wf-observed-1']);
    assert.equal(metrics.replyDelay.size(), 0);
  });

  test('the real workflows with the interceptors replay every recorded history (recorded without them)', async () => {
    const bundled = await bundleWorkflowCode({
      workflowsPath: realWorkflowsPath,
      workflowInterceptorModules: [...workflowInterceptorModules({ tracing: true }), ...testWorkflowInterceptorModules],
      logger: { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} },
    });
    const histories = archivedHistories();
    const withDelay = (name: string): boolean => name === 'happy-path-with-delay';
    assert.ok(
      histories.some((history) => withDelay(history.name)),
      histories.map((history) => history.name).join(', '),
    );
    for (const { release, name, workflowId, json } of histories) {
      events.length = 0;
      const file = `${release}/${name}`;
      await Worker.runReplayHistory(
        { workflowBundle: bundled, sinks: observabilitySinks(metrics), dataConverter: testDataConverter },
        historyFromJSON(json),
        workflowId,
      );
      // A wait that started and ended in the history cancels out: every wait reported started is
      // reported ended (histories with a reply delay have one; the others none).
      const kinds = events.map((event) => event.split(' ')[0]);
      assert.equal(
        kinds.filter((kind) => kind === 'started').length,
        kinds.filter((kind) => kind === 'ended').length,
        file,
      );
      if (withDelay(name)) assert.deepEqual(kinds, ['started', 'ended'], file);
    }
    assert.equal(metrics.replyDelay.size(), 0);
  });
});
