import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startApi } from '../../src/api/server.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { freePort } from '../../src/lib/ports.js';
import { createStores } from '../../src/stores/index.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { quietLogger } from '../helpers/workflow-harness.js';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo?.close();
});

test('a process whose SECRETS_ENCRYPTION_KEY does not open the stored signing secrets refuses to start, naming the variable', async () => {
  const sealedWith = 'the-key-the-secrets-were-sealed-with-0123';
  await createStores(mongo.db, { secretBox: createSecretBox(sealedWith) }).signingSecrets.create('chn_any');
  const config = (key: string, oldKeys = '') =>
    loadConfig({
      SECRETS_ENCRYPTION_OLD_KEYS: oldKeys,
      PORT: '0',
      HOST: '127.0.0.1',
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      TEMPORAL_ADDRESS: `127.0.0.1:1`,
      OPENAI_API_KEY: 'k',
      ADMIN_TOKEN: 'a-strong-Admin-token-0123456789',
      SECRETS_ENCRYPTION_KEY: key,
      LOG_LEVEL: 'silent',
    });
  await assert.rejects(startApi(config('a-different-key-that-opens-nothing-0123'), quietLogger), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /SECRETS_ENCRYPTION_KEY does not open the signing secrets stored in MongoDB/);
    return true;
  });
  const api = await startApi({ ...config(sealedWith), PORT: await freePort() }, quietLogger);
  await api.close();
  // During a key change the new key is current and the old one listed: the process starts.
  const changing = await startApi(
    { ...config('the-new-key-of-a-key-change-0123456789', sealedWith), PORT: await freePort() },
    quietLogger,
  );
  await changing.close();
});
