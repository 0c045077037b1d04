import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { createApp } from '../../src/api/app.js';
import { methodNotAllowedRouter } from '../../src/api/openapi.js';
import { codecMaxBodyBytes, codecRouter, codecRoutes } from '../../src/api/routes/codec.js';
import { createLogger } from '../../src/lib/logger.js';
import { createEncryptionCodec } from '../../src/temporal/payload-codec.js';

const TOKEN = 'codec-test-token-0123456789';
const UI = 'http://127.0.0.1:8233';
type Wire = { metadata?: Record<string, string>; data?: string };
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const wirePayload = (value: unknown): Wire => {
  const payload = defaultPayloadConverter.toPayload(value);
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, bytes]) => [key, Buffer.from(bytes).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
};

describe('codec endpoint (POST /codec/encode, /codec/decode)', () => {
  const oldKey = { id: 'old', key: randomBytes(32) };
  const codec = createEncryptionCodec({ keys: [{ id: 'new', key: randomBytes(32) }, oldKey], encrypt: true });
  let server: Server;
  let base: string;

  before(async () => {
    const limits = { maxTextLength: 100, maxAttachments: 1, maxUrlLength: 100, maxBodyBytes: 1000 };
    const app = createApp({
      logger: createLogger({ level: 'silent', name: 'test' }),
      health: {},
      routers: [
        codecRouter({ codec, token: TOKEN, corsOrigins: [UI] }),
        methodNotAllowedRouter({ limits, extraRoutes: codecRoutes }),
      ],
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const call = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}/codec/${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TOKEN}`,
        'x-namespace': 'default',
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  test('encode then decode gives the payloads back; encoded ones hide their content', async () => {
    const plain = [wirePayload({ text: 'hello secret', client_name: 'Ada' }), wirePayload(null)];
    const encodedResponse = await call('encode', { payloads: plain });
    assert.equal(encodedResponse.status, 200);
    const encoded = (await encodedResponse.json()) as { payloads: Wire[] };
    assert.equal(encoded.payloads.length, 2);
    assert.equal(encoded.payloads[0]?.metadata?.encoding, b64('binary/encrypted'));
    assert.equal(encoded.payloads[0]?.metadata?.['encryption-key-id'], b64('new'));
    assert.ok(!Buffer.from(encoded.payloads[0]?.data ?? '', 'base64').includes('hello secret'));
    const decoded = (await (await call('decode', encoded)).json()) as { payloads: Wire[] };
    assert.deepEqual(decoded.payloads, plain);
  });

  test('decode: a payload under an older key is read; a plain payload passes through; an unknown key is a 400 naming the payload', async () => {
    const [underOld] = await createEncryptionCodec({ keys: [oldKey], encrypt: true }).encode([
      defaultPayloadConverter.toPayload('from before the rotation'),
    ]);
    const wireOld = {
      metadata: Object.fromEntries(
        Object.entries(underOld!.metadata ?? {}).map(([key, bytes]) => [key, Buffer.from(bytes).toString('base64')]),
      ),
      data: Buffer.from(underOld!.data!).toString('base64'),
    };
    const plain = wirePayload('never encrypted');
    const decoded = (await (await call('decode', { payloads: [wireOld, plain] })).json()) as { payloads: Wire[] };
    assert.deepEqual(decoded.payloads, [wirePayload('from before the rotation'), plain]);

    const unknown = {
      metadata: { encoding: b64('binary/encrypted'), 'encryption-key-id': b64('lost') },
      data: wireOld.data,
    };
    const refused = await call('decode', { payloads: [plain, unknown] });
    assert.equal(refused.status, 400);
    const body = (await refused.json()) as {
      error: { code: string; details: Array<{ path: string; message: string }> };
    };
    assert.equal(body.error.code, 'undecodable_payload');
    assert.equal(body.error.details[0]?.path, 'payloads.1');
    assert.match(body.error.details[0]?.message ?? '', /key "lost", which is not configured/);
  });

  test('the token is required and compared: none or a wrong one is 401', async () => {
    const payloads = { payloads: [wirePayload(1)] };
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`]) {
      const response = await fetch(`${base}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(payloads),
      });
      assert.equal(response.status, 401, String(authorization));
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="chatrelay-codec"');
      assert.match(((await response.json()) as { error: { message: string } }).error.message, /CODEC_TOKEN/);
    }
  });

  test('CORS: the UI origin gets its preflight and the answer; any other browser origin is refused', async () => {
    const preflight = await fetch(`${base}/codec/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: UI,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-namespace',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), UI);
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST');
    assert.match(
      preflight.headers.get('access-control-allow-headers') ?? '',
      /authorization.*content-type.*x-namespace/,
    );
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('vary') ?? '', /Origin/);

    const fromUi = await call('decode', { payloads: [] }, { origin: UI });
    assert.equal(fromUi.status, 200);
    assert.equal(fromUi.headers.get('access-control-allow-origin'), UI);

    for (const method of ['OPTIONS', 'POST']) {
      const elsewhere = await fetch(`${base}/codec/decode`, {
        method,
        headers: {
          origin: 'https://evil.example',
          'content-type': 'application/json',
          authorization: `Bearer ${TOKEN}`,
        },
        ...(method === 'POST' ? { body: '{"payloads":[]}' } : {}),
      });
      assert.equal(elsewhere.status, 403, method);
      assert.equal(elsewhere.headers.get('access-control-allow-origin'), null);
      assert.match(
        ((await elsewhere.json()) as { error: { message: string } }).error.message,
        /https:\/\/evil\.example.*CODEC_CORS_ORIGINS/,
      );
    }
  });

  test('bad input is named: not base64, unknown fields, not JSON, too large, wrong method', async () => {
    const invalid = await call('decode', { payloads: [{ data: 'not base64!', extra: 1 }] });
    assert.equal(invalid.status, 400);
    const details = ((await invalid.json()) as { error: { details: Array<{ path: string; message: string }> } }).error
      .details;
    assert.deepEqual(details.map((detail) => detail.path).sort(), ['payloads.0.data', 'payloads.0.extra']);
    assert.equal((await call('decode', { payloads: [] }, { 'content-type': 'text/plain' })).status, 415);
    const huge = JSON.stringify({ payloads: [{ data: 'A'.repeat(codecMaxBodyBytes) }] });
    assert.equal((await call('decode', huge)).status, 413);
    const get = await fetch(`${base}/codec/decode`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });
});
