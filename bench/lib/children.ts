/**
 * Every process the benchmark starts is registered here, so that any way out (normal end, an
 * error, Ctrl-C, SIGTERM) stops all of them, in reverse start order: the API and worker before
 * the servers they use. As a last resort an `exit` hook SIGKILLs whatever is still alive.
 */
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { startChild, type ManagedChild, type StartChildOptions } from '../../src/lib/child.js';
import { projectRoot } from '../../src/stack/tools.js';

interface Stoppable {
  name: string;
  stop: () => Promise<void>;
}

export class Cleanup {
  private readonly items: Stoppable[] = [];
  private readonly children = new Set<ManagedChild>();
  private running: Promise<void> | undefined;

  constructor() {
    process.once('exit', () => this.killSync());
  }

  add(name: string, stop: () => Promise<void>): void {
    this.items.push({ name, stop });
  }

  /** Registers a child; `graceMs` is how long it gets after SIGTERM before SIGKILL. */
  track(child: ManagedChild, graceMs = 10_000): ManagedChild {
    this.children.add(child);
    this.add(child.name, () => child.stop(graceMs));
    return child;
  }

  /** Stops one registered item now (e.g. the API and worker before reading their profiles). */
  async stopNow(name: string): Promise<void> {
    const index = this.items.findIndex((item) => item.name === name);
    if (index < 0) return;
    const [item] = this.items.splice(index, 1);
    await item?.stop().catch((error: unknown) => console.error(`[bench] stopping ${name} failed: ${String(error)}`));
  }

  /** Stops everything still registered, last started first; safe to call more than once. */
  runAll(): Promise<void> {
    this.running ??= (async () => {
      while (this.items.length > 0) {
        const item = this.items.pop() as Stoppable;
        await item
          .stop()
          .catch((error: unknown) => console.error(`[bench] stopping ${item.name} failed: ${String(error)}`));
      }
    })();
    return this.running;
  }

  private killSync(): void {
    for (const child of this.children) {
      if (child.process.exitCode === null && child.process.signalCode === null && child.process.pid !== undefined) {
        try {
          process.kill(child.targetPid() ?? child.process.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  }
}

/** Starts a TypeScript entry point of this repository as `node --import tsx <script>`. */
export function startNodeChild(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  options: { nodeArgs?: string[]; args?: string[]; echo?: StartChildOptions['echo'] } = {},
): ManagedChild {
  return startChild(
    name,
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', 'tsx', join(projectRoot, script), ...(options.args ?? [])],
    {
      env,
      cwd: projectRoot,
      ...(options.echo ? { echo: options.echo } : {}),
    },
  );
}

/** Resolves with the first stdout line that parses as a JSON object with `key`, e.g. `{"baseURL": ...}`. */
export function jsonLine(child: ManagedChild, key: string, timeoutMs = 60_000): Promise<string> {
  const stdout = child.process.stdout;
  if (!stdout) return Promise.reject(new Error(`${child.name} has no stdout`));
  return new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: stdout });
    let settled = false;
    const finish = (error: Error | undefined, value?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      lines.close();
      if (error) reject(error);
      else resolve(value as string);
    };
    const timer = setTimeout(
      () => finish(new Error(`${child.name} did not print ${key} within ${timeoutMs} ms\n${child.recentOutput()}`)),
      timeoutMs,
    );
    lines.on('line', (line) => {
      try {
        const value = (JSON.parse(line) as Record<string, unknown>)[key];
        if (typeof value === 'string') finish(undefined, value);
      } catch {
        // Not a JSON line.
      }
    });
    void child.exited.then((code) =>
      finish(new Error(`${child.name} exited (${code}) before printing ${key}\n${child.recentOutput()}`)),
    );
  });
}

/** Waits for a child to exit by itself (e.g. a build step) and fails when it did not succeed. */
export async function runToCompletion(child: ManagedChild): Promise<void> {
  const code = await child.exited;
  if (code !== 0) throw new Error(`${child.name} failed (${String(code)})\n${child.recentOutput()}`);
}
