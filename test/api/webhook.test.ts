import { messageWorkflowId } from '../../src/domain/ids.js';
import assert from 'node:assert/strict';
import { Router } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import { createChannelAuthenticator } from '../../src/api/channel-auth.js';
import { createRateLimiter } from '../../src/api/rate-limit.js';
import { webhookRouter } from '../../src/api/routes/webhook.js';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { loadConfig, secretBoxPassphrase } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { freePort } from '../../src/lib/ports.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { RecordingStarter } from '../helpers/recording-starter.js';
import { postMessage } from '../helpers/stack.js';
import { quietLogger } from '../helpers/workflow-harness.js';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('POST /webhook/mychatbot: the HTTP contract', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let server: Server;
  let base: string;
  let starter: RecordingStarter;
  let page: string;
  let token: string;
  /** A load gate the tests open and close (the real one reads Temporal: test/e2e/load-shedding.test.ts). */
  const gate = {
    closed: false,
    admit: () => (gate.closed ? { retryAfterSeconds: 3 } : undefined),
  };

  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
    starter = new RecordingStarter();
    const auth = createChannelAuthenticator(stores.channels, { ttlMs: 1_000 });
    const failing = Router().get('/boom', () => {
      throw new Error('secret internals at /srv/app.js:12');
    });
    const app = createApp({
      logger: quietLogger,
      health: {},
      routers: [
        webhookRouter({
          auth,
          starter,
          loadGate: gate,
          logger: quietLogger,
          rateLimits: {
            channel: createRateLimiter({ perMinute: 6000, burst: 1000 }),
            client: createRateLimiter({ perMinute: 60, burst: 15 }),
          },
          limits: { maxTextLength: 100, maxAttachments: 2, maxUrlLength: 200, maxBodyBytes: 4096 },
        }),
        failing,
      ],
    });
    server = app.listen(0, '127.0.0.1');
    base = await listen(server);
    const created = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/replies' });
    page = created.channel.page_id;
    token = created.token;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await mongo?.close();
  });

  const post = (body: unknown, headers: Record<string, string> = {}) => postMessage(base, token, body, headers);
  const valid = () => ({ client_id: 'c1', page_id: page, platform: 'CustomApp', text: 'hi' });

  test('a valid message is accepted with its message id and workflow id', async () => {
    const response = await post(valid());
    assert.equal(response.status, 200);
    assert.equal(response.body.status, 'accepted');
    const envelope = starter.started.at(-1);
    assert.equal(response.body.message_id, envelope?.messageId);
    assert.equal(response.body.workflow_id, messageWorkflowId(envelope?.messageId ?? ''));
    assert.deepEqual(envelope?.message, { client_id: 'c1', platform: 'CustomApp', text: 'hi' });
  });

  test('X-Api-Token works for platforms that cannot set Authorization', async () => {
    const response = await post(valid(), { authorization: '', 'x-api-token': token });
    assert.equal(response.status, 200);
  });

  test('without message_id every POST is a new message; with one, the same id comes back', async () => {
    const a = await post(valid());
    const b = await post(valid());
    assert.notEqual(a.body.message_id, b.body.message_id);
    const c = await post({ ...valid(), message_id: 'm-1' });
    const d = await post({ ...valid(), message_id: 'm-1' });
    assert.equal(c.body.message_id, d.body.message_id);
    assert.equal(d.body.duplicate, true);
    const e = await post({ ...valid(), client_id: 'other', message_id: 'm-1' });
    assert.notEqual(e.body.message_id, c.body.message_id, 'message ids are per client');
  });

  test('client and message ids holding NUL are told apart: neither message is dropped as a duplicate', async () => {
    const first = await post({ ...valid(), client_id: 'a\u0000b', message_id: 'c' });
    const second = await post({ ...valid(), client_id: 'a', message_id: 'b\u0000c' });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(second.body.duplicate, false);
    assert.notEqual(first.body.message_id, second.body.message_id);
  });

  test('an unknown page and a wrong token get the same 401 body', async () => {
    const wrongToken = await post(valid(), { authorization: 'Bearer not-the-token' });
    const unknownPage = await post({ ...valid(), page_id: 'no-such-page' });
    const missing = await post(valid(), { authorization: '' });
    for (const response of [wrongToken, unknownPage, missing]) {
      assert.equal(response.status, 401);
      assert.equal(response.body.error?.code, 'unauthorized');
      assert.equal(response.body.error?.message, 'Missing or invalid API token for this page_id.');
    }
  });

  test('the token is checked before the fields: a stranger gets 401 whatever the body holds', async () => {
    const invalid = { client_id: 5, page_id: page, platform: '', audio: 'ftp://x/a.mp3' };
    const stranger = await post(invalid, { authorization: 'Bearer not-the-token' });
    assert.equal(stranger.status, 401);
    assert.equal(stranger.body.error?.details, undefined);
    const unknownPage = await post({ ...invalid, page_id: 'no-such-page' });
    assert.equal(unknownPage.status, 401);
    // Without a page_id there is nothing to authenticate against: the field errors help the integrator.
    const noPage = await post({ client_id: 'c1', platform: 'p', text: 'hi' }, { authorization: '' });
    assert.equal(noPage.status, 400);
    assert.deepEqual(noPage.body.error?.details, [{ path: 'page_id', message: 'is required' }]);
  });

  test('400 lists every field error with its path', async () => {
    const response = await post({
      client_id: 5,
      page_id: page,
      platform: '',
      audio: 'ftp://x/a.mp3',
      attachments: ['https://ok.example/a.png', 'nope'],
    });
    assert.equal(response.status, 400);
    assert.equal(response.body.error?.code, 'invalid_request');
    assert.deepEqual(response.body.error?.details, [
      { path: 'client_id', message: 'must be a string, got a number' },
      { path: 'platform', message: 'must not be empty' },
      { path: 'audio', message: 'must be an absolute http or https URL' },
      { path: 'attachments.1', message: 'must be an absolute http or https URL' },
    ]);
  });

  test('text or audio is required, and limits are enforced', async () => {
    const noText = await post({ client_id: 'c', page_id: page, platform: 'p' });
    assert.deepEqual(noText.body.error?.details, [{ path: 'text', message: 'is required unless audio is given' }]);
    const long = await post({
      ...valid(),
      text: 'x'.repeat(101),
      attachments: ['https://a.example/1', 'https://a.example/2', 'https://a.example/3'],
    });
    assert.deepEqual(long.body.error?.details, [
      { path: 'text', message: 'must be at most 100 characters' },
      { path: 'attachments', message: 'must have at most 2 items' },
    ]);
    const blank = await post({ ...valid(), text: '   ' });
    assert.deepEqual(blank.body.error?.details, [{ path: 'text', message: 'must not be empty' }]);
  });

  test('malformed JSON is a 400, a non-object body too', async () => {
    const broken = await post('{"client_id": ');
    assert.equal(broken.status, 400);
    assert.equal(broken.body.error?.code, 'invalid_json');
    const array = await post('[1,2]');
    assert.equal(array.status, 400);
    assert.equal(array.body.error?.code, 'invalid_request');
  });

  test('a body that is not JSON is a 415', async () => {
    const response = await post('client_id=1', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(response.status, 415);
    assert.equal(response.body.error?.code, 'unsupported_media_type');
  });

  test('an oversized body is a 413', async () => {
    const response = await post({ ...valid(), text: 'y'.repeat(5000) });
    assert.equal(response.status, 413);
    assert.equal(response.body.error?.code, 'payload_too_large');
  });

  test('past its burst, one end user gets 429 with Retry-After while another is still accepted', async () => {
    let limited: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 30 && !limited; i++) {
      const response = await post({ ...valid(), client_id: 'chatty' });
      if (response.status === 429) limited = response;
      else assert.equal(response.status, 200);
    }
    assert.ok(limited, 'the client was limited within 30 messages');
    assert.equal(limited.body.error?.code, 'rate_limited');
    assert.match(limited.body.error?.message ?? '', /from this client/);
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.equal((await post({ ...valid(), client_id: 'quiet' })).status, 200);
  });

  test('while the load gate is closed: 503 overloaded with Retry-After, nothing started; bad requests still learn what is wrong', async () => {
    const startedBefore = starter.started.length;
    gate.closed = true;
    try {
      const refused = await post({ ...valid(), client_id: 'shed-client', message_id: 'shed-1' });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '3');
      assert.equal(refused.body.error?.code, 'overloaded');
      assert.match(
        refused.body.error?.message ?? '',
        /not accepted\. Retry after 3 s/,
        'the reason is said as it is, not the generic 5xx one',
      );
      assert.ok(refused.body.error?.request_id);
      assert.equal(starter.started.length, startedBefore, 'nothing was started for it');
      assert.equal((await post(valid(), { authorization: 'Bearer not-the-token' })).status, 401);
      assert.equal((await post({ ...valid(), platform: '' })).status, 400);
    } finally {
      gate.closed = false;
    }
    const retried = await post({ ...valid(), client_id: 'shed-client', message_id: 'shed-1' });
    assert.equal(retried.status, 200);
    assert.equal(retried.body.duplicate, false, 'the refused attempt left nothing behind: its retry is the first');
  });

  test('an unexpected error is a 500 with a request id and no internals', async () => {
    const response = await fetch(`${base}/boom`, { headers: { 'x-request-id': 'req-123' } });
    const body = (await response.json()) as { error: { code: string; message: string; request_id: string } };
    assert.equal(response.status, 500);
    assert.deepEqual(body, { error: { code: 'internal', message: 'Internal server error.', request_id: 'req-123' } });
  });
});

describe('POST /webhook/mychatbot: failed requests from one address', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let server: Server;
  let base: string;
  const reads: string[] = [];
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await mongo?.close();
  });

  test('past its failures, every failure from an address gets the same 429; a valid token still gets in, seen or not', async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    const lookup = {
      getByPageId: (pageId: string) => (reads.push(pageId), stores.channels.getByPageId(pageId)),
      tokenMatches: (presented: string, storedHash: string | undefined) =>
        stores.channels.tokenMatches(presented, storedHash),
    };
    const app = createApp({
      logger: quietLogger,
      health: {},
      routers: [
        webhookRouter({
          auth: createChannelAuthenticator(lookup, { ttlMs: 60_000 }),
          starter: new RecordingStarter(),
          logger: quietLogger,
          failureLimit: createRateLimiter({ perMinute: 6, burst: 3 }),
          limits: { maxTextLength: 100, maxAttachments: 2, maxUrlLength: 200, maxBodyBytes: 4096 },
        }),
      ],
    });
    server = app.listen(0, '127.0.0.1');
    base = await listen(server);
    const known = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const unseen = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const send = async (pageId: string | undefined, token: string, contentType = 'application/json') => {
      const response = await fetch(`${base}/webhook/mychatbot`, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${token}` },
        body: JSON.stringify({
          client_id: 'c',
          ...(pageId !== undefined ? { page_id: pageId } : {}),
          platform: 'p',
          text: 'hi',
        }),
      });
      const body = (await response.json()) as { error?: { code: string; message: string } };
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
    };

    assert.equal((await send(known.channel.page_id, known.token)).status, 200);
    // Three failures of three kinds use up the burst.
    assert.equal((await send('random-page-1', known.token)).status, 401);
    assert.equal((await send(undefined, known.token)).status, 400);
    assert.equal((await send(known.channel.page_id, known.token, 'text/plain')).status, 415);
    // Past the budget every failure looks the same: an unknown page, a known page with a wrong
    // token, no page_id, not JSON. Nothing tells which page ids exist.
    const limited = await send('random-page-2', known.token);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error?.code, 'rate_limited');
    assert.match(limited.body.error?.message ?? '', /failed requests from this address/);
    assert.equal(limited.retryAfter, '10');
    for (const failure of [
      await send(known.channel.page_id, 'not-the-token'),
      await send(unseen.channel.page_id, 'not-the-token'),
      await send(undefined, known.token),
      await send(known.channel.page_id, known.token, 'text/plain'),
    ])
      assert.deepEqual([failure.status, failure.body.error?.code, failure.retryAfter], [429, 'rate_limited', '10']);
    // A valid token gets in all the same: the channel this process knows, and one it has not seen
    // yet (one tenant's failures must not lock out the others behind the same address).
    const readsBefore = reads.length;
    assert.equal((await send(unseen.channel.page_id, unseen.token)).status, 200);
    assert.equal(reads.length, readsBefore, 'the unseen channel was read when its wrong token came, and is cached');
    assert.equal((await send(known.channel.page_id, known.token)).status, 200);
  });
});

describe('POST /webhook/mychatbot when a dependency is down', () => {
  let mongo: TestMongo;
  let api: RunningApi | undefined;
  after(async () => {
    await api?.close();
    await mongo?.close();
  });

  test('Temporal unreachable: 503, never 200, and /readyz names it', async () => {
    mongo = await startTestMongo();
    const deadTemporal = await freePort();
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      TEMPORAL_ADDRESS: `127.0.0.1:${deadTemporal}`,
      OPENAI_API_KEY: 'k',
      ADMIN_TOKEN: 'a-strong-Admin-token-0123456789',
      SECRETS_ENCRYPTION_KEY: 'webhook-test-secrets-encryption-key-0123456789',
      LOG_LEVEL: 'silent',
    });
    const stores = createStores(mongo.db, { secretBox: createSecretBox(secretBoxPassphrase(config)) });
    const { channel, token } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const logLines: string[] = [];
    const logs = new Writable({ write: (chunk: Buffer, _encoding, done) => (logLines.push(String(chunk)), done()) });
    api = await startApi(config, createLogger({ level: 'info', name: 'api', destination: logs }));
    const base = `http://127.0.0.1:${api.port}`;
    const response = await fetch(`${base}/webhook/mychatbot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ client_id: 'c', page_id: channel.page_id, platform: 'p', text: 'hello' }),
    });
    const text = await response.text();
    const body = JSON.parse(text) as { error: { code: string; message: string; request_id: string } };
    assert.equal(response.status, 503);
    assert.equal(body.error.code, 'unavailable');
    assert.equal(body.error.message, 'A service this API depends on is unavailable; try again shortly.');
    assert.ok(body.error.request_id);
    // The driver's error names the address it could not reach: that is for the log, not for strangers.
    assert.doesNotMatch(text, new RegExp(`${deadTemporal}|127\\.0\\.0\\.1|ECONNREFUSED`));
    const ready = await fetch(`${base}/readyz`);
    const readinessText = await ready.text();
    const readiness = JSON.parse(readinessText) as {
      checks: { mongodb: { ok: boolean }; temporal: { ok: boolean; error?: string } };
    };
    assert.equal(ready.status, 503);
    assert.equal(readiness.checks.mongodb.ok, true);
    assert.deepEqual(readiness.checks.temporal, { ok: false, error: 'unavailable' });
    assert.doesNotMatch(readinessText, new RegExp(`${deadTemporal}|127\\.0\\.0\\.1|ECONNREFUSED`));
    // The detail is in the log, for the operator.
    const logged = logLines.map((line) => JSON.parse(line) as { msg: string; check?: string; err?: unknown });
    assert.ok(
      logged.some((line) => line.msg === 'request failed' && /Temporal is unavailable/.test(JSON.stringify(line.err))),
      'the 503 cause is logged',
    );
    assert.ok(
      logged.some(
        (line) =>
          line.msg === 'readiness check failed' &&
          line.check === 'temporal' &&
          String(line.err).includes(String(deadTemporal)),
      ),
      'the readiness cause is logged',
    );
  });
});
