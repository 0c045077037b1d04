import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { channelSnapshot } from '../../src/domain/snapshot.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { call, startAdminApp, type AdminApp } from '../helpers/admin-app.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

let mongo: TestMongo;
let stores: Stores;
let app: AdminApp;
let agentId: string;
before(async () => {
  mongo = await startTestMongo();
  stores = createStores(mongo.db);
  await stores.ensureIndexes();
  // As the API runs in production (DELIVERY_ALLOW_PRIVATE unset).
  app = await startAdminApp(stores, { deliveryPolicy: { allowPrivate: false, allowHosts: [] } });
  agentId = String((await call(app.base, 'POST', '/v1/agents', { body: { name: 'a', system_prompt: '' } })).body.id);
});
after(async () => {
  await app?.close();
  await mongo?.close();
});

let pages = 0;
const create = (extra: Record<string, unknown> = {}) =>
  call(app.base, 'POST', '/v1/channels', {
    body: {
      agent_id: agentId,
      page_id: `events-${(pages += 1)}`,
      reply_webhook_url: 'https://receiver.example.com/replies',
      ...extra,
    },
  });

test('events_url: empty by default, set on create, changed, cleared with ""; the snapshot carries it only when set', async () => {
  const plain = await create();
  assert.equal(plain.status, 201);
  assert.equal(plain.body.events_url, '');
  const id = String(plain.body.id);
  const agent = await stores.agents.get(agentId);
  assert.ok(agent);
  const snapshotOf = async () => {
    const channel = await stores.channels.get(id);
    assert.ok(channel);
    return channelSnapshot(channel, agent, [5]);
  };
  assert.equal('eventsUrl' in (await snapshotOf()), false, 'no events URL: the snapshot is as before');

  const set = await call(app.base, 'PATCH', `/v1/channels/${id}`, {
    body: { events_url: 'https://helpdesk.example.com/events' },
  });
  assert.equal(set.status, 200);
  assert.equal(set.body.events_url, 'https://helpdesk.example.com/events');
  assert.equal((await snapshotOf()).eventsUrl, 'https://helpdesk.example.com/events');

  const cleared = await call(app.base, 'PATCH', `/v1/channels/${id}`, { body: { events_url: '' } });
  assert.equal(cleared.status, 200);
  assert.equal(cleared.body.events_url, '');
  assert.equal('eventsUrl' in (await snapshotOf()), false);

  const created = await create({ events_url: 'https://helpdesk.example.com/events' });
  assert.equal(created.status, 201);
  assert.equal(created.body.events_url, 'https://helpdesk.example.com/events');
});

test('an events URL that is not an absolute http(s) URL is a 400 naming events_url', async () => {
  for (const url of ['ftp://example.com/events', 'not a url', '/events']) {
    const response = await create({ events_url: url });
    assert.equal(response.status, 400, url);
    const [detail] = response.body.error?.details ?? [];
    assert.equal(detail?.path, 'events_url', url);
  }
});

test('an events URL naming a private address is refused like a reply URL (the SSRF guard), on create and on change', async () => {
  const refused = await create({ events_url: 'http://169.254.169.254/latest/meta-data' });
  assert.equal(refused.status, 400);
  const [detail] = refused.body.error?.details ?? [];
  assert.equal(detail?.path, 'events_url');
  assert.match(
    detail?.message ?? '',
    /^169\.254\.169\.254 is .*: events are not delivered there unless DELIVERY_ALLOW_PRIVATE=true or the host is in DELIVERY_ALLOW_HOSTS$/,
  );
  const id = String((await create()).body.id);
  const changed = await call(app.base, 'PATCH', `/v1/channels/${id}`, { body: { events_url: 'http://10.1.2.3/x' } });
  assert.equal(changed.status, 400);
  assert.equal(changed.body.error?.details?.[0]?.path, 'events_url');
  assert.equal((await call(app.base, 'GET', `/v1/channels/${id}`)).body.events_url, '');
});
