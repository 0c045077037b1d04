import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

export interface ManagedChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /**
   * The pid of the program itself: `process` is the small shell that ties it to us (see
   * TIED_TO_PARENT), so measuring or killing the program needs this pid. Undefined until it runs.
   */
  targetPid(): number | undefined;
  /** Last lines of combined output, for error messages when a child fails to start. */
  recentOutput(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartChildOptions extends SpawnOptions {
  /** Where to copy the child's output lines (prefixed with its name); omit to keep them quiet. */
  echo?: (line: string) => void;
}

/**
 * Runs a command so that it dies with us: a small shell keeps a pipe from this process open on
 * its standard input and kills the command when that pipe closes, which is also what happens when
 * this process is killed with SIGKILL and cannot clean up. SIGTERM/SIGINT are passed on.
 */
const TIED_TO_PARENT = [
  'exec 3<&0',
  '"$@" </dev/null &',
  'child=$!',
  '{ while read -r _; do :; done; kill -KILL "$child" 2>/dev/null; } <&3 &',
  'watcher=$!',
  'exec 3<&-',
  'trap \'kill -TERM "$child" 2>/dev/null\' TERM',
  'trap \'kill -INT "$child" 2>/dev/null\' INT',
  'code=0',
  'while kill -0 "$child" 2>/dev/null; do wait "$child"; code=$?; done',
  'kill "$watcher" 2>/dev/null',
  'exit "$code"',
].join('\n');

/** Spawns a long-running child whose output is kept for diagnostics and which can be stopped reliably. */
export function startChild(
  name: string,
  command: string,
  args: string[],
  options: StartChildOptions = {},
): ManagedChild {
  const { echo, ...spawnOptions } = options;
  const child = spawn('/bin/sh', ['-c', TIED_TO_PARENT, name, command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...spawnOptions,
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      lines.push(line);
      if (lines.length > 200) lines.shift();
      echo?.(`[${name}] ${line}`);
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (error) => {
      lines.push(String(error));
      resolve('spawn-error');
    });
  });
  return {
    name,
    process: child,
    exited,
    recentOutput: () => lines.slice(-40).join('\n'),
    targetPid: () => programPid(child.pid, command),
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        await Promise.race([exited, once(child, 'exit')]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The child of `shellPid` that runs `command` (the other child is the pipe watcher). */
function programPid(shellPid: number | undefined, command: string): number | undefined {
  if (shellPid === undefined) return undefined;
  try {
    const children = readFileSync(`/proc/${shellPid}/task/${shellPid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    return children.find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === command;
      } catch {
        return false;
      }
    });
  } catch {
    return undefined;
  }
}
