import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { loadConfig, secretBoxPassphrase, type Config } from '../../src/config.js';
import { startDemoModel, type DemoModel } from '../../src/demo-model/server.js';
import { createLogger } from '../../src/lib/logger.js';
import { freePort } from '../../src/lib/ports.js';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/observability/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../src/observability/metrics-server.js';
import { installTemporalRuntime } from '../../src/observability/temporal.js';
import { startTemporalDevServer, type RunningServer } from '../../src/stack/servers.js';
import { openDatabase, type Database } from '../../src/stores/db.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { createWorker } from '../../src/worker/worker.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

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

export interface ObservedStack {
  config: Config;
  baseUrl: string;
  stores: Stores;
  fake: DemoModel;
  receiver: Receiver;
  api: RunningApi;
  worker: Worker;
  metrics: WorkerMetrics;
  metricsUrl: string;
  logs: LogCapture;
  close(): Promise<void>;
}

/**
 * The real pipeline in this process, wired as the entry points wire it, with what an operator
 * sees: logs at the default level captured from every component (the Temporal runtime's logger
 * included), the API's /metrics, and the worker's metrics server with the SDK's metrics merged in.
 * Installs the process's Temporal runtime, so a test file may start only one.
 */
export async function startObservedStack(env: Record<string, string> = {}): Promise<ObservedStack> {
  const logs = new LogCapture();
  const workerLogger = createLogger({ level: 'info', name: 'chatrelay-worker', destination: logs });
  const sdkMetricsPort = await freePort();
  installTemporalRuntime({ logger: workerLogger, sdkMetricsBindAddress: `127.0.0.1:${sdkMetricsPort}` });

  const dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-obs-'));
  const [temporal, mongo, fake, receiver, port]: [RunningServer, TestMongo, DemoModel, Receiver, number] =
    await Promise.all([
      startTemporalDevServer({ dbFile: join(dataDir, 'temporal.db') }),
      startTestMongo(),
      startDemoModel(),
      startReceiver(),
      freePort(),
    ]);
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    MONGODB_URI: mongo.uri,
    MONGODB_DB: mongo.dbName,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: `obs-${port}`,
    OPENAI_API_KEY: 'sk-observability-test-key-0123456789',
    OPENAI_BASE_URL: fake.baseURL,
    ADMIN_TOKEN: 'observability-admin-token-0123456789',
    SECRETS_ENCRYPTION_KEY: 'observability-secrets-encryption-key-0123456789',
    FETCH_ALLOW_PRIVATE: 'true',
    DELIVERY_ALLOW_PRIVATE: 'true',
    ...env,
  });
  const apiLogger = createLogger({ level: config.LOG_LEVEL, name: 'chatrelay-api', destination: logs });
  const api = await startApi(config, apiLogger);
  const metrics = createWorkerMetrics();
  const database: Database = openDatabase(config.MONGODB_URI, config.MONGODB_DB);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await createWorker({ config, logger: workerLogger, connection, database, metrics });
  const running = worker.run();
  const server: MetricsServer = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    merge: { url: `http://127.0.0.1:${sdkMetricsPort}/metrics`, up: (ok) => metrics.sdkMetricsUp.set(ok ? 1 : 0) },
    logger: workerLogger,
  });
  return {
    config,
    baseUrl: `http://127.0.0.1:${api.port}`,
    stores: createStores(mongo.db, { secretBox: createSecretBox(secretBoxPassphrase(config)) }),
    fake,
    receiver,
    api,
    worker,
    metrics,
    metricsUrl: `http://127.0.0.1:${server.port}/metrics`,
    logs,
    async close() {
      worker.shutdown();
      await running;
      await connection.close();
      await database.close();
      await server.close();
      await api.close();
      await Promise.all([temporal.stop(), fake.close(), receiver.close()]);
      await mongo.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One sample's value from Prometheus text (`name{labels}`, labels in any order); 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m): [string, string] => [
        m[1] ?? '',
        m[2] ?? '',
      ]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return 0;
}

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(url, { headers });
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return response.text();
}
