/**
 * The worker's /healthz and /readyz (on its metrics port), for container orchestrators: alive as
 * soon as the process is; ready only while MongoDB and Temporal answer and the worker polls.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startChild } from '../../src/lib/child.js';
import { runHealthChecks } from '../../src/lib/health-checks.js';
import { freePort } from '../../src/lib/ports.js';
import { waitFor } from '../../src/lib/wait.js';
import { startTemporalDevServer, type RunningServer } from '../../src/stack/servers.js';
import { workerReadiness } from '../../src/worker/readiness.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { bundle } from '../helpers/temporal.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
type ReadyBody = { status: string; checks: Record<string, { ok: boolean; error?: string }> };

describe('worker health', () => {
  let mongo: TestMongo;
  before(async () => {
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo?.close();
  });

  test('readiness checks: not ready until the worker runs, ready while it polls, not ready once stopped or Temporal is gone', async () => {
    const temporal = await startTemporalDevServer();
    const connection = await NativeConnection.connect({ address: temporal.address });
    let worker: Worker | undefined;
    const checks = workerReadiness({ database: mongo.database, connection: () => connection, worker: () => worker });
    // The answer says only "unavailable"; the detail goes to the log (here: recorded).
    const details = new Map<string, string | undefined>();
    const workerDetail = async (): Promise<string | undefined> => {
      const readiness = await runHealthChecks(checks, { observe: (name, failure) => details.set(name, failure) });
      if (readiness.body.checks.worker?.ok === false) assert.equal(readiness.body.checks.worker.error, 'unavailable');
      return details.get('worker');
    };
    try {
      const starting = await runHealthChecks(checks);
      assert.equal(starting.ready, false);
      assert.deepEqual(starting.body.checks.mongodb, { ok: true });
      assert.deepEqual(starting.body.checks.temporal, { ok: true });
      assert.deepEqual(starting.body.checks.worker, { ok: false, error: 'unavailable' });
      assert.equal(await workerDetail(), 'worker is STARTING, not polling');

      const workflowBundle = await bundle(fileURLToPath(new URL('../fixtures/workflows/timer.ts', import.meta.url)));
      worker = await Worker.create({ connection, taskQueue: 'health', workflowBundle });
      assert.equal(await workerDetail(), 'worker is INITIALIZED, not polling');

      const running = worker.run();
      const ready = await waitFor(async () => {
        const readiness = await runHealthChecks(checks);
        return readiness.ready ? readiness : undefined;
      });
      assert.deepEqual(ready.body, {
        status: 'ready',
        checks: { mongodb: { ok: true }, temporal: { ok: true }, worker: { ok: true } },
      });

      worker.shutdown();
      await running;
      assert.equal(await workerDetail(), 'worker is STOPPED, not polling');

      await temporal.stop();
      const gone = await runHealthChecks(checks);
      assert.equal(gone.body.checks.temporal?.ok, false);
      assert.equal(gone.body.status, 'unavailable');
    } finally {
      await connection.close().catch(() => undefined);
      await temporal.stop();
    }
  });

  test('the worker process serves /healthz at once and /readyz: 503 naming what is missing, then 200 once it polls', async () => {
    const [metricsPort, temporalPort] = await Promise.all([freePort(), freePort()]);
    const worker = startChild('worker', process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        MONGODB_URI: mongo.uri,
        MONGODB_DB: mongo.dbName,
        OPENAI_API_KEY: 'test-key',
        ADMIN_TOKEN: 'worker-health-admin-token',
        SECRETS_ENCRYPTION_KEY: 'worker-health-secrets-encryption-key-0123',
        // Nothing listens there yet: the worker keeps trying to connect.
        TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
        TEMPORAL_TASK_QUEUE: 'worker-health',
        METRICS_PORT: String(metricsPort),
        METRICS_HOST: '127.0.0.1',
        METRICS_TOKEN: 'metrics-token-for-the-health-test',
        WORKER_SHUTDOWN_GRACE_MS: '2000',
        LOG_LEVEL: 'warn',
      },
    });
    let temporal: RunningServer | undefined;
    const base = `http://127.0.0.1:${metricsPort}`;
    const readyz = async (): Promise<{ status: number; body: ReadyBody }> => {
      const response = await fetch(`${base}/readyz`);
      return { status: response.status, body: (await response.json()) as ReadyBody };
    };
    try {
      // Open, like the API's, even with METRICS_TOKEN set.
      const alive = await waitFor(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, {
        timeoutMs: 60_000,
        what: `the worker's /healthz\n${worker.recentOutput()}`,
      });
      assert.equal(alive, true);
      const notReady = await readyz();
      assert.equal(notReady.status, 503);
      assert.equal(notReady.body.status, 'unavailable');
      assert.deepEqual(notReady.body.checks.mongodb, { ok: true });
      assert.deepEqual(notReady.body.checks.temporal, { ok: false, error: 'unavailable' });
      assert.equal(notReady.body.checks.worker?.ok, false);
      assert.equal((await fetch(`${base}/metrics`)).status, 401, 'metrics still need their token');

      temporal = await startTemporalDevServer({ port: temporalPort });
      const ready = await waitFor(
        async () => {
          const answer = await readyz();
          return answer.status === 200 ? answer : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 250, what: `the worker to be ready\n${worker.recentOutput()}` },
      );
      assert.deepEqual(ready.body, {
        status: 'ready',
        checks: { mongodb: { ok: true }, temporal: { ok: true }, worker: { ok: true } },
      });

      worker.process.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.recentOutput());
    } finally {
      await worker.stop(5_000);
      await temporal?.stop();
    }
  });
});
