import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { startChild, type ManagedChild } from '../lib/child.js';
import { freePort } from '../lib/ports.js';
import { waitFor } from '../lib/wait.js';
import { devServerSearchAttributeArgs } from '../temporal/search-attribute-registry.js';
import { onPath, tool } from './tools.js';

export interface RunningServer {
  /** host:port for Temporal, a mongodb:// URI for MongoDB. */
  readonly address: string;
  readonly child: ManagedChild;
  stop(): Promise<void>;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function awaitPort(child: ManagedChild, port: number, timeoutMs: number): Promise<void> {
  let exitedWith: number | string | undefined;
  void child.exited.then((code) => {
    exitedWith = code;
  });
  try {
    await waitFor(
      async () => {
        if (exitedWith !== undefined) throw new Error(`${child.name} exited (${exitedWith})`);
        return tcpOpen(port);
      },
      { timeoutMs, intervalMs: 100, what: `${child.name} on port ${port}` },
    );
  } catch (error) {
    await child.stop(2_000);
    throw new Error(`${(error as Error).message}\n${child.recentOutput()}`);
  }
}

export interface TemporalDevServerOptions {
  /** The frontend (gRPC) port; chosen free when omitted, and then chosen again if it cannot be bound. */
  port?: number;
  uiPort?: number;
  /** The HTTP API and metrics ports: chosen free when omitted, never left to the server to pick. */
  httpPort?: number;
  metricsPort?: number;
  /** File for persistent state; omit for an in-memory server. */
  dbFile?: string;
  headless?: boolean;
  /** Register chatrelay's search attributes at start (default); off only to test a namespace without them. */
  searchAttributes?: boolean;
  echo?: (line: string) => void;
}

/**
 * The dev server's defaults fsync every commit (rollback journal, synchronous=full) and refresh
 * the search-attribute cache on every read; on a small machine that costs 1.7x the CPU per
 * message and 20x the acknowledgement p99. WAL with synchronous=normal keeps the state on disk
 * (a crash of the machine may lose the last commits, a crash of the process loses nothing).
 */
export const temporalDevServerTuning = [
  '--sqlite-pragma',
  'journal_mode=wal',
  '--sqlite-pragma',
  'synchronous=normal',
  '--dynamic-config-value',
  'system.forceSearchAttributesCacheRefreshOnRead=false',
  // The task queue backlog the API's load gate reads (src/api/load-gate.ts) is refreshed every
  // 500 ms instead of every 5 s, so the gate closes and opens in time.
  '--dynamic-config-value',
  'matching.TaskQueueInfoByBuildIdTTL="500ms"',
  // Eager activity dispatch: the activity a workflow task schedules goes back to the same worker in
  // the answer to that task's completion, instead of through the task queue and a poll. The server
  // default is off; on, the dev server spent 10-15% less CPU per message (docs/benchmarks.md).
  '--dynamic-config-value',
  'system.enableActivityEagerExecution=true',
  // An erasure deletes the user's workflow executions (src/temporal/history-erasure.ts). Temporal
  // deletes a closed one only once its transfer queue's ack level, saved every 30 s by default,
  // has passed the close: deletion took 35 s here, 4 s with the level saved every second.
  '--dynamic-config-value',
  'history.transferProcessorUpdateAckInterval="1s"',
] as const;

// Worker Versioning (Worker Deployments, and upgrade on continue-as-new: docs/upgrades.md) needs no
// dynamic config on this dev server (Temporal CLI 1.9.1, Server 1.32): both are on by default.

/** Tries on fresh ports when a port we picked was taken by someone else before the server bound it. */
const DEV_SERVER_START_ATTEMPTS = 3;

/**
 * Starts the official Temporal CLI dev server on loopback. Every port it lets us choose (frontend,
 * HTTP, metrics, UI) is chosen here and passed explicitly; a start that fails because a port was
 * taken meanwhile is tried again, on other free ports unless the caller fixed them. The CLI picks
 * its internal services' ports (history, matching, worker) itself, with no flag to pass them, so a
 * server restarted on a fixed port may still lose one of those to another process: that is
 * retried too, and the CLI picks again.
 */
export async function startTemporalDevServer(
  options: TemporalDevServerOptions = {},
): Promise<RunningServer & { uiPort?: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const httpPort = options.httpPort ?? (await freePort());
    const metricsPort = options.metricsPort ?? (await freePort());
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort)];
    args.push('--metrics-port', String(metricsPort), '--log-level', 'warn', ...temporalDevServerTuning);
    // chatrelay's search attributes (src/workflows/search-attributes.ts), registered at every start
    // (a persistent server keeps them; registering one it has is a no-op).
    if (options.searchAttributes ?? true) args.push(...devServerSearchAttributeArgs());
    let uiPort: number | undefined;
    if (options.headless ?? true) args.push('--headless');
    else {
      uiPort = options.uiPort ?? (await freePort());
      args.push('--ui-port', String(uiPort));
    }
    if (options.dbFile) args.push('--db-filename', options.dbFile);
    const child = startChild('temporal', tool('temporal'), args, { echo: options.echo });
    try {
      // Every port it binds: a server that failed to bind one of them exits, and is started again.
      for (const bound of [port, httpPort, metricsPort]) await awaitPort(child, bound, 60_000);
      return { address: `127.0.0.1:${port}`, child, uiPort, stop: () => child.stop() };
    } catch (error) {
      const bindFailure = /address already in use|bind:/i.test((error as Error).message);
      if (!bindFailure || attempt >= DEV_SERVER_START_ATTEMPTS) throw error;
    }
  }
}

export interface MongoServerOptions {
  port?: number;
  /** Folder for the server's data; created if missing. */
  dataDir: string;
  echo?: (line: string) => void;
}

/**
 * FerretDB runs SQLite in WAL mode with SQLite's default synchronous=full: an fsync at every
 * commit, and each of our writes is a commit. synchronous=normal syncs at checkpoints instead; the
 * data stays on disk and consistent, and a crash of the machine (not of the process) may lose the
 * last commits: what MongoDB's own default journalling (a group commit every 100 ms) allows too.
 * Measured with `npm run bench` (docs/benchmarks.md): about a third less FerretDB CPU per message.
 */
export const ferretdbSqlitePragmas = '_pragma=synchronous(normal)';

/**
 * Starts a MongoDB-compatible server on loopback: a real `mongod` when one is on PATH,
 * otherwise the provisioned FerretDB with its SQLite handler.
 */
export async function startMongoServer(options: MongoServerOptions): Promise<RunningServer> {
  const mongod = onPath('mongod');
  mkdirSync(mongod ? options.dataDir : join(options.dataDir, 'sqlite'), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const child = mongod
      ? startChild(
          'mongod',
          mongod,
          ['--bind_ip', '127.0.0.1', '--port', String(port), '--dbpath', options.dataDir, '--quiet'],
          {
            echo: options.echo,
          },
        )
      : startChild(
          'ferretdb',
          tool('ferretdb'),
          [
            '--handler=sqlite',
            `--sqlite-url=file:${join(options.dataDir, 'sqlite')}/?${ferretdbSqlitePragmas}`,
            `--state-dir=${options.dataDir}`,
            `--listen-addr=127.0.0.1:${port}`,
            '--debug-addr=-',
            '--telemetry=disable',
            '--log-level=warn',
          ],
          { echo: options.echo },
        );
    try {
      await awaitPort(child, port, 30_000);
      return { address: `mongodb://127.0.0.1:${port}`, child, stop: () => child.stop() };
    } catch (error) {
      const bindFailure = /address already in use|bind:/i.test((error as Error).message);
      if (options.port !== undefined || !bindFailure || attempt >= DEV_SERVER_START_ATTEMPTS) throw error;
    }
  }
}
