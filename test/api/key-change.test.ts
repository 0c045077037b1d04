import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { reencryptSecretsResponseSchema } from '../../src/api/contracts/admin.js';
import { createSecretBox, generateSigningSecret } from '../../src/lib/secret-box.js';
import { createStores } from '../../src/stores/index.js';
import { call, sendMessage, startAdminApp, type AdminApp } from '../helpers/admin-app.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

const OLD_KEY = 'the-old-secrets-encryption-key-0123456789';
const NEW_KEY = 'the-new-secrets-encryption-key-9876543210';

let mongo: TestMongo;
const apps: AdminApp[] = [];
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  for (const app of apps) await app.close();
  await mongo?.close();
});

/** A secret sealed as versions before key ids did (`v1`, no key id), for the same passphrase. */
function sealedAsV1(passphrase: string, plain: string): string {
  const key = createHash('sha256').update(`chatrelay-secret-box\u0000${passphrase}`).digest();
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(
    '.',
  );
}

const storesWith = (key: string, oldKeys: string[] = []) =>
  createStores(mongo.db, { secretBox: createSecretBox(key, oldKeys) });
async function appWith(key: string, oldKeys: string[] = []): Promise<AdminApp> {
  const app = await startAdminApp(storesWith(key, oldKeys));
  apps.push(app);
  return app;
}

test('changing SECRETS_ENCRYPTION_KEY: old secrets stay readable during the change, are re-encrypted, then need only the new key', async () => {
  const before = storesWith(OLD_KEY);
  await before.ensureIndexes();
  const channels = [];
  for (let i = 0; i < 3; i++) channels.push(await createChannelWithAgent(before, { replyUrl: 'http://127.0.0.1:9/r' }));
  // One channel also has a secret from before key ids, still in its rotation grace period.
  const legacySecret = generateSigningSecret();
  const [first] = channels;
  assert.ok(first);
  await mongo.db.collection('signing_secrets').insertOne({
    _id: 'whs_legacy' as never,
    channel_id: first.channel.id,
    sealed: sealedAsV1(OLD_KEY, legacySecret),
    created_at: new Date(Date.now() - 1_000),
    expires_at: new Date(Date.now() + 3_600_000),
  });
  const expected = new Map(channels.map(({ channel, signingSecret }) => [channel.id, [signingSecret]]));
  expected.get(first.channel.id)?.push(legacySecret);

  // During the change: new key current, old key listed. Everything reads; nothing is lost. (The
  // secret above is stored as secrets were before each channel had one document: start-up moves it,
  // and re-seals it under the current key, as every `v1`/`v2` value from before the scrypt key.)
  const during = storesWith(NEW_KEY, [OLD_KEY]);
  await during.ensureIndexes();
  assert.equal(await mongo.db.collection('signing_secrets').countDocuments(), 0, 'moved into its channel’s document');
  for (const [channelId, secrets] of expected) assert.deepEqual(await during.signingSecrets.active(channelId), secrets);
  const app = await appWith(NEW_KEY, [OLD_KEY]);
  assert.equal(
    (await sendMessage(app.base, first.channel.page_id, first.token)).status,
    200,
    'tokens hashed under the old key still work',
  );

  const run = await call(app.base, 'POST', '/v1/secrets/reencrypt');
  assert.equal(run.status, 200, run.text);
  const result = reencryptSecretsResponseSchema.parse(run.body);
  assert.deepEqual(result.signing_secrets, { reencrypted: 3, already_current: 1, unreadable: 0 });
  assert.deepEqual(result.api_tokens.under_old_key, channels.map(({ channel }) => channel.id).sort());
  const again = reencryptSecretsResponseSchema.parse((await call(app.base, 'POST', '/v1/secrets/reencrypt')).body);
  assert.deepEqual(again.signing_secrets, { reencrypted: 0, already_current: 4, unreadable: 0 }, 'idempotent');

  // After: the new key alone opens every secret; the old key alone opens none.
  const afterwards = storesWith(NEW_KEY);
  for (const [channelId, secrets] of expected)
    assert.deepEqual(await afterwards.signingSecrets.active(channelId), secrets);
  assert.equal(await afterwards.signingSecrets.keyOpensStoredSecrets(), true);
  assert.equal(await storesWith(OLD_KEY).signingSecrets.keyOpensStoredSecrets(), false);

  // Tokens cannot be re-hashed (never stored): the report named them; rotated, they need only the new key.
  const newOnly = await appWith(NEW_KEY);
  assert.equal((await sendMessage(newOnly.base, first.channel.page_id, first.token)).status, 401);
  const rotated = await call(app.base, 'POST', `/v1/channels/${first.channel.id}/rotate-token`);
  newOnly.auth.invalidate(first.channel.page_id); // another process: it would see the rotation within its cache TTL
  assert.equal((await sendMessage(newOnly.base, first.channel.page_id, String(rotated.body.api_token))).status, 200);
  const report = reencryptSecretsResponseSchema.parse((await call(app.base, 'POST', '/v1/secrets/reencrypt')).body);
  assert.ok(!report.api_tokens.under_old_key.includes(first.channel.id));
});

test('a secret no configured key opens is counted, left as it is, and does not stop the others', async () => {
  const stranger = storesWith('a-key-this-deployment-never-had-0123456789');
  const { channel } = await createChannelWithAgent(stranger, { replyUrl: 'http://127.0.0.1:9/r' });
  const app = await appWith(NEW_KEY, [OLD_KEY]);
  const result = reencryptSecretsResponseSchema.parse((await call(app.base, 'POST', '/v1/secrets/reencrypt')).body);
  assert.equal(result.signing_secrets.unreadable, 1);
  assert.ok(result.api_tokens.under_unknown_key.includes(channel.id));
  assert.equal(
    (await call(app.base, 'POST', '/v1/secrets/reencrypt', { token: 'not-the-admin-token-0123' })).status,
    401,
  );
});

test('at start, a signing secret sealed before the scrypt key (one SHA-256 of the passphrase) is re-sealed under it', async () => {
  const stores = storesWith(NEW_KEY);
  const { channel, signingSecret } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
  const legacy = sealedAsV1(NEW_KEY, signingSecret);
  const secrets = mongo.db.collection<{ _id: string; secrets: Array<{ sealed: string }> }>('channel_signing_secrets');
  await secrets.updateOne({ _id: channel.id }, { $set: { 'secrets.0.sealed': legacy } });
  assert.deepEqual(await stores.signingSecrets.active(channel.id), [signingSecret], 'the old form still opens');

  await storesWith(NEW_KEY).ensureIndexes();
  const sealed = (await secrets.findOne({ _id: channel.id }))?.secrets[0]?.sealed ?? '';
  assert.match(sealed, /^v3\./, 'no longer under the fast-derived key');
  assert.deepEqual(await storesWith(NEW_KEY).signingSecrets.active(channel.id), [signingSecret]);
});
