/**
 * The one builder of a whole test stack: Temporal dev server, a MongoDB-compatible server, the API
 * and a worker wired exactly as their entry points wire them, the fake model API and a receiver.
 *
 * Two ways to run it, because the tests need both:
 * - in this process (`startStack`): a test reaches into the API, the worker and their metrics;
 *   `observe: true` adds what an operator sees (every log line captured, the worker's metrics
 *   server with the SDK's metrics merged in); `worker: false` leaves the worker to `startWorker()`;
 * - as child processes (`startStack({ processes: true })`, test/helpers/process-stack.ts): the
 *   fault tests kill, stop and restart each piece from its entry point, with the same state.
 * Both run with the same environment (`stackEnv`), so a test moved from one to the other sees
 * the same configuration.
 */
import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { loadConfig, secretBoxPassphrase, type Config } from '../../src/config.js';
import { nativeConnectionOptions } from '../../src/temporal/connection.js';
import { startFakeModel, type FakeModel } from './fake-model.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';
import { freePort } from '../../src/lib/ports.js';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/observability/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../src/observability/metrics-server.js';
import { installTemporalRuntime } from '../../src/observability/temporal.js';
import { activeTracing } from '../../src/observability/tracing.js';
import { workflowInterceptorModules } from '../../src/observability/worker-observability.js';
import { startTemporalDevServer, type RunningServer } from '../../src/stack/servers.js';
import { openDatabase, type Database } from '../../src/stores/db.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { createWorker, settleWorkerVersion, workflowsPath } from '../../src/worker/worker.js';
import { sharedBundleFile } from './bundles.js';
import { startTestMongo, type TestMongo } from './mongo.js';
import { startProcessStack, type ProcessStack, type ProcessStackOptions } from './process-stack.js';
import { startReceiver, type Receiver } from './receiver.js';
import { stackEnv } from './stack-env.js';

/** Every log line the API, the worker and the Temporal SDK wrote, parsed, in order. */
export class LogCapture extends Writable {
  readonly raw: string[] = [];
  constructor() {
    super({
      write: (chunk: Buffer | string, _encoding, callback) => {
        for (const line of String(chunk).split('\n')) if (line.length > 0) this.raw.push(line);
        callback();
      },
    });
  }
  lines(): Array<Record<string, unknown>> {
    return this.raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

export interface StackOptions {
  /** Extra environment (it wins over the stack's own). */
  env?: Record<string, string>;
  /** false: everything but the worker, so that work waits in Temporal until `startWorker()`. */
  worker?: boolean;
  /** Test workflow interceptor modules the worker bundles after production's (e.g. test/helpers/answer-step-timeout-interceptor.ts). */
  workflowInterceptorModules?: readonly string[];
}

export interface Stack {
  config: Config;
  baseUrl: string;
  temporal: RunningServer;
  mongo: TestMongo;
  /** The stores on the stack's database, with its secret box. */
  stores: Stores;
  fake: FakeModel;
  receiver: Receiver;
  api: RunningApi;
  /** Starts the worker, when the stack was started without one (a second call does nothing). */
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

/** A stack with what an operator sees: logs at the configured level captured from every component, and metrics. */
export interface ObservedStack extends Stack {
  worker: Worker;
  metrics: WorkerMetrics;
  /** The worker's metrics server (its own metrics and the Temporal SDK's). */
  metricsUrl: string;
  logs: LogCapture;
}

/**
 * Starts a stack: in this process, observed or not, or with the API and the worker as child
 * processes (`processes: true`). An observed stack installs the process's Temporal runtime, so a
 * test file may start only one.
 */
export function startStack(options: StackOptions & { observe: true }): Promise<ObservedStack>;
export function startStack(options: ProcessStackOptions & { processes: true }): Promise<ProcessStack>;
export function startStack(options?: StackOptions): Promise<Stack>;
export async function startStack(
  options: (StackOptions & { observe?: boolean }) | (ProcessStackOptions & { processes: true }) = {},
): Promise<Stack | ObservedStack | ProcessStack> {
  if ('processes' in options) return startProcessStack(options);
  const observe = options.observe === true;
  const logs = new LogCapture();
  let sdkMetricsPort: number | undefined;
  if (observe) {
    // The SDK's own logs and metrics go where the worker's entry point sends them.
    sdkMetricsPort = await freePort();
    installTemporalRuntime({
      logger: createLogger({ level: 'info', name: 'chatrelay-worker', destination: logs }),
      sdkMetricsBindAddress: `127.0.0.1:${sdkMetricsPort}`,
    });
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-stack-'));
  const [temporal, mongo, fake, receiver, port] = await Promise.all([
    startTemporalDevServer({ dbFile: join(dataDir, 'temporal.db') }),
    startTestMongo(),
    startFakeModel(),
    startReceiver(),
    freePort(),
  ]);
  const config = loadConfig({
    ...stackEnv({
      port,
      mongoUri: mongo.uri,
      mongoDb: mongo.dbName,
      temporalAddress: temporal.address,
      modelBaseUrl: fake.baseURL,
    }),
    // Quiet unless observed: an observed stack logs at the default level, as a deployment does.
    ...(observe ? {} : { LOG_LEVEL: 'silent' }),
    ...options.env,
  });
  const logger = (name: string): Logger =>
    observe
      ? createLogger({ level: config.LOG_LEVEL, name, destination: logs })
      : createLogger({ level: config.LOG_LEVEL, name: 'stack' });
  const api = await startApi(config, logger('chatrelay-api'));
  const metrics = observe ? createWorkerMetrics() : undefined;

  let running:
    | { worker: Worker; run: Promise<void>; connection: NativeConnection; database: Database; server?: MetricsServer }
    | undefined;
  const startWorker = async (): Promise<void> => {
    if (running) return;
    const database: Database = openDatabase(config.MONGODB_URI, config.MONGODB_DB);
    const connection = await NativeConnection.connect(nativeConnectionOptions(config.temporal));
    const workerLogger = logger('chatrelay-worker');
    const extraModules = options.workflowInterceptorModules ?? [];
    const bundlePath = await stackBundle(extraModules);
    const worker = await createWorker({
      config: bundlePath ? { ...config, WORKFLOW_BUNDLE_PATH: bundlePath } : config,
      logger: workerLogger,
      connection,
      database,
      ...(metrics ? { metrics } : {}),
      ...(bundlePath ? {} : { extraWorkflowInterceptorModules: extraModules }),
    });
    running = { worker, run: worker.run(), connection, database };
    // As the entry point does: with WORKER_SET_CURRENT (stackEnv) its version becomes current.
    await settleWorkerVersion(worker, { config, logger: workerLogger, connection });
    if (metrics && sdkMetricsPort !== undefined) {
      running.server = await startMetricsServer({
        host: '127.0.0.1',
        port: 0,
        registry: metrics.registry,
        merge: {
          url: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
          up: (ok) => metrics.sdkMetricsUp.set(ok ? 1 : 0),
        },
        logger: workerLogger,
      });
    }
  };
  if (options.worker ?? true) await startWorker();

  const stack: Stack = {
    config,
    baseUrl: `http://127.0.0.1:${api.port}`,
    temporal,
    mongo,
    stores: createStores(mongo.db, { secretBox: createSecretBox(secretBoxPassphrase(config)) }),
    fake,
    receiver,
    api,
    startWorker,
    async close() {
      if (running) {
        running.worker.shutdown();
        await running.run;
        await running.connection.close();
        await running.database.close();
        await running.server?.close();
      }
      await api.close();
      await Promise.all([temporal.stop(), fake.close(), receiver.close()]);
      await mongo.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (!observe) return stack;
  if (!running?.server || !metrics) throw new Error('an observed stack runs its worker: leave out `worker: false`');
  return {
    ...stack,
    worker: running.worker,
    metrics,
    metricsUrl: `http://127.0.0.1:${running.server.port}/metrics`,
    logs,
  };
}

/** POSTs a message to the stack's webhook as a client platform does. */
/**
 * The in-process worker's workflow bundle: production's code and interceptors, then the test's
 * own, built once per test run (test/helpers/bundles.ts) rather than by every worker start. A
 * traced worker loads the traced twin of a prebuilt bundle (`x.traced.js`), so under tracing the
 * worker bundles at start as production does without a prebuilt one.
 */
async function stackBundle(extraModules: readonly string[]): Promise<string | undefined> {
  if (activeTracing()) return undefined;
  return sharedBundleFile({
    workflowsPath,
    workflowInterceptorModules: [...workflowInterceptorModules({ tracing: false }), ...extraModules],
  });
}

export async function postMessage(baseUrl: string, token: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/webhook/mychatbot`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as {
      error?: { code: string; message: string; request_id: string; details?: unknown };
    } & Record<string, unknown>,
    headers: response.headers,
  };
}

/** A text message from `clientId` of the channel's page, as a client platform sends it; its message id, once accepted (200). */
export async function postText(
  baseUrl: string,
  channel: { token: string; pageId: string },
  clientId: string,
  text: string,
): Promise<string> {
  const response = await postMessage(baseUrl, channel.token, {
    client_id: clientId,
    page_id: channel.pageId,
    platform: 'CustomApp',
    text,
  });
  if (response.status !== 200) throw new Error(`the message was not accepted: ${JSON.stringify(response.body)}`);
  return String(response.body.message_id);
}
