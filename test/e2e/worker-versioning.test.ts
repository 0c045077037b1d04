/**
 * Worker Versioning on the Temporal dev server (docs/upgrades.md): two builds of the worker side by
 * side on one task queue, the rainbow deploy of the README run step by step with the real
 * `temporal` CLI, then what a build stopped before it drained leaves behind. What ran where is read
 * from the histories: every WorkflowTaskCompleted event names the deployment version of the worker
 * that completed the task.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { messageWorkflowId } from '../../src/domain/ids.js';
import { createLogger } from '../../src/lib/logger.js';
import { waitFor } from '../../src/lib/wait.js';
import { tool } from '../../src/stack/tools.js';
import { openDatabase } from '../../src/stores/db.js';
import { createPayloadCodec, temporalDataConverter } from '../../src/temporal/data-converter.js';
import { currentVersion, versionSearchValue } from '../../src/temporal/worker-versioning.js';
import { createWorker, settleWorkerVersion } from '../../src/worker/worker.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { LogCapture, postMessage, startStack, type Stack } from '../helpers/stack.js';

const run = promisify(execFile);
const { EventType, TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

const A = 'build-a';
const B = 'build-b';
/** The load gate's bound, short: a backlog on the stopped build would pass it within seconds. */
const MAX_BACKLOG_MS = 1_500;

let s: Stack;
let client: Client;
const stops: Array<() => Promise<void>> = [];

before(async () => {
  // The API, servers, model and receiver; the workers of each build are started by the test.
  s = await startStack({ worker: false, env: { OVERLOAD_MAX_BACKLOG_MS: String(MAX_BACKLOG_MS) } });
  client = new Client({
    connection: await Connection.connect({ address: s.temporal.address }),
    dataConverter: temporalDataConverter(createPayloadCodec(s.config)),
  });
});
after(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await client?.connection.close();
  await s?.close();
});

/** A worker of `buildId`, wired as the entry point wires it; resolves once it polls (and, with setCurrent, is current). */
async function startBuild(buildId: string, setCurrent: boolean, logs?: LogCapture): Promise<() => Promise<void>> {
  const connection = await NativeConnection.connect({ address: s.temporal.address });
  const database = openDatabase(s.config.MONGODB_URI, s.config.MONGODB_DB);
  const config = { ...s.config, BUILD_ID: buildId, WORKER_SET_CURRENT: setCurrent };
  const logger = createLogger({
    level: logs ? 'info' : 'silent',
    name: `worker-${buildId}`,
    ...(logs ? { destination: logs } : {}),
  });
  const worker = await createWorker({ config, logger, connection, database });
  const running = worker.run();
  await settleWorkerVersion(worker, { config, logger, connection });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    worker.shutdown();
    await running;
    await connection.close();
    await database.close();
  };
  stops.push(stop);
  return stop;
}

/** `temporal …` against the stack's server, as an operator runs it. */
async function temporal(...args: string[]): Promise<string> {
  const { stdout } = await run(tool('temporal'), [...args, '--address', s.temporal.address], { encoding: 'utf8' });
  return stdout;
}

async function admin(method: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${s.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${s.config.ADMIN_TOKEN}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface Run {
  /** `deployment:build` of the worker that completed each workflow task, in order. */
  builds: string[];
  behaviors: string[];
  continuedAsNew: boolean;
  /** The run this one continued, if any. */
  continuedFrom: string | undefined;
  /** When its last workflow task completed (ms). */
  lastTaskAt: number;
}

async function runOf(handle: WorkflowHandle): Promise<Run> {
  const events = (await handle.fetchHistory()).events ?? [];
  const completed = events.filter((event) => event.workflowTaskCompletedEventAttributes);
  const { VersioningBehavior } = proto.temporal.api.enums.v1;
  return {
    builds: completed.map(({ workflowTaskCompletedEventAttributes: attributes }) => {
      const version = attributes?.deploymentVersion;
      return `${version?.deploymentName}:${version?.buildId}`;
    }),
    behaviors: completed.map(({ workflowTaskCompletedEventAttributes: attributes }) =>
      String(VersioningBehavior[attributes?.versioningBehavior ?? 0]),
    ),
    continuedAsNew: events.at(-1)?.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    continuedFrom: events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined,
    lastTaskAt: Number(completed.at(-1)?.eventTime?.seconds ?? 0) * 1000,
  };
}

const stageOf = async (messageId: string): Promise<string> =>
  String((await admin('GET', `/v1/messages/${messageId}`)).body.stage);

test('the rainbow deploy: a message started on build A finishes on A after B is made current; new ones, and a long wait, go to B; runs a stopped build left are moved', async () => {
  const deploymentName = s.config.TEMPORAL_DEPLOYMENT_NAME;
  const onA = `${deploymentName}:${A}`;
  const onB = `${deploymentName}:${B}`;
  const openOn = (buildId: string): string =>
    `TemporalWorkerDeploymentVersion = '${versionSearchValue({ deploymentName, buildId })}' AND ExecutionStatus = 'Running'`;

  // Build A, alone: it makes itself current (WORKER_SET_CURRENT, as in the local stack).
  const stopA = await startBuild(A, true);
  assert.deepEqual(await currentVersion(client.workflowService, 'default', deploymentName), {
    deploymentName,
    buildId: A,
  });

  const endpoint = s.receiver.endpoint();
  const channel = () => createChannelWithAgent(s.stores, { replyUrl: endpoint.url });
  // P and R are paused: their replies wait (a wait without end) until the channel is resumed.
  const [paused, other, pausedToo] = [await channel(), await channel(), await channel()];
  for (const { channel } of [paused, pausedToo])
    assert.equal((await admin('POST', `/v1/channels/${channel.id}/pause`)).status, 200);
  const post = async (to: typeof paused, clientId: string, text: string): Promise<string> => {
    const response = await postMessage(s.baseUrl, to.token, {
      client_id: clientId,
      page_id: to.channel.page_id,
      platform: 'CustomApp',
      text,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return String(response.body.message_id);
  };

  // On A: m1's reply waits for its paused channel; m2, of the same chat, waits its turn behind it;
  // m5's reply waits for another paused channel. All pinned to A.
  const m1 = await post(paused, 'alice', 'first');
  await waitFor(async () => (await stageOf(m1)) === 'paused', { timeoutMs: 30_000, what: 'm1 to wait, paused' });
  const m2 = await post(paused, 'alice', 'second');
  await waitFor(async () => (await stageOf(m2)) === 'waiting_turn', { timeoutMs: 30_000, what: 'm2 to wait its turn' });
  const m5 = await post(pausedToo, 'carol', 'fifth');
  await waitFor(async () => (await stageOf(m5)) === 'paused', { timeoutMs: 30_000, what: 'm5 to wait, paused' });

  // 1. Build B's workers beside A's, not current: their log says so, and how the rollout makes them.
  const logs = new LogCapture();
  await startBuild(B, false, logs);
  assert.equal((await currentVersion(client.workflowService, 'default', deploymentName))?.buildId, A);
  const said = logs.lines();
  assert.ok(
    said.some((line) => line.msg === 'worker version' && line.buildId === B && line.buildIdFrom === 'BUILD_ID'),
  );
  const notCurrent = said.find((line) => String(line.msg).startsWith('worker version is not current'));
  assert.equal(notCurrent?.current, onA, JSON.stringify(said));
  assert.equal(
    notCurrent?.makeCurrent,
    `temporal worker deployment set-current-version --deployment-name ${deploymentName} --build-id ${B}`,
  );

  // 2. Make B current with the README's command (refused until the server has seen B's pollers).
  await waitFor(
    async () => {
      await temporal(
        'worker',
        'deployment',
        'set-current-version',
        '--deployment-name',
        deploymentName,
        '--build-id',
        B,
        '--yes',
      );
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: 'build B to be made current' },
  );
  const madeCurrentAt = Date.now();
  assert.equal((await currentVersion(client.workflowService, 'default', deploymentName))?.buildId, B);
  const described = await temporal('worker', 'deployment', 'describe', '--name', deploymentName);
  assert.match(described, new RegExp(`Current(Version)?BuildID\\s+${B}`), described);

  // A message that starts now goes to B.
  const m3 = await post(other, 'bob', 'third');
  await s.receiver.waitForDelivered(1, { path: endpoint.path, timeoutMs: 30_000 });

  // m2's wait for its turn has no end while the channel is paused: at its next check (35 s into
  // the wait) it continues as new, and the fresh run starts on B, the current version.
  const handle2 = client.workflow.getHandle(messageWorkflowId(m2));
  const movedM2 = await waitFor(
    async () => {
      const latest = await runOf(handle2);
      return latest.continuedFrom !== undefined && latest.builds.length > 0 ? latest : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 500, what: 'm2 to continue as new on build B' },
  );

  // 3. A drains. The resume wakes m1 on A, where it is pinned: its reply goes out from A, and m2's
  //    turn comes, on B.
  assert.equal((await admin('POST', `/v1/channels/${paused.channel.id}/resume`)).status, 200);
  const delivered = await s.receiver.waitForDelivered(3, { path: endpoint.path, timeoutMs: 60_000 });
  assert.deepEqual(delivered.map((reply) => reply.fields.text).sort(), ['Echo: first', 'Echo: second', 'Echo: third']);
  for (const id of [m1, m2, m3])
    await waitFor(async () => (await s.stores.messages.outcome(id))?.status === 'delivered', {
      what: `${id} delivered`,
    });
  // Outcomes are written by local activities inside workflow tasks that complete just after: wait
  // for the runs to close, so that every task's completion is in the histories read below.
  await Promise.all([m1, m2, m3].map((id) => client.workflow.getHandle(messageWorkflowId(id)).result()));

  // From the histories: m1 ran on A alone, pinned, and to its end after B was current.
  const handle1 = client.workflow.getHandle(messageWorkflowId(m1));
  const run1 = await runOf(handle1);
  assert.ok(run1.builds.length >= 2, JSON.stringify(run1));
  assert.deepEqual(new Set(run1.builds), new Set([onA]), `m1 ran on ${A} only: ${JSON.stringify(run1.builds)}`);
  assert.deepEqual(new Set(run1.behaviors), new Set(['VERSIONING_BEHAVIOR_PINNED']));
  assert.equal(run1.continuedFrom, undefined);
  assert.ok(run1.lastTaskAt > madeCurrentAt - 1_000, 'm1 finished after B was made current');
  assert.equal((await handle1.describe()).raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId, A);
  // m2: its first run on A up to the continue-as-new, its second on B to the end.
  const firstOfM2 = await runOf(client.workflow.getHandle(messageWorkflowId(m2), movedM2.continuedFrom));
  assert.deepEqual(new Set(firstOfM2.builds), new Set([onA]), JSON.stringify(firstOfM2));
  assert.equal(firstOfM2.continuedAsNew, true);
  assert.deepEqual(new Set((await runOf(handle2)).builds), new Set([onB]));
  // m3 started after B was current: B alone; and versioning costs no event: the common case is
  // still one workflow task and 7 events (test/workflows/event-budget.test.ts).
  const handle3 = client.workflow.getHandle(messageWorkflowId(m3));
  assert.deepEqual(new Set((await runOf(handle3)).builds), new Set([onB]));
  assert.deepEqual(
    ((await handle3.fetchHistory()).events ?? []).map((event) => String(EventType[event.eventType ?? 0])),
    [
      'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
      'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
      'EVENT_TYPE_WORKFLOW_TASK_STARTED',
      'EVENT_TYPE_WORKFLOW_TASK_COMPLETED',
      'EVENT_TYPE_MARKER_RECORDED',
      'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
      'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
    ],
  );

  // The drain check of the README counts what is still open on A: m5, its channel still paused.
  await waitFor(async () => (await client.workflow.count(openOn(A))).count === 1, {
    timeoutMs: 30_000,
    what: 'one workflow left running on build A',
  });
  assert.match(await temporal('workflow', 'count', '--query', openOn(A)), /Total: 1/);

  // 4, too early: A's workers stop before A drained (as an in-place replacement does). m5's
  // channel is resumed: its next task waits in the task queue for a worker of A, for ever...
  await stopA();
  assert.equal((await admin('POST', `/v1/channels/${pausedToo.channel.id}/resume`)).status, 200);
  await waitFor(
    async () => {
      const { stats } = await client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: s.config.TEMPORAL_TASK_QUEUE, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        reportStats: true,
      });
      return Number(stats?.approximateBacklogAge?.seconds ?? 0) * 1000 > MAX_BACKLOG_MS * 2;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: "the task queue's backlog to age past the load gate's bound" },
  );
  // ...but new messages, which go to B, do not wait: the load gate reads B's backlog and stays open.
  const m4 = await post(other, 'dave', 'fourth');
  await waitFor(async () => (await s.stores.messages.outcome(m4))?.status === 'delivered', { what: 'm4 delivered' });
  assert.equal((await s.api.metrics.messagesShed.get()).values[0]?.value ?? 0, 0, 'no message was shed');
  assert.equal((await s.stores.messages.outcome(m5))?.status, undefined, 'm5 waits for a worker of A');

  // The runs left on A are moved to the current build with docs/upgrades.md's command; B replays m5.
  await temporal(
    'workflow',
    'update-options',
    '--yes',
    '--versioning-override-behavior',
    'auto_upgrade',
    '--query',
    openOn(A),
  );
  await waitFor(async () => (await s.stores.messages.outcome(m5))?.status === 'delivered', {
    timeoutMs: 60_000,
    what: 'm5 delivered once moved',
  });
  // The outcome is written by a local activity inside the workflow task that B completes: wait for
  // the run to close, so that task's completion (naming B) is in its history before reading it.
  const handle5 = client.workflow.getHandle(messageWorkflowId(m5));
  await handle5.result();
  const run5 = await runOf(handle5);
  assert.equal(run5.builds[0], onA);
  assert.equal(run5.builds.at(-1), onB, JSON.stringify(run5.builds));
  await waitFor(async () => (await client.workflow.count(openOn(A))).count === 0, {
    timeoutMs: 30_000,
    what: 'no workflow left running on build A',
  });
});
