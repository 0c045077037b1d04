/**
 * The child-process mode of the test stack (`startStack({ processes: true })`, test/helpers/stack.ts),
 * with the same environment as the in-process one (stackEnv), for fault tests: the API and the worker
 * run as CHILD PROCESSES from their entry points (`node --import tsx src/api/main.ts`,
 * `src/worker/main.ts`), the Temporal dev server keeps its state in a file and FerretDB (or mongod)
 * in a data folder on fixed ports, so each can be killed or stopped and started again with the same
 * state on the same address. The fake model API and a scriptable receiver run in the test process.
 *
 * Nothing outlives the test file: close() stops everything (call it in an `after` hook; it is safe
 * after a failure), and an exit hook SIGKILLs any child still alive should the runner cut us off.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, secretBoxPassphrase, type Config } from '../../src/config.js';
import { startFakeModel, type FakeModel, type FakeModelOptions } from './fake-model.js';
import { startChild, type ManagedChild } from '../../src/lib/child.js';
import { freePort } from '../../src/lib/ports.js';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { waitFor } from '../../src/lib/wait.js';
import type { FinalStatus } from '../../src/domain/models.js';
import { tracingRequested } from '../../src/observability/tracing.js';
import { tracedBundlePath, workflowInterceptorModules } from '../../src/observability/worker-observability.js';
import { startMongoServer, startTemporalDevServer, type RunningServer } from '../../src/stack/servers.js';
import { projectRoot } from '../../src/stack/tools.js';
import { collections } from '../../src/stores/collections.js';
import { openDatabase, type Database } from '../../src/stores/db.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { workflowsPath } from '../../src/worker/worker.js';
import { sharedBundleFile } from './bundles.js';
import { descendants, isAlive } from './procs.js';
import { startReceiver, type Receiver } from './receiver.js';
import { stackEnv } from './stack-env.js';

/** Copy the children's output to stderr (all of it with FAULTS_ECHO=all, else warnings and errors only with FAULTS_ECHO=1). */
const echoSetting = process.env.FAULTS_ECHO ?? '';

// ---------------------------------------------------------------------------------------------
// Children that must never outlive the test process.
//
// startChild (src/lib/child.ts) runs each command under a small shell that ties it to this process:
// `child.process` is that shell, and the real program is its child. A fault test must hit the real
// program (SIGKILL to the shell would only make the shell kill it a moment later), so signals
// below go to the program itself, found under the shell in /proc.

const liveChildren = new Set<ManagedChild>();
let exitHookInstalled = false;

function track(child: ManagedChild): ManagedChild {
  liveChildren.add(child);
  void child.exited.then(() => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const live of liveChildren) {
        const pids = live.process.pid === undefined ? [] : [...descendants(live.process.pid), live.process.pid];
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
      }
    });
  }
  return child;
}

function isRunning(child: ManagedChild | undefined): boolean {
  return child !== undefined && child.process.exitCode === null && child.process.signalCode === null;
}

/** The pid of the program a ManagedChild runs, below its tying shell; undefined once it is gone. */
export function programPid(child: ManagedChild): number | undefined {
  const shell = child.process.pid;
  if (shell === undefined || !isAlive(shell)) return undefined;
  const exe = (pid: number): string | undefined => {
    try {
      return readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return undefined;
    }
  };
  const shellExe = exe(shell);
  const below = descendants(shell);
  // No tying shell (an older startChild): the child is the program.
  if (below.length === 0) return shell;
  return below.find((pid) => isAlive(pid) && exe(pid) !== shellExe);
}

/**
 * SIGKILL: the program itself is killed (a crash, as far as it can tell); SIGTERM: a clean stop,
 * passed on by the shell, SIGKILL after `graceMs`. Resolves once the program and its shell are gone.
 */
async function signalAndWait(child: ManagedChild, signal: 'SIGTERM' | 'SIGKILL', graceMs = 15_000): Promise<void> {
  const pid = programPid(child);
  if (signal === 'SIGKILL') {
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  } else if (isRunning(child)) {
    await child.stop(graceMs);
  }
  if (isRunning(child)) {
    // The shell notices its program is gone and exits; give it a moment, then make sure.
    const timer = setTimeout(() => child.process.kill('SIGKILL'), 5_000);
    await child.exited;
    clearTimeout(timer);
  }
  if (pid !== undefined)
    await waitFor(() => !isAlive(pid), {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: `${child.name} (pid ${pid}) to exit`,
    });
}

// ---------------------------------------------------------------------------------------------
// Restartable pieces.

export interface NodeRole {
  readonly name: 'api' | 'worker';
  readonly running: boolean;
  readonly pid: number | undefined;
  /** Every output line of every run, oldest first. */
  readonly output: string[];
  /** How many times this role was started. */
  readonly starts: number;
  /** The exit code or signal of the last run, once it has exited. */
  lastExit(): Promise<number | string> | undefined;
  /**
   * Starts the process and resolves, with the time it took, once it is ready (API: /healthz;
   * worker: polling). `envOverrides` changes this run's environment only (e.g. a wrong key).
   */
  start(envOverrides?: Record<string, string>): Promise<number>;
  /** SIGKILL (default: a crash) or SIGTERM (a clean stop); resolves once the process has exited. */
  kill(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

export interface RestartableServer {
  readonly name: 'temporal' | 'mongodb';
  /** host:port (Temporal) or mongodb:// URI; the same across restarts. */
  readonly address: string;
  readonly port: number;
  readonly running: boolean;
  readonly child: ManagedChild | undefined;
  /** Starts it again on the same port with the same state; resolves with the time it took to listen. */
  start(): Promise<number>;
  /** SIGTERM (a clean stop) or SIGKILL; resolves once the process has exited. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

export interface PostResult {
  /** The HTTP status, or 0 when no answer came (connection refused or reset, or no answer in time). */
  status: number;
  body: Record<string, unknown>;
  /** When status is 0: why. */
  error?: string;
  ms: number;
}

export interface ProcessStackOptions {
  /** Extra environment for the API and the worker (e.g. DELIVERY_RETRY_SCHEDULE). */
  env?: Record<string, string>;
  fake?: FakeModelOptions;
  /** Build the workflow bundle once ahead, as the production image does (default), instead of at every worker start. */
  prebuiltBundle?: boolean;
  /** How many API processes (default 1): each on its own port, with the same environment otherwise. */
  apis?: number;
  /**
   * More environment, made once the servers run and before the API and the worker start: e.g. a
   * TLS terminator in front of Temporal (test/e2e/temporal-mtls.test.ts) and the settings to reach it.
   */
  envFor?: (servers: { temporalAddress: string }) => Promise<Record<string, string>>;
}

/** How a message ended, as the fault tests check it. */
export interface SettledMessage {
  _id: string;
  status: FinalStatus;
  reason?: string;
  part_count?: number;
  parts_delivered: number;
}

export interface ProcessStack {
  readonly dataDir: string;
  readonly apiUrl: string;
  /** The environment the API and the worker run with. */
  readonly env: Readonly<Record<string, string>>;
  readonly config: Config;
  /** The stores on a connection of the test process's own, with the children's secret box. */
  readonly stores: Stores;
  readonly database: Database;
  readonly fake: FakeModel;
  readonly receiver: Receiver;
  readonly temporal: RestartableServer;
  readonly mongo: RestartableServer;
  /** The first API (`apis[0]`). */
  readonly api: NodeRole;
  /** Every API process (`apis` of the options), each on its own port. */
  readonly apis: readonly NodeRole[];
  /** The URL of each API, in the order of `apis`. */
  readonly apiUrls: readonly string[];
  readonly worker: NodeRole;
  /** POSTs a message to the webhook of API `via` (default 0); never throws (a network error is status 0). */
  postMessage(token: string, body: Record<string, unknown>, timeoutMs?: number, via?: number): Promise<PostResult>;
  /** Waits until every message has a final status in MongoDB (delivered, failed, not_answered); returns how each ended. */
  settled(messageIds: readonly string[], timeoutMs: number): Promise<SettledMessage[]>;
  /** The last lines of the API's and the worker's output, for assertion messages. */
  diagnostics(lines?: number): string;
  close(): Promise<void>;
}

/** A clean environment for children: only what a process needs from ours, nothing else leaks in. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function echoFor(name: string): ((line: string) => void) | undefined {
  if (echoSetting === 'all') return (line) => console.error(line);
  if (echoSetting !== '')
    return (line) =>
      /"level":"(warn|error|fatal)"|\b(WARN|ERROR|FATAL|panic)\b/.test(line) ? console.error(line) : undefined;
  void name;
  return undefined;
}

/**
 * Lays the production workflow bundle (and, for a traced stack, its traced twin) at `path`, as the
 * image's build does (scripts/build-bundle.ts), from the bundles shared by the test run.
 */
async function prebuildBundle(path: string, traced: boolean): Promise<void> {
  const bundles = [{ tracing: false, to: path }, ...(traced ? [{ tracing: true, to: tracedBundlePath(path) }] : [])];
  for (const { tracing, to } of bundles)
    copyFileSync(
      await sharedBundleFile({ workflowsPath, workflowInterceptorModules: workflowInterceptorModules({ tracing }) }),
      to,
    );
}

function restartableServer(
  name: 'temporal' | 'mongodb',
  port: number,
  address: string,
  launch: () => Promise<RunningServer>,
): RestartableServer & { first: () => Promise<void> } {
  let current: RunningServer | undefined;
  const server = {
    name,
    address,
    port,
    get running() {
      return isRunning(current?.child);
    },
    get child() {
      return current?.child;
    },
    async start() {
      if (isRunning(current?.child)) throw new Error(`${name} is already running`);
      const started = Date.now();
      current = await launch();
      track(current.child);
      return Date.now() - started;
    },
    async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') {
      if (current) await signalAndWait(current.child, signal);
    },
    async first() {
      await server.start();
    },
  };
  return server;
}

export async function startProcessStack(options: ProcessStackOptions = {}): Promise<ProcessStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-faults-'));
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    while (cleanups.length > 0) {
      const step = cleanups.pop() as () => Promise<void>;
      await step().catch((error: unknown) => console.error(`[process-stack] cleanup step failed: ${String(error)}`));
    }
  };
  try {
    return await build(dataDir, options, cleanups);
  } catch (error) {
    await cleanup();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

async function build(
  dataDir: string,
  options: ProcessStackOptions,
  cleanups: Array<() => Promise<void>>,
): Promise<ProcessStack> {
  const apiCount = options.apis ?? 1;
  const ports = await Promise.all(Array.from({ length: 2 + apiCount }, () => freePort()));
  const [temporalPort, mongoPort] = ports as [number, number];
  const apiPorts = ports.slice(2);
  const apiPort = apiPorts[0] as number;
  const temporalDb = join(dataDir, 'temporal.db');
  const mongoDir = join(dataDir, 'mongodb');
  mkdirSync(mongoDir, { recursive: true });
  const temporal = restartableServer('temporal', temporalPort, `127.0.0.1:${temporalPort}`, () =>
    startTemporalDevServer({
      port: temporalPort,
      dbFile: temporalDb,
      ...(echoFor('temporal') ? { echo: echoFor('temporal') } : {}),
    }),
  );
  const mongo = restartableServer('mongodb', mongoPort, `mongodb://127.0.0.1:${mongoPort}`, () =>
    startMongoServer({
      port: mongoPort,
      dataDir: mongoDir,
      ...(echoFor('mongodb') ? { echo: echoFor('mongodb') } : {}),
    }),
  );
  const bundlePath = join(dataDir, 'workflow-bundle.js');
  const prebuilt = options.prebuiltBundle ?? true;

  cleanups.push(() => temporal.stop());
  cleanups.push(() => mongo.stop());
  const [fake, receiver] = await Promise.all([
    startFakeModel(options.fake ?? {}),
    startReceiver(),
    temporal.first(),
    mongo.first(),
    prebuilt ? prebuildBundle(bundlePath, tracingRequested(options.env ?? {})) : Promise.resolve(),
  ]);
  cleanups.push(() => fake.close());
  cleanups.push(() => receiver.close());

  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const late = options.envFor ? await options.envFor({ temporalAddress: temporal.address }) : {};
  const env: Record<string, string> = {
    ...baseEnv(),
    ...stackEnv({
      port: apiPort,
      mongoUri: mongo.address,
      mongoDb: 'chatrelay_faults',
      temporalAddress: temporal.address,
      modelBaseUrl: fake.baseURL,
    }),
    // The hostile-input tests send dozens of refused requests from this one address on purpose.
    RATE_LIMIT_FAILURES_PER_MINUTE: '0',
    // info, not warn: the worker's "worker started" line tells when it polls; every line is kept for diagnostics.
    LOG_LEVEL: 'info',
    METRICS_PORT: '0',
    WORKER_SHUTDOWN_GRACE_MS: '5000',
    API_SHUTDOWN_TIMEOUT_MS: '3000',
    ...(prebuilt ? { WORKFLOW_BUNDLE_PATH: bundlePath } : {}),
    ...options.env,
    ...late,
  };
  const config = loadConfig(env);
  const database = openDatabase(mongo.address, config.MONGODB_DB);
  cleanups.push(() => database.close());
  const stores = createStores(database.db, { secretBox: createSecretBox(secretBoxPassphrase(config)) });
  await stores.ensureIndexes();

  const nodeRole = (
    name: 'api' | 'worker',
    ready: (child: ManagedChild, from: number, output: string[]) => Promise<unknown>,
    roleEnv: Record<string, string> = {},
  ): NodeRole => {
    let child: ManagedChild | undefined;
    let starts = 0;
    const output: string[] = [];
    const echo = echoFor(name);
    const role: NodeRole = {
      name,
      get running() {
        return isRunning(child);
      },
      get pid() {
        return child ? programPid(child) : undefined;
      },
      output,
      get starts() {
        return starts;
      },
      lastExit: () => child?.exited,
      async start(envOverrides: Record<string, string> = {}) {
        if (isRunning(child)) throw new Error(`the ${name} is already running`);
        const started = Date.now();
        const from = output.length;
        starts += 1;
        child = track(
          startChild(name, process.execPath, ['--import', 'tsx', join(projectRoot, `src/${name}/main.ts`)], {
            env: { ...env, ...roleEnv, ...envOverrides },
            cwd: projectRoot,
            echo: (line) => {
              output.push(line);
              echo?.(line);
            },
          }),
        );
        await ready(child, from, output);
        return Date.now() - started;
      },
      async kill(signal: 'SIGTERM' | 'SIGKILL' = 'SIGKILL') {
        if (child) await signalAndWait(child, signal, 10_000);
      },
    };
    cleanups.push(() => role.kill('SIGKILL'));
    return role;
  };

  const exitedEarly = (child: ManagedChild, what: string): void => {
    if (!isRunning(child))
      throw new Error(
        `the ${what} exited (${String(child.process.exitCode ?? child.process.signalCode)})\n${child.recentOutput()}`,
      );
  };
  const apiUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
  // Every API but the first differs from it only in its port (the task queue, named after the first's, is shared).
  const apis = apiPorts.map((port, index) =>
    nodeRole(
      'api',
      (child) =>
        waitFor(
          async () => {
            exitedEarly(child, `API ${index + 1}`);
            return (await fetch(`${apiUrls[index] ?? apiUrl}/healthz`)).status === 200;
          },
          { timeoutMs: 60_000, intervalMs: 100, what: `API ${index + 1} to listen` },
        ),
      index === 0 ? {} : { PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}` },
    ),
  );
  const api = apis[0] as NodeRole;
  const worker = nodeRole('worker', (child, from, output) =>
    waitFor(
      () => {
        exitedEarly(child, 'worker');
        return output.slice(from).some((line) => line.includes('"msg":"worker started"'));
      },
      { timeoutMs: 120_000, intervalMs: 100, what: 'the worker to start' },
    ),
  );
  await Promise.all([...apis.map((role) => role.start()), worker.start()]);

  const postMessage = async (
    token: string,
    body: Record<string, unknown>,
    timeoutMs = 20_000,
    via = 0,
  ): Promise<PostResult> => {
    const started = Date.now();
    try {
      const response = await fetch(`${apiUrls[via] ?? apiUrl}/webhook/mychatbot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { raw: text };
      }
      return { status: response.status, body: parsed, ms: Date.now() - started };
    } catch (error) {
      const cause = (error as { cause?: { code?: unknown } }).cause;
      const code = typeof cause?.code === 'string' ? cause.code : (error as Error).message;
      return { status: 0, body: {}, error: code, ms: Date.now() - started };
    }
  };

  const records = collections(database.db);
  const settled = (messageIds: readonly string[], timeoutMs: number): Promise<SettledMessage[]> =>
    waitFor(
      async () => {
        const outcomes = await records.outcomes.find({ _id: { $in: [...messageIds] } }).toArray();
        if (outcomes.length !== messageIds.length) return undefined;
        const replies = new Map(
          (await records.replies.find({ _id: { $in: [...messageIds] } }).toArray()).map((reply) => [reply._id, reply]),
        );
        return outcomes.map((outcome) => {
          const reply = replies.get(outcome._id);
          const reason = outcome.reason ?? reply?.reason;
          return {
            _id: outcome._id,
            status: outcome.status,
            ...(reason !== undefined ? { reason } : {}),
            ...(reply ? { part_count: reply.parts.length } : {}),
            parts_delivered: outcome.parts_delivered,
          };
        });
      },
      { timeoutMs, intervalMs: 250, what: `${messageIds.length} messages to reach a final status` },
    );

  const clip = (line: string): string => (line.length > 400 ? `${line.slice(0, 400)}…` : line);
  const diagnostics = (lines = 20): string =>
    [
      ...apis.flatMap((role, index) => [
        `--- api${index === 0 ? '' : ` ${index + 1}`} (last ${lines} lines)`,
        ...role.output.slice(-lines).map(clip),
      ]),
      `--- worker (last ${lines} lines)`,
      ...worker.output.slice(-lines).map(clip),
    ].join('\n');

  return {
    dataDir,
    apiUrl,
    env,
    config,
    stores,
    database,
    fake,
    receiver,
    temporal,
    mongo,
    api,
    apis,
    apiUrls,
    worker,
    postMessage,
    settled,
    diagnostics,
    async close() {
      // API and worker first, then the servers they use (cleanups run last registered first).
      while (cleanups.length > 0) {
        const step = cleanups.pop() as () => Promise<void>;
        await step().catch((error: unknown) => console.error(`[process-stack] cleanup step failed: ${String(error)}`));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
