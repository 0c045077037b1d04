/**
 * The local stack: one command that brings up everything chatrelay needs on this machine.
 * - Temporal dev server, unless TEMPORAL_ADDRESS points at a cluster;
 * - a MongoDB-compatible server (mongod on PATH, else FerretDB), unless MONGODB_URI is set;
 * - a demo model (the fake OpenAI-compatible server), unless OPENAI_API_KEY is set;
 * - the API and the worker, as separate processes.
 * Data lives in STACK_DATA_DIR (default .data/), so a restart keeps chats and workflow history.
 * Ctrl-C or SIGTERM stops every child, API and worker first, servers last.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { startChild, type ManagedChild } from '../lib/child.js';
import { waitFor } from '../lib/wait.js';
import { startMongoServer, startTemporalDevServer, type RunningServer } from './servers.js';
import { projectRoot } from './tools.js';

const env = process.env;
/** RETENTION_DAYS of the stack's own database, unless set. */
const LOCAL_RETENTION_DAYS = 30;
const echo = (line: string): void => console.log(line);
const dataDir = resolve(env.STACK_DATA_DIR ?? join(projectRoot, '.data'));
mkdirSync(dataDir, { recursive: true });

const stoppables: Array<{ name: string; stop: () => Promise<void> }> = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // Reverse start order: the API and worker go before the servers they depend on.
    for (const item of [...stoppables].reverse()) {
      await item
        .stop()
        .catch((error: unknown) => console.error(`[stack] stopping ${item.name} failed: ${String(error)}`));
    }
  }
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll(0));

function watch(child: ManagedChild): void {
  stoppables.push({ name: child.name, stop: () => child.stop(35_000) });
  void child.exited.then((code) => {
    if (stopping) return;
    console.error(`[stack] ${child.name} exited unexpectedly (${code}); stopping the stack\n${child.recentOutput()}`);
    void stopAll(1);
  });
}

function persistentSecret(file: string): string {
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = randomBytes(24).toString('base64url');
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return value;
}

/**
 * The payload encryption keys of the local stack, kept in .data/payload-encryption-keys as
 * `id:base64key` (newest first): to try a rotation, put a new key in front (`openssl rand -base64 32`).
 */
function persistentPayloadKeys(): string {
  const path = join(dataDir, 'payload-encryption-keys');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = `local-${new Date().toISOString().slice(0, 10)}:${randomBytes(32).toString('base64')}`;
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return value;
}

async function startDemoModel(): Promise<string> {
  const child = startChild(
    'demo-model',
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'src/demo-model/main.ts')],
    {
      env: { ...env, PORT: env.STACK_DEMO_MODEL_PORT ?? '0' },
      cwd: projectRoot,
    },
  );
  watch(child);
  const lines = createInterface({ input: child.process.stdout! });
  for await (const line of lines) {
    const match = /"baseURL":"([^"]+)"/.exec(line);
    if (match?.[1]) return match[1];
  }
  throw new Error(`demo model did not start\n${child.recentOutput()}`);
}

async function main(): Promise<void> {
  const childEnv: NodeJS.ProcessEnv = { ...env };

  if (!env.TEMPORAL_ADDRESS) {
    const temporal: RunningServer & { uiPort?: number } = await startTemporalDevServer({
      port: Number(env.STACK_TEMPORAL_PORT ?? 7233),
      uiPort: Number(env.STACK_TEMPORAL_UI_PORT ?? 8233),
      headless: env.STACK_TEMPORAL_UI === 'false',
      dbFile: join(dataDir, 'temporal.db'),
    });
    watch(temporal.child);
    childEnv.TEMPORAL_ADDRESS = temporal.address;
    // Its own plaintext dev server: none of the shell's Temporal profile, TLS or API key applies
    // (src/temporal/connection.ts reads them as the temporal CLI does); no config file either.
    for (const name of Object.keys(childEnv))
      if (/^TEMPORAL_(TLS|API_KEY|PROFILE|GRPC_META_)/.test(name)) delete childEnv[name];
    childEnv.TEMPORAL_CONFIG_FILE = join(dataDir, 'no-temporal-config.toml');
    // Worker Versioning (docs/upgrades.md): the stack runs one build at a time, so its worker makes
    // its version (the checkout's commit) current when it starts. On a cluster of yours
    // (TEMPORAL_ADDRESS) your rollout does that, unless you set WORKER_SET_CURRENT=true.
    childEnv.WORKER_SET_CURRENT ??= 'true';
    console.log(
      `[stack] Temporal dev server at ${temporal.address}${temporal.uiPort ? `, UI at http://127.0.0.1:${temporal.uiPort}` : ''}`,
    );
  }
  if (!env.MONGODB_URI) {
    const mongo = await startMongoServer({
      port: Number(env.STACK_MONGODB_PORT ?? 27017),
      dataDir: join(dataDir, 'mongodb'),
    });
    watch(mongo.child);
    childEnv.MONGODB_URI = mongo.address;
    console.log(`[stack] ${mongo.child.name} at ${mongo.address}`);
    // The stack's own database would otherwise grow without end: keep what a trial or a
    // development stack needs. (A database of yours, MONGODB_URI, keeps your RETENTION_DAYS, 0 by default.)
    if (env.RETENTION_DAYS === undefined) {
      childEnv.RETENTION_DAYS = String(LOCAL_RETENTION_DAYS);
      console.log(
        `[stack] messages older than ${LOCAL_RETENTION_DAYS} days are deleted daily (RETENTION_DAYS; 0 keeps everything)`,
      );
    }
  }
  if (!env.OPENAI_API_KEY) {
    childEnv.OPENAI_BASE_URL = await startDemoModel();
    childEnv.OPENAI_API_KEY = 'demo';
    console.log(
      `[stack] OPENAI_API_KEY is not set: replies come from the built-in demo model at ${childEnv.OPENAI_BASE_URL}`,
    );
  }
  if (!env.ADMIN_TOKEN) {
    childEnv.ADMIN_TOKEN = persistentSecret('admin-token');
    console.log(`[stack] ADMIN_TOKEN is not set: using the one kept in ${join(dataDir, 'admin-token')}`);
  }
  // The API listens on every interface here too, and the processes refuse to serve GET /metrics
  // there without a token (src/config.ts, checkMetricsExposure).
  if (!env.METRICS_TOKEN) {
    childEnv.METRICS_TOKEN = persistentSecret('metrics-token');
    console.log(
      `[stack] METRICS_TOKEN is not set: GET /metrics needs the one kept in ${join(dataDir, 'metrics-token')}`,
    );
  }
  if (!env.SECRETS_ENCRYPTION_KEY) childEnv.SECRETS_ENCRYPTION_KEY = persistentSecret('secrets-encryption-key');
  if (!env.PAYLOAD_ENCRYPTION_KEYS) childEnv.PAYLOAD_ENCRYPTION_KEYS = persistentPayloadKeys();
  // Locally, receivers and voice notes are often on this machine; production keeps the default (refused).
  childEnv.FETCH_ALLOW_PRIVATE ??= 'true';
  childEnv.DELIVERY_ALLOW_PRIVATE ??= 'true';

  const tsx = ['--import', 'tsx'];
  const api = startChild('api', process.execPath, [...tsx, join(projectRoot, 'src/api/main.ts')], {
    env: childEnv,
    cwd: projectRoot,
    echo,
  });
  watch(api);
  const worker = startChild('worker', process.execPath, [...tsx, join(projectRoot, 'src/worker/main.ts')], {
    env: childEnv,
    cwd: projectRoot,
    echo,
  });
  watch(worker);

  const port = childEnv.PORT ?? '8080';
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/readyz`)).ok, {
    timeoutMs: 180_000,
    intervalMs: 250,
    what: 'the API to be ready',
  });
  console.log(`[stack] ready: API at ${base} (POST /webhook/mychatbot, GET /readyz). Ctrl-C stops everything.`);
  // The first thing a new user opens. The token itself is not printed: terminals end up in logs.
  const tokenHint = env.ADMIN_TOKEN ? 'your ADMIN_TOKEN' : `the admin token in ${join(dataDir, 'admin-token')}`;
  const built = existsSync(join(projectRoot, 'dist', 'dashboard', 'index.html'));
  console.log(
    built
      ? `[stack] dashboard: ${base}/dashboard/ (sign in with ${tokenHint})`
      : `[stack] the dashboard is not built: run \`npm run build:dashboard\` (./scripts/stack.sh builds it), then open ${base}/dashboard/`,
  );
}

main().catch((error: unknown) => {
  console.error(`[stack] failed to start: ${error instanceof Error ? error.message : String(error)}`);
  void stopAll(1);
});
