import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { channelResponseSchema, createdChannelResponseSchema } from '../../src/api/contracts/admin.js';
import { createStores } from '../../src/stores/index.js';
import { ADMIN_TOKEN, call, startAdminApp, type AdminApp } from '../helpers/admin-app.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { parseJson, run } from '../helpers/run-cli.js';

let mongo: TestMongo;
let app: AdminApp;
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => run(args, { env });

before(async () => {
  mongo = await startTestMongo();
  const stores = createStores(mongo.db);
  await stores.ensureIndexes();
  app = await startAdminApp(stores);
  env = { PATH: process.env.PATH, HOME: process.env.HOME, CHATRELAY_URL: app.base, ADMIN_TOKEN };
});
after(async () => {
  await app?.close();
  await mongo?.close();
});

test('channels create / update / get with --events-url; "" removes it; a bad URL names the flag', async () => {
  const agentId = String(
    (await call(app.base, 'POST', '/v1/agents', { body: { name: 'a', system_prompt: '' } })).body.id,
  );
  const created = parseJson(
    createdChannelResponseSchema,
    await cli(
      'channels',
      'create',
      '--json',
      '--agent',
      agentId,
      '--page-id',
      'cli-events',
      '--reply-url',
      'https://receiver.example.com/replies',
      '--events-url',
      'https://helpdesk.example.com/events',
    ),
  );
  assert.equal(created.events_url, 'https://helpdesk.example.com/events');
  const shown = await cli('channels', 'get', created.id);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /events_url\s+https:\/\/helpdesk\.example\.com\/events/);

  const cleared = parseJson(
    channelResponseSchema,
    await cli('channels', 'update', created.id, '--events-url', '', '--json'),
  );
  assert.equal(cleared.events_url, '');
  assert.match((await cli('channels', 'get', created.id)).stdout, /events_url\s+\(none\)/);

  const invalid = await cli('channels', 'update', created.id, '--events-url', 'ftp://helpdesk.example.com/x');
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /events_url \(--events-url\): must be an absolute http or https URL/);
});
