import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { percentile } from '../../src/api/overview.js';
import { TEST_PLATFORM } from '../../src/api/routes/dashboard-api.js';
import { DASHBOARD_CSP } from '../../src/api/routes/dashboard.js';
import {
  chatHistoryResponseSchema,
  chatListResponseSchema,
  overviewResponseSchema,
  testMessageResponseSchema,
} from '../../src/api/contracts/dashboard.js';
import { channelResponseSchema } from '../../src/api/contracts/admin.js';
import { chatIdFor } from '../../src/stores/chats.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { call } from '../helpers/admin-app.js';
import type { RecordingStarter } from '../helpers/recording-starter.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { startDashboardApiApp, storeAnsweredMessage } from '../helpers/dashboard-data.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('the dashboard admin routes: chats, chat history, test message, pause, overview', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let app: Awaited<ReturnType<typeof startDashboardApiApp>>;
  let base: string;
  let starter: RecordingStarter;
  let dashboardDir: string;

  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    dashboardDir = mkdtempSync(join(tmpdir(), 'chatrelay-dashboard-'));
    writeFileSync(join(dashboardDir, 'index.html'), '<!doctype html><title>t</title>');
    app = await startDashboardApiApp(stores, { dashboardDir });
    ({ base, starter } = app);
  });
  after(async () => {
    await app?.close();
    await mongo?.close();
    rmSync(dashboardDir, { recursive: true, force: true });
  });

  test('every route needs the admin token', async () => {
    for (const [method, path] of [
      ['GET', '/v1/overview'],
      ['GET', '/v1/channels/chn_x/chats'],
      ['POST', '/v1/channels/chn_x/pause'],
    ] as const) {
      assert.equal((await call(base, method, path, { token: 'wrong-token-0123456789' })).status, 401, path);
      assert.equal((await call(base, method, path, { token: null })).status, 401, path);
    }
  });

  test("a channel's chats, most recent first, and one chat's history with its reply parts", async () => {
    const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const earlier = new Date(Date.now() - 60_000);
    await storeAnsweredMessage(stores, channel, 'ada', {
      text: 'First',
      reply: ['One'],
      status: 'delivered',
      at: earlier,
    });
    const second = await storeAnsweredMessage(stores, channel, 'bob', {
      text: 'Second',
      reply: ['Two, part 1', 'Two, part 2'],
      status: 'delivered',
    });
    const list = await call(base, 'GET', `/v1/channels/${channel.id}/chats`);
    assert.equal(list.status, 200, list.text);
    const chats = chatListResponseSchema.parse(list.body);
    assert.deepEqual(
      chats.data.map((chat) => [chat.client_id, chat.client_name, chat.last_message?.text]),
      [
        ['bob', 'Name of bob', 'Two, part 1\nTwo, part 2'],
        ['ada', 'Name of ada', 'One'],
      ],
    );
    assert.equal(chats.next_before, null);
    const paged = chatListResponseSchema.parse(
      (await call(base, 'GET', `/v1/channels/${channel.id}/chats?limit=1`)).body,
    );
    assert.deepEqual(
      paged.data.map((chat) => chat.client_id),
      ['bob'],
    );
    assert.ok(paged.next_before);
    const rest = chatListResponseSchema.parse(
      (await call(base, 'GET', `/v1/channels/${channel.id}/chats?limit=1&before=${paged.next_before}`)).body,
    );
    assert.deepEqual(
      rest.data.map((chat) => chat.client_id),
      ['ada'],
    );

    const bobChat = chats.data[0]?.id ?? '';
    const history = await call(base, 'GET', `/v1/channels/${channel.id}/chats/${bobChat}`);
    assert.equal(history.status, 200, history.text);
    const parsed = chatHistoryResponseSchema.parse(history.body);
    assert.equal(parsed.turns.length, 1);
    assert.equal(parsed.turns[0]?.message_id, second);
    assert.equal(parsed.turns[0]?.status, 'delivered');
    assert.deepEqual(parsed.turns[0]?.user, {
      text: 'Second',
      audio: null,
      transcript: null,
      attachments: ['https://example.com/a.png'],
    });
    assert.deepEqual(
      parsed.turns[0]?.assistant.map((part) => [part.part, part.text]),
      [
        [1, 'Two, part 1'],
        [2, 'Two, part 2'],
      ],
    );
  });

  test('a voice message shows its audio URL and transcript', async () => {
    const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const id = await storeAnsweredMessage(stores, channel, 'dan', {
      text: '',
      audio: 'https://example.com/voice.ogg',
      reply: ['Heard you.'],
      status: 'delivered',
    });
    await stores.messages.saveTranscript(id, 'what time do you open');
    const chatId = chatIdFor(channel.id, 'dan');
    const history = chatHistoryResponseSchema.parse(
      (await call(base, 'GET', `/v1/channels/${channel.id}/chats/${chatId}`)).body,
    );
    assert.deepEqual(history.turns[0]?.user, {
      text: null,
      audio: 'https://example.com/voice.ogg',
      transcript: 'what time do you open',
      attachments: ['https://example.com/a.png'],
    });
  });

  test('a chat of another channel, or an unknown channel, is a 404; a bad query a 400 naming it', async () => {
    const one = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const other = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    await storeAnsweredMessage(stores, one.channel, 'carol', { text: 'Hi', reply: ['Hey'], status: 'delivered' });
    const chatId = chatIdFor(one.channel.id, 'carol');
    assert.equal((await call(base, 'GET', `/v1/channels/${other.channel.id}/chats/${chatId}`)).status, 404);
    assert.equal((await call(base, 'GET', '/v1/channels/chn_nope/chats')).status, 404);
    const bad = await call(base, 'GET', `/v1/channels/${one.channel.id}/chats?limit=0`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.details?.[0]?.path, 'limit');
  });

  test('a test message is started exactly as an inbound message, as the dashboard test user', async () => {
    const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const response = await call(base, 'POST', `/v1/channels/${channel.id}/test-message`, { body: { text: 'Try me' } });
    assert.equal(response.status, 202, response.text);
    const accepted = testMessageResponseSchema.parse(response.body);
    const started = starter.started.at(-1);
    assert.equal(started?.messageId, accepted.message_id);
    assert.equal(started?.chatId, accepted.chat_id);
    assert.equal(started?.chatId, chatIdFor(channel.id, 'dashboard-tester'));
    assert.equal(started?.channelId, channel.id);
    assert.equal(started?.tokenVersion, channel.token_version);
    assert.deepEqual(started?.message, {
      client_id: 'dashboard-tester',
      client_name: 'Dashboard test user',
      platform: TEST_PLATFORM,
      text: 'Try me',
    });
  });

  test('a test message with no text, an unknown field or for an unknown channel is refused, naming why', async () => {
    const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const count = starter.started.length;
    const blank = await call(base, 'POST', `/v1/channels/${channel.id}/test-message`, { body: { text: '  ' } });
    assert.equal(blank.status, 400);
    assert.deepEqual(blank.body.error?.details, [{ path: 'text', message: 'must not be empty' }]);
    const unknown = await call(base, 'POST', `/v1/channels/${channel.id}/test-message`, {
      body: { text: 'x', txt: 'y' },
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error?.details?.[0]?.path, 'txt');
    assert.equal((await call(base, 'POST', '/v1/channels/chn_nope/test-message', { body: { text: 'x' } })).status, 404);
    assert.equal(starter.started.length, count, 'nothing started');
  });

  test('pause sets delivery_paused with the reason; an unknown channel is a 404', async () => {
    const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const response = await call(base, 'POST', `/v1/channels/${channel.id}/pause`);
    assert.equal(response.status, 200, response.text);
    const paused = channelResponseSchema.parse(response.body);
    assert.equal(paused.delivery_paused, true);
    assert.match(paused.paused_reason ?? '', /paused by an admin/);
    assert.equal((await stores.channels.get(channel.id))?.delivery_paused, true);
    assert.equal((await call(base, 'POST', '/v1/channels/chn_nope/pause')).status, 404);
  });

  test('the overview counts the hour and names the channels with failures or paused delivery', async () => {
    await mongo.db.dropDatabase();
    const healthy = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const failing = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const paused = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    await stores.channels.update(paused.channel.id, {
      delivery_paused: true,
      paused_reason: 'the reply URL answered 410',
    });
    for (const ackMs of [10, 20, 30, 40]) {
      await storeAnsweredMessage(stores, healthy.channel, `h${ackMs}`, {
        text: 'ok',
        reply: ['fine'],
        status: 'delivered',
        ackMs,
      });
    }
    await storeAnsweredMessage(stores, failing.channel, 'f1', { text: 'x', reply: ['y'], status: 'failed' });
    // Two hours ago: outside the window.
    await storeAnsweredMessage(stores, healthy.channel, 'old', {
      text: 'old',
      reply: ['old'],
      status: 'delivered',
      at: new Date(Date.now() - 2 * 3_600_000),
    });
    const response = await call(base, 'GET', '/v1/overview');
    assert.equal(response.status, 200, response.text);
    const overview = overviewResponseSchema.parse(response.body);
    assert.equal(overview.per_minute.length, 60);
    assert.equal(overview.received, 5);
    assert.equal(
      overview.per_minute.reduce((sum, n) => sum + n, 0),
      5,
    );
    // The old message's outcome was written now (its test record), so it counts as ended this hour.
    assert.equal(overview.delivered, 5);
    assert.equal(overview.failed, 1);
    assert.equal(overview.not_answered, 0);
    assert.deepEqual(overview.ack_ms, { p50: 20, p99: 40, samples: 4 });
    assert.deepEqual(
      overview.channels.map((channel) => [channel.id, channel.failed, channel.delivery_paused]),
      [
        [failing.channel.id, 1, false],
        [paused.channel.id, 0, true],
      ],
    );
  });

  test('percentile: nearest rank, null without samples', () => {
    assert.equal(percentile([], 0.5), null);
    assert.equal(percentile([7], 0.99), 7);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5), 5);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99), 10);
  });

  test('the dashboard files: served with a strict CSP; a missing file is a 404', async () => {
    const page = await fetch(`${base}/dashboard/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), DASHBOARD_CSP);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const redirect = await fetch(`${base}/dashboard`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal((await fetch(`${base}/dashboard/nope.js`)).status, 404);
  });
});
