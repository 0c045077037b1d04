import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const launcher = join(root, 'bin', 'chatrelay.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (bin/chatrelay.js) as a child process; never blocks this process's event loop, which serves the API. */
export function run(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; command?: string[] } = {},
): Promise<Run> {
  const [executable, ...prefix] = options.command ?? [process.execPath, launcher];
  return new Promise((resolve, reject) => {
    const child = spawn(executable!, [...prefix, ...args], {
      cwd: options.cwd ?? root,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** The JSON a successful run printed, checked against its contract. */
export const parseJson = <T extends z.ZodType>(schema: T, result: Run): z.infer<T> => {
  assert.equal(result.code, 0, `exit ${result.code}\n${result.stderr}`);
  return schema.parse(JSON.parse(result.stdout));
};
