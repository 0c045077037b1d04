import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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

test('an API token is stored as HMAC-SHA-256 under a key derived from SECRETS_ENCRYPTION_KEY, not as its plain hash', async () => {
  // An admin-chosen token: guessable enough that an unkeyed hash in a dump could be cracked offline.
  const token = 'Summer2025-support-page';
  const channel = await newChannel(token);
  const hash = await storedHash(channel.id);
  assert.match(hash, /^hmac-sha256:[0-9a-f]{12}:[0-9a-f]{64}$/);
  assert.ok(!hash.includes(sha256(token)), 'not the unkeyed SHA-256');
  assert.notEqual(
    hash,
    createSecretBox('another-deployment-key-0123456789abcdef').hashToken(token),
    'another key gives another hash',
  );
  assert.equal((await sendMessage(app.base, channel.page_id, token)).status, 200);
  assert.equal((await sendMessage(app.base, channel.page_id, `${token}x`)).status, 401);
});

test('a token stored as plain SHA-256 by an earlier version keeps working; rotating it stores the keyed hash', async () => {
  const token = 'an-old-token-from-before-keyed-hashes';
  const channel = await newChannel(token);
  await collections(mongo.db).channels.updateOne({ _id: channel.id }, { $set: { token_hash: sha256(token) } });
  app.auth.invalidate(channel.page_id);
  assert.equal((await sendMessage(app.base, channel.page_id, token)).status, 200);
  assert.equal((await sendMessage(app.base, channel.page_id, 'not-the-old-token-at-all')).status, 401);
  const rotated = await call(app.base, 'POST', `/v1/channels/${channel.id}/rotate-token`);
  assert.match(await storedHash(channel.id), /^hmac-sha256:/);
  assert.equal((await sendMessage(app.base, channel.page_id, String(rotated.body.api_token))).status, 200);
  assert.equal((await sendMessage(app.base, channel.page_id, token)).status, 401);
});

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
