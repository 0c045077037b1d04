/**
 * The admin and codec tokens (issue 24, item 3), on the API as startApi wires it (real MongoDB;
 * Temporal is not needed to authenticate): failed authentications are limited per source address,
 * and the codec endpoint opens with its own token only, never ADMIN_TOKEN.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { freePort } from '../../src/lib/ports.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

const ADMIN = 'Operator-auth-ADMIN-token-0123456789';
const CODEC = 'Operator-auth-CODEC-token-9876543210';

describe('admin and codec authentication', () => {
  let mongo: TestMongo | undefined;
  const apis: RunningApi[] = [];
  after(async () => {
    for (const api of apis) await api.close();
    await mongo?.close();
  });

  async function start(env: Record<string, string>): Promise<string> {
    mongo ??= await startTestMongo();
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      OPENAI_API_KEY: 'k',
      ADMIN_TOKEN: ADMIN,
      SECRETS_ENCRYPTION_KEY: 'operator-auth-secrets-encryption-key-0123456789',
      OVERLOAD_MAX_BACKLOG_MS: '0',
      LOG_LEVEL: 'silent',
      ...env,
    });
    const api = await startApi(config, createLogger({ level: 'silent', name: 'api' }));
    apis.push(api);
    return `http://127.0.0.1:${api.port}`;
  }

  const get = (base: string, path: string, token: string) =>
    fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } }).then(async (response) => ({
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as { error?: { code: string; message: string } },
    }));
  const decode = (base: string, token: string) =>
    fetch(`${base}/codec/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-namespace': 'default' },
      body: JSON.stringify({ payloads: [] }),
    }).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as { error?: { code: string; message: string } },
    }));

  test('past its failed authentications, an address gets 429 on admin and codec routes alike, until it waits', async () => {
    const base = await start({ CODEC_TOKEN: CODEC, RATE_LIMIT_ADMIN_FAILURES_PER_MINUTE: '3' });
    assert.equal((await get(base, '/v1/agents', ADMIN)).status, 200);
    assert.equal((await decode(base, CODEC)).status, 200);
    // Three wrong guesses, on either kind of route, spend the budget.
    assert.equal((await get(base, '/v1/agents', 'guess-1')).status, 401);
    assert.equal((await decode(base, 'guess-2')).status, 401);
    assert.equal((await get(base, '/v1/overview', 'guess-3')).status, 401);
    const limited = await get(base, '/v1/agents', 'guess-4');
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error?.code, 'rate_limited');
    assert.equal(limited.retryAfter, '20');
    // The guesser cannot tell a right guess from a wrong one any more: the real tokens get 429 too.
    assert.equal((await get(base, '/v1/agents', ADMIN)).status, 429);
    assert.equal((await decode(base, CODEC)).status, 429);
    assert.equal((await decode(base, ADMIN)).status, 429);
  });

  test('the codec endpoint is its own: ADMIN_TOKEN never opens it, and without CODEC_TOKEN it is off', async () => {
    const withCodec = await start({ CODEC_TOKEN: CODEC });
    assert.equal((await decode(withCodec, CODEC)).status, 200);
    assert.equal((await decode(withCodec, ADMIN)).status, 401);
    const without = await start({});
    const off = await decode(without, ADMIN);
    assert.equal(off.status, 404);
    assert.equal(off.body.error?.code, 'codec_disabled');
    assert.match(off.body.error?.message ?? '', /CODEC_TOKEN/);
    assert.equal((await get(without, '/v1/agents', ADMIN)).status, 200, 'the admin routes are unaffected');
  });
});
