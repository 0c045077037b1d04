import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { startChild } from '../../src/lib/child.js';
import { waitFor } from '../../src/lib/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the worker process: a taken metrics port costs the metrics, not the worker; SIGTERM while starting exits 0 at once', async () => {
  // Something else already listens on the metrics port; Temporal is not there (yet).
  const squatter: Server = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as { port: number }).port;
  const lines: string[] = [];
  const worker = startChild('worker', process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MONGODB_URI: 'mongodb://127.0.0.1:1',
      OPENAI_API_KEY: 'test-key',
      ADMIN_TOKEN: 'worker-process-admin-token',
      SECRETS_ENCRYPTION_KEY: 'worker-process-secrets-encryption-key-0123456789',
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
    },
    echo: (line) => lines.push(line),
  });
  try {
    await waitFor(() => lines.some((line) => line.includes('Temporal not reachable yet')), {
      timeoutMs: 60_000,
      what: 'the worker to try Temporal',
    });
    const portError = lines
      .map((line) => line.replace(/^\[worker\] /, ''))
      .find((line) => line.includes('the metrics port cannot be served'));
    assert.ok(portError, lines.join('\n'));
    assert.equal((JSON.parse(portError) as { level: string }).level, 'error');
    assert.equal(worker.process.exitCode, null, 'the worker runs on');

    const started = Date.now();
    worker.process.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
    assert.ok(Date.now() - started < 5_000, `exited in ${Date.now() - started} ms`);
  } finally {
    await worker.stop(2_000);
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  }
});
