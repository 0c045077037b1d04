import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { LogTimestamp } from '@temporalio/worker';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/lib/logger.js';
import { runWithLogContext } from '../../src/observability/log-context.js';
import { errorType, metricsAuthorized, ReplyDelayTracker, StageTracker } from '../../src/observability/metrics.js';
import { gracefulServer } from '../../src/observability/shutdown.js';
import { PinoTemporalLogger } from '../../src/observability/temporal.js';
import { LogCapture } from '../helpers/stack.js';

/** A POST over a keep-alive agent; resolves with the status and the Connection header. */
function post(port: number, agent: Agent): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end('x');
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('graceful HTTP shutdown', () => {
  test('a request in flight finishes; its keep-alive connection does not hold the server open', async () => {
    const waiting: Array<() => void> = [];
    const server = createServer((_req, res) => {
      waiting.push(() => res.end('done'));
    });
    const graceful = gracefulServer(server);
    const port = await listen(server);
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    const answerNext = async (): Promise<void> => {
      await waitUntil(() => waiting.length > 0);
      waiting.shift()?.();
    };
    try {
      const first = post(port, agent);
      await answerNext();
      assert.deepEqual(await first, { status: 200, connection: 'keep-alive' });

      // The connection is now idle and kept by the agent; a second request goes out on it.
      const inFlight = post(port, agent);
      await waitUntil(() => waiting.length > 0);
      const started = Date.now();
      const closed = graceful.close(10_000);
      assert.equal(graceful.draining, true);
      await answerNext();
      assert.deepEqual(await inFlight, { status: 200, connection: 'close' }, 'the last answer closes its connection');
      assert.deepEqual(await closed, { forced: false });
      assert.ok(Date.now() - started < 2_000, `closed in ${Date.now() - started} ms, not after the keep-alive timeout`);
      await assert.rejects(post(port, agent), /ECONNREFUSED/);
    } finally {
      agent.destroy();
    }
  });

  test('past the deadline, requests still in flight are cut off', async () => {
    let arrived = 0;
    const server = createServer(() => {
      arrived += 1; // and never answers
    });
    const graceful = gracefulServer(server);
    const port = await listen(server);
    const agent = new Agent({ keepAlive: true });
    const hung = post(port, agent).catch((error: Error) => error);
    await waitUntil(() => arrived > 0);
    const started = Date.now();
    assert.deepEqual(await graceful.close(300), { forced: true });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 3_000, `closed after ${elapsed} ms`);
    assert.ok((await hung) instanceof Error, 'the hung request failed on the client');
    agent.destroy();
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('metrics helpers', () => {
  test('reply-delay tracker: counts waits once, forgets them at their end or a minute after they should have ended', () => {
    let now = 1_000_000;
    const tracker = new ReplyDelayTracker(() => now);
    assert.equal(tracker.has('a'), false);
    tracker.started('a', 10_000);
    assert.equal(tracker.has('a'), true, 'a replay of the same workflow finds its wait tracked');
    tracker.started('a', 10_000); // a replay of the same workflow
    tracker.started('b', 600_000);
    assert.equal(tracker.size(), 2);
    tracker.ended('b');
    assert.equal(tracker.size(), 1);
    now += 10_000 + 59_000;
    assert.equal(tracker.size(), 1, 'still within the margin');
    now += 2_000;
    assert.equal(tracker.size(), 0, 'a wait that ended on another worker is dropped');
    assert.equal(tracker.has('a'), false);
  });

  test('stage tracker: each stage timed from its entry to the next, once; a final stage ends the tracking', () => {
    let now = 1_000_000;
    const observed: string[] = [];
    const tracker = new StageTracker(
      (stage, seconds) => observed.push(`${stage} ${seconds}`),
      () => now,
      2,
    );
    tracker.entered('a', 'accepted');
    now += 500;
    tracker.entered('a', 'generating');
    tracker.entered('b', 'waiting_turn');
    now += 3_000;
    tracker.entered('a', 'waiting_reply_delay');
    now += 60_000;
    tracker.entered('a', 'delivered');
    assert.deepEqual(observed, ['accepted 0.5', 'generating 3', 'waiting_reply_delay 60']);
    assert.equal(tracker.size, 1, 'a delivered message is no longer tracked');
    tracker.entered('c', 'delivering');
    tracker.entered('d', 'delivering');
    assert.equal(tracker.size, 2, 'at most maxTracked: the least recently moved (b) is forgotten');
    tracker.entered('b', 'generating');
    assert.equal(observed.length, 3, 'a workflow seen first mid-way is timed from there on');
  });

  test('metrics token: open without one; with one, only the exact bearer token', () => {
    assert.equal(metricsAuthorized(undefined, undefined), true);
    const token = 'a-metrics-token-of-some-length';
    assert.equal(metricsAuthorized(undefined, token), false);
    assert.equal(metricsAuthorized(`Bearer ${token}`, token), true);
    assert.equal(metricsAuthorized(`bearer ${token}`, token), true);
    assert.equal(metricsAuthorized(`Bearer ${token}x`, token), false);
    assert.equal(metricsAuthorized(token, token), false);
  });

  test('error types for labels: the failure type, else the class name, label-safe', () => {
    assert.equal(errorType(ApplicationFailure.create({ type: 'ModelUnavailable', message: 'x' })), 'ModelUnavailable');
    assert.equal(errorType(new TypeError('x')), 'TypeError');
    assert.equal(
      errorType(ApplicationFailure.create({ type: 'has spaces {and} "quotes"', message: 'x' })),
      'has_spaces__and___quotes_',
    );
    assert.equal(errorType('a string'), 'string');
  });
});

describe('logging', () => {
  test('the log context adds its fields to every line, without repeating what the line or logger has', () => {
    const capture = new LogCapture();
    const logger = createLogger({ level: 'info', name: 'test', destination: capture });
    const child = logger.child({ workflowId: 'wf-bound' });
    runWithLogContext({ workflowId: 'wf-context', messageId: 'msg_1', pageId: 'page-1' }, () => {
      logger.info('plain');
      child.info('bound');
      logger.info({ messageId: 'msg_explicit' }, 'explicit');
    });
    logger.info('outside');
    const [plain, bound, explicit, outside] = capture.lines();
    assert.deepEqual([plain?.workflowId, plain?.messageId, plain?.pageId], ['wf-context', 'msg_1', 'page-1']);
    assert.equal(bound?.workflowId, 'wf-bound');
    assert.equal((capture.raw[1]?.match(/"workflowId"/g) ?? []).length, 1, 'no key twice on a line');
    assert.equal(explicit?.messageId, 'msg_explicit');
    assert.equal(outside?.messageId, undefined);
  });

  test('secrets are redacted by path as a second line of defence', () => {
    const capture = new LogCapture();
    const logger = createLogger({ level: 'info', name: 'test', destination: capture });
    logger.info(
      {
        channel: { api_token: 'tok-1' },
        config: { ADMIN_TOKEN: 'adm-1', OPENAI_API_KEY: 'sk-1' },
        authorization: 'Bearer x',
      },
      'oops',
    );
    const line = capture.raw[0] ?? '';
    for (const secret of ['tok-1', 'adm-1', 'sk-1', 'Bearer x'])
      assert.ok(!line.includes(secret), `${secret} in ${line}`);
  });

  test("the Temporal logger adapter: levels, fields, errors as err, the SDK's timestamp symbol left out", () => {
    const capture = new LogCapture();
    const adapter = new PinoTemporalLogger(
      createLogger({ level: 'info', name: 'chatrelay-worker', destination: capture }),
    );
    adapter.debug('below the level');
    adapter.info('Worker state changed', { sdkComponent: 'worker', state: 'RUNNING', [LogTimestamp]: 123n });
    adapter.log('WARN', 'Activity failed', { activityType: 'deliverPart', error: new Error('boom') });
    adapter.error('bad', { workflowId: 'wf-1' });
    const lines = capture.lines();
    assert.deepEqual(
      lines.map((line) => [line.level, line.msg]),
      [
        ['info', 'Worker state changed'],
        ['warn', 'Activity failed'],
        ['error', 'bad'],
      ],
    );
    assert.equal(lines[0]?.state, 'RUNNING');
    assert.equal(lines[0]?.sdkComponent, 'worker');
    assert.equal((lines[1]?.err as { message?: string } | undefined)?.message, 'boom');
    assert.equal(typeof (lines[1]?.err as { stack?: string } | undefined)?.stack, 'string');
    assert.equal(lines[2]?.workflowId, 'wf-1');
  });

  test("a failed activity's error is logged with URL hosts only and a provider error by its status", () => {
    const capture = new LogCapture();
    const adapter = new PinoTemporalLogger(
      createLogger({ level: 'info', name: 'chatrelay-worker', destination: capture }),
    );
    const voice = ApplicationFailure.create({
      type: 'AudioUnavailable',
      message: 'voice message could not be fetched: HTTP 404 from https://media.example.com/u/alice/t0ken.ogg',
    });
    adapter.warn('Activity failed', { activityType: 'transcribeVoiceMessage', error: voice });
    adapter.warn('Activity failed', {
      activityType: 'answerMessage',
      error: new Error('chat completion failed with HTTP 400: Invalid content: "my card number is 4111"'),
    });
    const [first, second] = capture
      .lines()
      .map((line) => line.err as { type?: string; message?: string; stack?: string });
    assert.equal(first?.message, 'voice message could not be fetched: HTTP 404 from media.example.com');
    assert.equal(first?.type, 'ApplicationFailure');
    assert.equal(second?.message, 'chat completion failed with HTTP 400');
    for (const err of [first, second]) {
      assert.doesNotMatch(JSON.stringify(err), /alice|t0ken|Invalid content|4111/);
      assert.match(err?.stack ?? '', /\n\s+at /, 'the frames are kept');
    }
    assert.equal(voice.message.includes('t0ken'), true, 'the error itself is not changed');
  });
});
