import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Connection } from '@temporalio/client';
import { freePort } from '../../src/lib/ports.js';
import { RETENTION_SCHEDULE_ID } from '../../src/temporal/retention-schedule.js';
import { waitFor } from '../../src/lib/wait.js';
import { descendants, isAlive } from '../helpers/procs.js';

test('the local stack starts with embedded defaults, is ready, and stops every child on SIGTERM', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-stack-'));
  const [port, temporalPort, uiPort, mongoPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    STACK_DATA_DIR: dataDir,
    STACK_TEMPORAL_PORT: String(temporalPort),
    STACK_TEMPORAL_UI_PORT: String(uiPort),
    STACK_MONGODB_PORT: String(mongoPort),
    LOG_LEVEL: 'warn',
  };
  const stack = spawn(process.execPath, ['--import', 'tsx', 'src/stack/main.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  stack.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  stack.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const ready = await waitFor(
      async () => {
        if (stack.exitCode !== null) throw new Error(`stack exited early:\n${output}`);
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        return response.status === 200
          ? ((await response.json()) as { checks: Record<string, { ok: boolean }> })
          : false;
      },
      { timeoutMs: 180_000, intervalMs: 250, what: 'the stack to be ready' },
    );
    assert.equal(ready.checks.mongodb?.ok, true);
    assert.equal(ready.checks.temporal?.ok, true);
    await waitFor(() => /\[stack\] ready/.test(output), { timeoutMs: 60_000, what: 'the stack to report ready' });
    // Its own database does not grow without end: the worker keeps the retention schedule (RETENTION_DAYS=30).
    assert.match(output, /older than 30 days are deleted daily/);
    const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    try {
      // Read raw: its arguments are encrypted, and this client has no codec.
      const described = await waitFor(
        () =>
          connection.workflowService
            .describeSchedule({ namespace: 'default', scheduleId: RETENTION_SCHEDULE_ID })
            .catch(() => undefined),
        { timeoutMs: 60_000, what: 'the retention schedule' },
      );
      assert.equal(described.schedule?.action?.startWorkflow?.workflowType?.name, 'retentionWorkflow');
    } finally {
      await connection.close();
    }

    const children = descendants(stack.pid!);
    assert.ok(children.length >= 5, `expected temporal, mongodb, demo model, api and worker; found ${children.length}`);
    stack.kill('SIGTERM');
    const [code] = (await once(stack, 'exit')) as [number | null];
    assert.equal(code, 0, output);
    const survivors = children.filter(isAlive);
    assert.deepEqual(survivors, [], 'no child process may outlive the stack');
  } finally {
    if (stack.exitCode === null) stack.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
