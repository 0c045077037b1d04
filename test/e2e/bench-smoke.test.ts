/**
 * The benchmark's smoke mode, run as the user runs it (a child process starting its own stack):
 * every reply arrives exactly once, the JSON has every field, and no process is left behind.
 * Timings are reported by the benchmark, never asserted here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../src/lib/wait.js';
import { projectRoot } from '../../src/stack/tools.js';
import { descendants, isAlive } from '../helpers/procs.js';

function startBench(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'bench/run.ts'), ...args], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Every process the benchmark starts, seen while it runs, to check none outlives it.
  const seen = new Set<number>();
  const watcher = setInterval(() => {
    for (const pid of descendants(child.pid as number)) seen.add(pid);
  }, 200);
  const exited = once(child, 'exit').then(([code, signal]) => {
    clearInterval(watcher);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  return { child, output: () => output, seen, exited };
}

const summaryKeys = ['count', 'mean', 'p50', 'p95', 'p99', 'max', 'min'];

function assertSystem(system: Record<string, unknown>, name: string): void {
  for (const key of ['ackMs', 'endToEndMs', 'overheadMs']) {
    const summary = system[key] as Record<string, unknown>;
    assert.ok(summary, `${name}.${key}`);
    for (const field of summaryKeys) assert.ok(field in summary, `${name}.${key}.${field}`);
  }
  const replies = system.replies as Record<string, number>;
  for (const field of [
    'accepted',
    'expectedParts',
    'receivedParts',
    'lostParts',
    'duplicateParts',
    'unexpectedParts',
    'outOfOrderMessages',
    'partHeaderMismatches',
  ]) {
    assert.equal(typeof replies[field], 'number', `${name}.replies.${field}`);
  }
  const throughput = system.throughput as Record<string, unknown>;
  for (const field of ['offeredPerSecond', 'completedPerSecond', 'drainSeconds', 'keptUp'])
    assert.ok(field in throughput, `${name}.throughput.${field}`);
  assert.ok(system.processes && typeof system.processes === 'object', `${name}.processes`);
  assert.ok('cpuMsPerMessage' in system, `${name}.cpuMsPerMessage`);
  // The assertions that matter: all 20 messages accepted, every part received, none twice.
  assert.equal(system.sent, 20, `${name}: messages sent`);
  assert.equal(system.ackErrors, 0, `${name}: ack errors`);
  assert.equal(replies.accepted, 20, `${name}: accepted`);
  assert.ok((replies.expectedParts ?? 0) > 20, `${name}: some replies split into several parts`);
  assert.equal(replies.lostParts, 0, `${name}: lost reply parts`);
  assert.equal(replies.duplicateParts, 0, `${name}: duplicated reply parts`);
  assert.equal(replies.unexpectedParts, 0, `${name}: unexpected reply parts`);
  assert.equal(replies.receivedParts, replies.expectedParts, `${name}: received parts`);
}

test(
  'npm run bench -- --smoke (with a short overload phase): every reply once, the JSON complete, no process left behind',
  { timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatrelay-bench-test-'));
    const out = join(dir, 'smoke.json');
    const bench = startBench(['--smoke', '--overload-rate', '20', '--overload-duration', '2', '--out', out]);
    try {
      const { code } = await bench.exited;
      assert.equal(code, 0, bench.output());
      const result = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
      assert.equal(result.schema, 'chatrelay-bench/1');
      for (const key of [
        'startedAt',
        'finishedAt',
        'config',
        'machine',
        'code',
        'chatrelay',
        'baseline',
        'ratios',
        'targets',
        'errors',
      ])
        assert.ok(key in result, key);
      const chatrelay = result.chatrelay as Record<string, unknown>;
      assertSystem(chatrelay, 'chatrelay');
      assertSystem(result.baseline as Record<string, unknown>, 'baseline');
      for (const name of ['api', 'worker', 'temporal', 'mongodb']) {
        const proc = (chatrelay.processes as Record<string, Record<string, unknown>>)[name];
        assert.equal(typeof proc?.cpuSeconds, 'number', `chatrelay.processes.${name}.cpuSeconds`);
        assert.equal(typeof proc?.peakRssMiB, 'number', `chatrelay.processes.${name}.peakRssMiB`);
      }
      const temporal = chatrelay.temporal as Record<string, unknown>;
      assert.equal(typeof temporal.eventsPerMessage, 'number', `temporal: ${JSON.stringify(temporal)}`);
      const mongodb = chatrelay.mongodb as Record<string, unknown>;
      assert.ok('measured' in mongodb && 'opsPerMessage' in mongodb);
      assert.ok(/chatrelay\s/.test(bench.output()) && /LOST parts/.test(bench.output()), 'the table is printed');
      // The overload phase: every POST answered one way or another, every accepted message answered once.
      const overload = result.overload as Record<string, unknown> & { shed: Record<string, number> };
      assert.deepEqual((result.config as Record<string, unknown>).overload, { rate: 20, durationSeconds: 2 });
      assert.equal(overload.offered, 40);
      assert.equal(
        (overload.accepted as number) + overload.shed.total! + (overload.otherErrors as number),
        40,
        JSON.stringify(overload),
      );
      assert.ok((overload.accepted as number) > 0);
      assert.equal(overload.completedMessages, overload.accepted);
      assert.equal(overload.lostParts, 0);
      assert.equal(overload.duplicatedParts, 0);
      for (const field of ['completedPerSecond', 'ackMsAccepted', 'answerMs', 'cpuMsPerAcceptedMessage', 'system'])
        assert.ok(field in overload, `overload.${field}`);
      assert.match(bench.output(), /overload phase \(chatrelay only\): 20 msg\/s for 2 s/);
      assert.ok(
        bench.seen.size >= 6,
        `expected model, baseline, temporal, mongodb, api and worker; saw ${bench.seen.size}`,
      );
      assert.deepEqual([...bench.seen].filter(isAlive), [], 'no process may outlive the benchmark');
    } finally {
      if (bench.child.exitCode === null) bench.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('Ctrl-C (SIGINT) during a benchmark stops every process it started', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatrelay-bench-test-'));
  const bench = startBench(['--smoke', '--no-baseline', '--out', join(dir, 'interrupted.json')]);
  try {
    // Interrupt once the whole stack is up, while the load runs.
    await waitFor(
      () => {
        if (bench.child.exitCode !== null) throw new Error(`the benchmark ended early:\n${bench.output()}`);
        return /chatrelay: (warmed up|sending)/.test(bench.output());
      },
      { timeoutMs: 150_000, intervalMs: 100, what: 'the benchmark to start its load' },
    );
    const running = descendants(bench.child.pid as number);
    assert.ok(running.length >= 5, `expected model, temporal, mongodb, api and worker; found ${running.length}`);
    bench.child.kill('SIGINT');
    const { code } = await bench.exited;
    assert.equal(code, 130, bench.output());
    assert.deepEqual([...bench.seen].filter(isAlive), [], 'no process may outlive an interrupted benchmark');
  } finally {
    if (bench.child.exitCode === null) bench.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  '--feature receiver-retry: every message refused once and sent again, each part received once, the feature checked',
  { timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatrelay-bench-test-'));
    const out = join(dir, 'receiver-retry.json');
    // The retry comes after the default 5 s, longer than the 1 s the smoke listens after the last part:
    // the phase must wait for it, not end on the refused attempt.
    const bench = startBench(['--smoke', '--no-baseline', '--feature', 'receiver-retry', '--out', out]);
    try {
      const { code } = await bench.exited;
      assert.equal(code, 0, bench.output());
      const result = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
      assert.equal((result.config as Record<string, unknown>).feature, 'receiver-retry');
      assert.equal(result.baseline, null);
      assert.deepEqual(result.errors, [], 'the feature happened for every message');
      const chatrelay = result.chatrelay as Record<string, unknown>;
      assertSystem(chatrelay, 'chatrelay');
      const replies = chatrelay.replies as Record<string, number>;
      assert.equal(replies.refusedDeliveries, 20, 'one refused attempt per message');
      const mongodb = chatrelay.mongodb as Record<string, unknown>;
      assert.equal(typeof mongodb.opsPerMessage, 'number', JSON.stringify(mongodb));
      assert.equal(typeof chatrelay.cpuMsPerMessage, 'number');
      assert.match(bench.output(), /deliveries refused on purpose \/ expected\s+20 \/ 20/);
      assert.deepEqual([...bench.seen].filter(isAlive), [], 'no process may outlive the benchmark');
    } finally {
      if (bench.child.exitCode === null) bench.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
