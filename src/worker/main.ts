import type { NativeConnection, Worker } from '@temporalio/worker';
import { checkMetricsExposure, ConfigError, loadConfig, loadConfigOrExit } from '../config.js';
import { createLogger } from '../lib/logger.js';
import { freePort } from '../lib/ports.js';
import { createWorkerMetrics } from '../observability/metrics.js';
import { startMetricsServer, type MetricsServer } from '../observability/metrics-server.js';
import { installTemporalRuntime } from '../observability/temporal.js';
import { startTracing } from '../observability/tracing.js';
import { openDatabase } from '../stores/db.js';
import { logTemporalConnection } from '../temporal/connection.js';
import { workerReadiness } from './readiness.js';
import { connectWithRetry, createWorker, settleWorkerVersion } from './worker.js';

const config = loadConfigOrExit(() => loadConfig(process.env, 'worker'));
try {
  checkMetricsExposure(config, 'worker');
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(78); // EX_CONFIG
}
const logger = createLogger({ level: config.LOG_LEVEL, name: 'chatrelay-worker' });
// Before the worker is built: OTEL_* variables turn tracing on (spans of workflows and activities).
const tracing = await startTracing({ serviceName: 'chatrelay-worker' });
if (tracing) logger.info({ serviceName: tracing.serviceName }, 'tracing on (OpenTelemetry, from OTEL_* variables)');

// Metrics: ours on METRICS_PORT (0 = off), with the Temporal SDK's own (served by its core on a
// loopback port of its own) appended to every scrape, so one port carries both.
// A port that cannot be bound costs the metrics, never the worker: it logs an error and runs on.
const metrics = config.METRICS_PORT > 0 ? createWorkerMetrics() : undefined;
let sdkMetricsPort = metrics ? await freePort() : undefined;
// Before any connection: SDK, core, workflow and activity logs go through our logger; signals are ours.
try {
  installTemporalRuntime({
    logger,
    ...(sdkMetricsPort !== undefined ? { sdkMetricsBindAddress: `127.0.0.1:${sdkMetricsPort}` } : {}),
  });
} catch (error) {
  if (sdkMetricsPort === undefined) throw error;
  logger.error({ err: error }, "the Temporal SDK's metrics could not be served; running without them");
  sdkMetricsPort = undefined;
  installTemporalRuntime({ logger });
}

const database = openDatabase(config.MONGODB_URI, config.MONGODB_DB);
let metricsServer: MetricsServer | undefined;
let connection: NativeConnection | undefined;
let worker: Worker | undefined;
let stopping = false;
let stopRequestedAt = 0;

async function release(): Promise<void> {
  await metricsServer?.close().catch(() => undefined);
  await connection?.close().catch(() => undefined);
  await database.close().catch(() => undefined);
  await tracing?.shutdown().catch(() => undefined);
}

/**
 * SIGTERM/SIGINT: stop polling for new tasks; activities already running get
 * WORKER_SHUTDOWN_GRACE_MS to finish (then they are cancelled, and Temporal retries them on
 * another worker); run() then resolves and the process exits 0. Should the shutdown hang, the
 * process exits 1 fifteen seconds after the grace time.
 */
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    stopRequestedAt = Date.now();
    logger.info({ signal, graceMs: config.WORKER_SHUTDOWN_GRACE_MS }, 'worker shutting down');
    setTimeout(() => {
      logger.error({ ms: Date.now() - stopRequestedAt }, 'worker shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.WORKER_SHUTDOWN_GRACE_MS + 15_000).unref();
    if (worker?.getState() === 'RUNNING') {
      worker.shutdown();
      return;
    }
    // Still starting up: nothing runs yet, so there is nothing to drain.
    void release().then(() => process.exit(0));
  });
}

try {
  if (metrics) {
    const sdkMetrics = sdkMetricsPort !== undefined ? `http://127.0.0.1:${sdkMetricsPort}/metrics` : undefined;
    metricsServer = await startMetricsServer({
      host: config.METRICS_HOST,
      port: config.METRICS_PORT,
      registry: metrics.registry,
      ...(config.METRICS_TOKEN !== undefined ? { token: config.METRICS_TOKEN } : {}),
      ...(sdkMetrics ? { merge: { url: sdkMetrics, up: (ok: boolean) => metrics.sdkMetricsUp.set(ok ? 1 : 0) } } : {}),
      // GET /healthz and /readyz for orchestrators; ready once connected and polling.
      readiness: workerReadiness({ database, connection: () => connection, worker: () => worker }),
      logger,
    }).catch((error: unknown) => {
      logger.error(
        { err: error, port: config.METRICS_PORT },
        'the metrics port cannot be served (set METRICS_PORT to a free port, or 0); running without metrics',
      );
      return undefined;
    });
    if (metricsServer) logger.info({ port: metricsServer.port, host: config.METRICS_HOST }, 'worker metrics listening');
  }
  logTemporalConnection(config.temporal, logger);
  connection = await connectWithRetry(config.temporal, logger);
  if (!stopping) worker = await createWorker({ config, logger, connection, database, ...(metrics ? { metrics } : {}) });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    await release();
    process.exit(78);
  }
  logger.fatal({ err: error }, 'worker could not start');
  await release();
  process.exit(1);
}

if (worker && !stopping) {
  // Polling from here on; its failure is read below, after the version is settled.
  const ran = worker.run().then(
    () => undefined,
    (error: unknown) => ({ error }),
  );
  // With WORKER_SET_CURRENT its version becomes current before "worker started" (what the tests wait for).
  if (connection) await settleWorkerVersion(worker, { config, logger, connection });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker started');
  const failed = await ran;
  if (failed) {
    logger.fatal({ err: failed.error }, 'worker failed');
    await release();
    process.exit(1);
  }
  await release();
  logger.info({ ms: stopping ? Date.now() - stopRequestedAt : undefined }, 'worker stopped');
  process.exit(0);
}
