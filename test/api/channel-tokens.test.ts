import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { collections } from '../../src/stores/collections.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { call, sendMessage, startAdminApp, type AdminApp } from '../helpers/admin-app.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

const KEY = 'channel-tokens-test-secrets-key-0123456789';
let mongo: TestMongo;
let stores: Stores;
let app: AdminApp;
before(async () => {
  mongo = await startTestMongo();
  stores = createStores(mongo.db, { secretBox: createSecretBox(KEY) });
  await stores.ensureIndexes();
  app = await startAdminApp(stores);
});
after(async () => {
  await app?.close();
  await mongo?.close();
});

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
let pages = 0;

async function newChannel(apiToken: string): Promise<{ id: string; page_id: string }> {
  const agent = await call(app.base, 'POST', '/v1/agents', { body: { name: 'a', system_prompt: '' } });
  const created = await call(app.base, 'POST', '/v1/channels', {
    body: {
      agent_id: agent.body.id,
      page_id: `tokens-${(pages += 1)}`,
      reply_webhook_url: 'http://127.0.0.1:9/r',
      api_token: apiToken,
    },
  });
  assert.equal(created.status, 201, created.text);
  return created.body as unknown as { id: string; page_id: string };
}

const storedHash = async (channelId: string) =>
  (await collections(mongo.db).channels.findOne({ _id: channelId }))?.token_hash ?? '';

test('an API token is stored as HMAC-SHA-256 under a key scrypt derives from SECRETS_ENCRYPTION_KEY with a stored salt, not as its plain hash', async () => {
  // An admin-chosen token: guessable enough that an unkeyed hash in a dump could be cracked offline.
  const token = 'Summer2025-support-page';
  const channel = await newChannel(token);
  const hash = await storedHash(channel.id);
  assert.match(hash, /^v3:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{8}:[0-9a-f]{64}$/);
  assert.ok(!hash.includes(sha256(token)), 'not the unkeyed SHA-256');
  assert.notEqual(
    hash,
    createSecretBox('another-deployment-key-0123456789abcdef').hashToken(token),
    'another key gives another hash',
  );
  assert.equal((await sendMessage(app.base, channel.page_id, token)).status, 200);
  assert.equal((await sendMessage(app.base, channel.page_id, `${token}x`)).status, 401);
});

/** The token hashes of versions before the scrypt-derived key, as they were made. */
const legacyHashes: Array<[string, (token: string) => string]> = [
  ['plain SHA-256', sha256],
  [
    'HMAC under a key of one SHA-256 round',
    (token) => {
      const id = createHmac('sha256', KEY).update('chatrelay key id').digest('hex').slice(0, 12);
      const key = createHmac('sha256', KEY).update('chatrelay api token hmac').digest();
      return `hmac-sha256:${id}:${createHmac('sha256', key).update(token, 'utf8').digest('hex')}`;
    },
  ],
];

for (const [form, legacyHash] of legacyHashes) {
  test(`a token stored as ${form} by an earlier version is wrapped under the scrypt key at the API's start, and keeps working`, async () => {
    const token = `an-old-token-from-before-scrypt-${form.length}`;
    const channel = await newChannel(token);
    const old = legacyHash(token);
    await collections(mongo.db).channels.updateOne({ _id: channel.id }, { $set: { token_hash: old } });
    app.auth.invalidate(channel.page_id);
    assert.equal((await sendMessage(app.base, channel.page_id, token)).status, 200, 'read before the start step');

    assert.ok((await stores.channels.wrapLegacyTokenHashes()) >= 1);
    const wrapped = await storedHash(channel.id);
    assert.match(wrapped, /^v3w:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{8}:(sha256|hmac):[0-9a-f]{64}$/);
    for (const part of old.split(':')) assert.ok(!wrapped.includes(part), `nothing of the old hash is left: ${part}`);
    assert.equal(await stores.channels.wrapLegacyTokenHashes(), 0, 'a second start has nothing to do');
    app.auth.invalidate(channel.page_id);
    assert.equal((await sendMessage(app.base, channel.page_id, token)).status, 200, 'the token works on');
    assert.equal((await sendMessage(app.base, channel.page_id, `${token}x`)).status, 401);
    assert.equal((await sendMessage(app.base, channel.page_id, old)).status, 401, 'the old hash is no token');
  });
}

test('a token hashed under a key this process does not have is refused like a wrong one', async () => {
  const token = 'a-token-hashed-under-another-key';
  const channel = await newChannel(token);
  await collections(mongo.db).channels.updateOne(
    { _id: channel.id },
    { $set: { token_hash: createSecretBox('some-other-key-0123456789abcdefghij').hashToken(token) } },
  );
  app.auth.invalidate(channel.page_id);
  const refused = await sendMessage(app.base, channel.page_id, token);
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error?.code, 'unauthorized');
});
