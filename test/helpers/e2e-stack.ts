import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, secretBoxPassphrase, type Config } from '../../src/config.js';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { startDemoModel, type DemoModel } from '../../src/demo-model/server.js';
import { createLogger } from '../../src/lib/logger.js';
import { freePort } from '../../src/lib/ports.js';
import { startTemporalDevServer, type RunningServer } from '../../src/stack/servers.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { openDatabase, type Database } from '../../src/stores/db.js';
import { createWorker } from '../../src/worker/worker.js';
import { startTestMongo, type TestMongo } from './mongo.js';
import { startReceiver, type Receiver } from './receiver.js';

/**
 * The real thing, in one test process: Temporal dev server, MongoDB-compatible server, the API
 * and a worker wired exactly as their entry points wire them, the fake model API and a receiver.
 */
export interface E2EStack {
  config: Config;
  baseUrl: string;
  temporal: RunningServer;
  mongo: TestMongo;
  stores: Stores;
  fake: DemoModel;
  receiver: Receiver;
  api: RunningApi;
  /** Starts the worker, when the stack was started without one (a second call does nothing). */
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

/** `worker: false` starts everything but the worker (start it later with `startWorker()`), so that work waits in Temporal. */
export async function startE2EStack(
  env: Record<string, string> = {},
  options: { worker?: boolean } = {},
): Promise<E2EStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-e2e-'));
  const [temporal, mongo, fake, receiver, port] = await Promise.all([
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
    TEMPORAL_TASK_QUEUE: `e2e-${port}`,
    OPENAI_API_KEY: 'test-key',
    OPENAI_BASE_URL: fake.baseURL,
    ADMIN_TOKEN: 'e2e-admin-token-0123456789',
    SECRETS_ENCRYPTION_KEY: 'e2e-secrets-encryption-key-0123456789abcdef',
    FETCH_ALLOW_PRIVATE: 'true',
    DELIVERY_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'e2e' });
  const api = await startApi(config, logger);
  let running: { worker: Worker; run: Promise<void>; connection: NativeConnection; database: Database } | undefined;
  const startWorker = async (): Promise<void> => {
    if (running) return;
    const database: Database = openDatabase(config.MONGODB_URI, config.MONGODB_DB);
    const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    const worker = await createWorker({ config, logger, connection, database });
    running = { worker, run: worker.run(), connection, database };
  };
  if (options.worker ?? true) await startWorker();
  return {
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
      }
      await api.close();
      await Promise.all([temporal.stop(), fake.close(), receiver.close()]);
      await mongo.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function postMessage(baseUrl: string, token: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/webhook/mychatbot`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}
