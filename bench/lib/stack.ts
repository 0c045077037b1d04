/**
 * Starts what the benchmark measures, on this machine: the Temporal dev server, a MongoDB-compatible
 * server, the chatrelay API and worker as separate processes (so each one's CPU and memory can be
 * read), the fake model as its own process, and the baseline. Every process is registered with the
 * Cleanup so that nothing outlives the benchmark.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentDefaults, channelDefaults } from '../../src/domain/models.js';
import { freePort } from '../../src/lib/ports.js';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { generateApiToken } from '../../src/lib/secrets.js';
import { waitFor } from '../../src/lib/wait.js';
import { startMongoServer, startTemporalDevServer, type RunningServer } from '../../src/stack/servers.js';
import type { Database } from '../../src/stores/db.js';
import { createStores } from '../../src/stores/index.js';
import { featureSettings, type BenchFeature } from './features.js';
import { jsonLine, runToCompletion, startNodeChild, type Cleanup } from './children.js';

/** Children's first warnings and errors go to our stderr; the rest is kept for error messages only. */
let echoed = 0;
const echoWarnings = (line: string): void => {
  if (!/"level":"(warn|error|fatal)"|\[(WARN|ERROR)\]|Error:|error:/.test(line)) return;
  echoed += 1;
  if (echoed <= 10) console.error(line.length > 600 ? `${line.slice(0, 600)}...` : line);
  else if (echoed === 11) console.error('[bench] further warnings from the API and worker are not shown');
};

/** A clean environment for children: PATH and HOME from ours, nothing else leaks in. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'])
    if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

export async function startFakeModel(cleanup: Cleanup, latencyMs: number): Promise<{ baseURL: string; pid: number }> {
  const child = cleanup.track(
    startNodeChild('model', 'src/demo-model/main.ts', {
      ...baseEnv(),
      PORT: '0',
      DEMO_MODEL_LATENCY_MS: String(latencyMs),
    }),
    5_000,
  );
  const baseURL = await jsonLine(child, 'baseURL');
  return { baseURL, pid: child.targetPid() ?? (child.process.pid as number) };
}

export interface BaselineSettings {
  modelBaseUrl: string;
  replyUrl: string;
  maxMessageLength: number;
  replyDelaySeconds: number;
  nodeArgs: string[];
}

export async function startBaseline(
  cleanup: Cleanup,
  settings: BaselineSettings,
): Promise<{ url: string; token: string; pageId: string; pid: number }> {
  const token = generateApiToken();
  const child = cleanup.track(
    startNodeChild(
      'baseline',
      'bench/baseline.ts',
      {
        ...baseEnv(),
        PORT: '0',
        BASELINE_TOKEN: token,
        BASELINE_REPLY_URL: settings.replyUrl,
        BASELINE_MAX_MESSAGE_LENGTH: String(settings.maxMessageLength),
        BASELINE_REPLY_DELAY_S: String(settings.replyDelaySeconds),
        OPENAI_BASE_URL: settings.modelBaseUrl,
        OPENAI_API_KEY: 'bench',
      },
      { nodeArgs: settings.nodeArgs, echo: echoWarnings },
    ),
    5_000,
  );
  const url = await jsonLine(child, 'url');
  return { url, token, pageId: 'bench-baseline-page', pid: child.targetPid() ?? (child.process.pid as number) };
}

export interface ChannelSettings {
  replyUrl: string;
  replyDelaySeconds: number;
  maxMessageLength: number;
  coalesceWindowSeconds?: number;
  /** The feature measured (--feature): its agent and channel settings. */
  feature?: BenchFeature;
}

/** The stack's SECRETS_ENCRYPTION_KEY: the API checks tokens hashed under it. */
const secretsKey = randomBytes(32).toString('base64url');

/** Creates an agent and a channel directly through the stores (the admin API is not needed). */
export async function createBenchChannel(
  database: Database,
  settings: ChannelSettings,
): Promise<{ token: string; pageId: string; channelId: string }> {
  const stores = createStores(database.db, { secretBox: createSecretBox(secretsKey) });
  await stores.ensureIndexes();
  const feature = featureSettings(settings.feature);
  const agent = await stores.agents.create({
    ...agentDefaults,
    name: 'bench agent',
    system_prompt: 'You are a helpful assistant.',
    ...feature.agent,
  });
  const token = generateApiToken();
  const pageId = `bench-page-${randomBytes(4).toString('hex')}`;
  const channel = await stores.channels.create({
    ...channelDefaults,
    agent_id: agent.id,
    page_id: pageId,
    reply_webhook_url: settings.replyUrl,
    api_token: token,
    reply_delay_seconds: settings.replyDelaySeconds,
    max_message_length: settings.maxMessageLength,
    coalesce_window_seconds: settings.coalesceWindowSeconds ?? 0,
    ...feature.channel,
  });
  // As the admin API does: every channel signs its replies (none is ever sent unsigned).
  await stores.signingSecrets.create(channel.id);
  return { token, pageId, channelId: channel.id };
}

export interface LocalServersOptions {
  temporalDb: 'memory' | 'file';
}

/** What the API and worker run on: Temporal, MongoDB, and the workflow bundle built ahead. */
export interface LocalServers {
  temporal: RunningServer;
  mongo: RunningServer;
  bundlePath: string;
}

export interface ChatrelayOptions {
  modelBaseUrl: string;
  /** Extra node flags for the API and worker (e.g. --cpu-prof). */
  nodeArgs: (name: 'api' | 'worker') => string[];
  /** Extra environment for the API and worker. */
  extraEnv: Record<string, string>;
  /** Their task queue (default chatrelay-bench): one per configuration, when several run one after another. */
  taskQueue?: string;
}

export type LocalStackOptions = LocalServersOptions & ChatrelayOptions;

export interface LocalStack {
  apiUrl: string;
  mongoUri: string;
  mongoDb: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  mongoServer: string;
  pids: { api: number; worker: number; temporal: number; mongodb: number };
}

export async function startLocalServers(cleanup: Cleanup, options: LocalServersOptions): Promise<LocalServers> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-bench-'));
  cleanup.add('temp data', async () => rmSync(dataDir, { recursive: true, force: true }));
  mkdirSync(join(dataDir, 'mongodb'), { recursive: true });
  const bundlePath = join(dataDir, 'workflow-bundle.js');
  // The workflow bundle is built ahead, as in the production image, so the worker starts without webpack.
  const bundler = cleanup.track(startNodeChild('bundle', 'scripts/build-bundle.ts', baseEnv(), { args: [bundlePath] }));
  const [temporalStart, mongoStart, bundled] = await Promise.allSettled([
    startTemporalDevServer(options.temporalDb === 'file' ? { dbFile: join(dataDir, 'temporal.db') } : {}),
    startMongoServer({ dataDir: join(dataDir, 'mongodb') }),
    runToCompletion(bundler),
  ]);
  // Register whatever did start before reporting what did not, so nothing is left behind.
  if (temporalStart.status === 'fulfilled') cleanup.track(temporalStart.value.child, 10_000);
  if (mongoStart.status === 'fulfilled') cleanup.track(mongoStart.value.child, 10_000);
  for (const result of [temporalStart, mongoStart, bundled]) if (result.status === 'rejected') throw result.reason;
  const temporal = (temporalStart as PromiseFulfilledResult<RunningServer>).value;
  const mongo = (mongoStart as PromiseFulfilledResult<RunningServer>).value;
  return { temporal, mongo, bundlePath };
}

/** The API's admin token and every setting the API and worker share, for the life of the benchmark. */
const adminToken = randomBytes(24).toString('base64url');

/**
 * Starts the API and the worker (registered with the Cleanup as `api` and `worker`: stop both
 * with stopNow before starting them again with other settings) and waits until the API is ready.
 */
export async function startChatrelay(
  cleanup: Cleanup,
  servers: LocalServers,
  options: ChatrelayOptions,
): Promise<LocalStack> {
  const { temporal, mongo } = servers;
  const [apiPort, metricsPort] = await Promise.all([freePort(), freePort()]);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const mongoDb = 'chatrelay_bench';
  const taskQueue = options.taskQueue ?? 'chatrelay-bench';
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: apiUrl,
    MONGODB_URI: mongo.address,
    MONGODB_DB: mongoDb,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    OPENAI_BASE_URL: options.modelBaseUrl,
    OPENAI_API_KEY: 'bench',
    ADMIN_TOKEN: adminToken,
    SECRETS_ENCRYPTION_KEY: secretsKey,
    LOG_LEVEL: 'warn',
    FETCH_ALLOW_PRIVATE: 'true',
    DELIVERY_ALLOW_PRIVATE: 'true',
    METRICS_PORT: String(metricsPort),
    // Read by the benchmark on this machine only: loopback, so no METRICS_TOKEN is needed.
    METRICS_HOST: '127.0.0.1',
    WORKFLOW_BUNDLE_PATH: servers.bundlePath,
    WORKER_SHUTDOWN_GRACE_MS: '5000',
    // The benchmark's own dev server runs one build at a time: the worker makes its version current.
    WORKER_SET_CURRENT: 'true',
    ...options.extraEnv,
  };
  const api = cleanup.track(
    startNodeChild('api', 'src/api/main.ts', env, { nodeArgs: options.nodeArgs('api'), echo: echoWarnings }),
    15_000,
  );
  const worker = cleanup.track(
    startNodeChild('worker', 'src/worker/main.ts', env, { nodeArgs: options.nodeArgs('worker'), echo: echoWarnings }),
    20_000,
  );
  let exited: string | undefined;
  for (const child of [api, worker])
    void child.exited.then((code) => (exited ??= `${child.name} exited (${code})\n${child.recentOutput()}`));
  await waitFor(
    async () => {
      if (exited) throw new Error(exited);
      return (await fetch(`${apiUrl}/readyz`)).ok;
    },
    { timeoutMs: 120_000, intervalMs: 200, what: 'the API to be ready' },
  );
  if (exited) throw new Error(exited);
  return {
    apiUrl,
    mongoUri: mongo.address,
    mongoDb,
    temporalAddress: temporal.address,
    namespace: 'default',
    taskQueue,
    mongoServer: mongo.child.name,
    pids: {
      // The programs themselves, not the shells that tie them to this process (see lib/child.ts).
      api: api.targetPid() ?? (api.process.pid as number),
      worker: worker.targetPid() ?? (worker.process.pid as number),
      temporal: temporal.child.targetPid() ?? (temporal.child.process.pid as number),
      mongodb: mongo.child.targetPid() ?? (mongo.child.process.pid as number),
    },
  };
}

/** The servers, then the API and worker on them. */
export async function startLocalStack(cleanup: Cleanup, options: LocalStackOptions): Promise<LocalStack> {
  return startChatrelay(cleanup, await startLocalServers(cleanup, options), options);
}
