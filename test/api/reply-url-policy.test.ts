import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createStores } from '../../src/stores/index.js';
import { call, startAdminApp, type AdminApp } from '../helpers/admin-app.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

let mongo: TestMongo;
let strict: AdminApp;
let allowing: AdminApp;
let local: AdminApp;
let agentId: string;
before(async () => {
  mongo = await startTestMongo();
  const stores = createStores(mongo.db);
  await stores.ensureIndexes();
  // As the API runs in production (DELIVERY_ALLOW_PRIVATE unset), and with one internal host allowed.
  strict = await startAdminApp(stores, { deliveryPolicy: { allowPrivate: false, allowHosts: [] } });
  allowing = await startAdminApp(stores, {
    deliveryPolicy: { allowPrivate: false, allowHosts: ['10.0.0.7', 'hooks.internal'] },
  });
  // As the local stack runs it (DELIVERY_ALLOW_PRIVATE=true).
  local = await startAdminApp(stores, { deliveryPolicy: { allowPrivate: true, allowHosts: [] } });
  agentId = String((await call(strict.base, 'POST', '/v1/agents', { body: { name: 'a', system_prompt: '' } })).body.id);
});
after(async () => {
  await strict?.close();
  await allowing?.close();
  await local?.close();
  await mongo?.close();
});

let pages = 0;
const create = (app: AdminApp, url: string) =>
  call(app.base, 'POST', '/v1/channels', {
    body: { agent_id: agentId, page_id: `policy-${(pages += 1)}`, reply_webhook_url: url },
  });

test('a reply URL naming a private, loopback or metadata address is a 400 naming reply_webhook_url', async () => {
  for (const [url, address] of [
    ['http://127.0.0.1:3000/replies', '127.0.0.1'],
    ['http://169.254.169.254/latest/meta-data', '169.254.169.254'],
    ['https://10.0.0.5/hook', '10.0.0.5'],
    ['http://192.168.1.20:8080/r', '192.168.1.20'],
    ['http://localhost:3000/replies', 'localhost'],
  ] as const) {
    const response = await create(strict, url);
    assert.equal(response.status, 400, url);
    assert.equal(response.body.error?.code, 'invalid_request');
    const [detail] = response.body.error?.details ?? [];
    assert.equal(detail?.path, 'reply_webhook_url');
    assert.match(
      detail?.message ?? '',
      new RegExp(
        `^${address.replaceAll('.', '\\.')} is .*DELIVERY_ALLOW_PRIVATE=true or the host is in DELIVERY_ALLOW_HOSTS$`,
      ),
    );
  }
});

test('a public host name is accepted (its addresses are checked when the worker connects); so is an allowed private host', async () => {
  assert.equal((await create(strict, 'https://receiver.example.com/replies')).status, 201);
  assert.equal((await create(allowing, 'http://10.0.0.7/hook')).status, 201);
  assert.equal((await create(allowing, 'http://10.0.0.8/hook')).status, 400, 'only the listed host');
  assert.equal((await create(allowing, 'http://hooks.internal/hook')).status, 201);
});

test('changing a reply URL to a private address is refused too, and the channel keeps its URL', async () => {
  const created = await create(strict, 'https://receiver.example.com/replies');
  const id = String(created.body.id);
  const changed = await call(strict.base, 'PATCH', `/v1/channels/${id}`, {
    body: { reply_webhook_url: 'http://10.9.9.9:9000/x' },
  });
  assert.equal(changed.status, 400);
  assert.equal(changed.body.error?.details?.[0]?.path, 'reply_webhook_url');
  assert.match(changed.body.error?.details?.[0]?.message ?? '', /^10\.9\.9\.9 is a loopback, private/);
  assert.equal(
    (await call(strict.base, 'GET', `/v1/channels/${id}`)).body.reply_webhook_url,
    'https://receiver.example.com/replies',
  );
});

test('where private addresses are allowed, a link-local or metadata reply URL is still a 400, unless its host is named', async () => {
  // (IPv6 literals are refused as reply URLs before any address check.)
  for (const url of ['http://169.254.169.254/latest/meta-data', 'http://169.254.0.1/r', 'http://100.100.100.200/']) {
    const response = await create(local, url);
    assert.equal(response.status, 400, url);
    const [detail] = response.body.error?.details ?? [];
    assert.equal(detail?.path, 'reply_webhook_url');
    assert.match(
      detail?.message ?? '',
      /link-local or cloud metadata address.*unless the host is in DELIVERY_ALLOW_HOSTS$/,
    );
  }
  assert.equal((await create(local, 'http://127.0.0.1:3000/replies')).status, 201, 'loopback stays allowed');
  const named = await startAdminApp(createStores(mongo.db), {
    deliveryPolicy: { allowPrivate: true, allowHosts: ['169.254.169.254'] },
  });
  try {
    assert.equal((await create(named, 'http://169.254.169.254/latest/meta-data')).status, 201);
  } finally {
    await named.close();
  }
});
