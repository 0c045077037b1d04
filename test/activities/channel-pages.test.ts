import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { agentDefaults, channelDefaults } from '../../src/domain/models.js';
import { generateApiToken } from '../../src/lib/secrets.js';
import { chatIdFor, legacyChatIdFor } from '../../src/stores/chats.js';
import { collections, isDuplicateKey } from '../../src/stores/collections.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

/**
 * The API finds a message's channel by its page id through `channel_pages` (lookups by `_id`
 * alone, flat on FerretDB). Whatever admins do at once, the page must lead to the channel that
 * holds it, on the MongoDB-compatible server we run.
 */
describe('a page id leads to its channel, whatever admins do at once', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let agentId: string;
  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
    agentId = (await stores.agents.create({ ...agentDefaults, name: 'pages', system_prompt: 'x' })).id;
  });
  after(async () => {
    await mongo?.close();
  });

  const create = (pageId: string) =>
    stores.channels.create({
      ...channelDefaults,
      agent_id: agentId,
      page_id: pageId,
      reply_webhook_url: 'http://127.0.0.1:9/r',
      api_token: generateApiToken(),
    });

  test('two creates of one page at once: one channel, and the page finds it', async () => {
    for (let round = 0; round < 25; round++) {
      const pageId = `race-${round}`;
      const results = await Promise.allSettled([create(pageId), create(pageId), create(pageId)]);
      const created = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
      const refused = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
      assert.equal(created.length, 1, `round ${round}: exactly one create wins`);
      assert.ok(refused.every(isDuplicateKey), `round ${round}: the others are told the page is taken`);
      assert.equal((await stores.channels.getByPageId(pageId))?.id, created[0]?.id, `round ${round}`);
    }
  });

  test('a page moved, a channel deleted, a page left behind by an interrupted change', async () => {
    const first = await create('moving-a');
    await stores.channels.update(first.id, { page_id: 'moving-b' });
    assert.equal(await stores.channels.getByPageId('moving-a'), undefined);
    assert.equal((await stores.channels.getByPageId('moving-b'))?.id, first.id);
    // The old page is free again.
    const second = await create('moving-a');
    assert.equal((await stores.channels.getByPageId('moving-a'))?.id, second.id);
    await stores.channels.delete(second.id);
    assert.equal(await stores.channels.getByPageId('moving-a'), undefined);
    // A page document whose channel is gone (a create interrupted between its two writes) is taken over.
    await mongo.db.collection<{ _id: string; channel_id: string }>('channel_pages').insertOne({
      _id: 'left-behind',
      channel_id: 'chn_never_created',
    });
    assert.equal(await stores.channels.getByPageId('left-behind'), undefined);
    const third = await create('left-behind');
    assert.equal((await stores.channels.getByPageId('left-behind'))?.id, third.id);
  });

  test('channels stored before there were page documents get theirs at start-up', async () => {
    const channel = await create('from-before');
    await mongo.db.collection('channel_pages').deleteOne({ _id: 'from-before' } as never);
    assert.equal(await stores.channels.getByPageId('from-before'), undefined);
    await stores.ensureIndexes();
    assert.equal((await stores.channels.getByPageId('from-before'))?.id, channel.id);
  });

  test("a channel from before issue 24 keeps its chats' ids: pinned to its page at the start, kept when it moves", async () => {
    const legacy = await create('legacy-page');
    // As a channel written before chats were a channel's own: no chats_page_id.
    await collections(mongo.db).channels.updateOne({ _id: legacy.id }, { $unset: { chats_page_id: '' } });
    const before = await stores.channels.get(legacy.id);
    assert.ok(before);
    assert.equal(chatIdFor(before, 'ann'), legacyChatIdFor('legacy-page', 'ann'));
    await stores.ensureIndexes();
    assert.equal((await stores.channels.get(legacy.id))?.chats_page_id, 'legacy-page');
    const moved = await stores.channels.update(legacy.id, { page_id: 'legacy-moved' });
    assert.ok(moved);
    assert.equal(chatIdFor(moved, 'ann'), legacyChatIdFor('legacy-page', 'ann'));
    // A new channel on the page it left starts with chats of its own.
    const fresh = await create('legacy-page');
    assert.equal(fresh.chats_page_id, null);
    assert.notEqual(chatIdFor(fresh, 'ann'), chatIdFor(moved, 'ann'));
    // Its chats in the dashboard: one written before chats said whose they are, one since.
    const c = collections(mongo.db);
    const at = new Date();
    await c.chats.insertOne({
      _id: legacyChatIdFor('legacy-page', 'old-ann'),
      page_id: 'legacy-page',
      client_id: 'old-ann',
      platform: 'CustomApp',
      first_seen_at: at,
    });
    const since = { channelId: moved.id, pageId: 'legacy-moved', clientId: 'ann', platform: 'CustomApp', seenAt: at };
    await stores.chats.recordTurn(chatIdFor(moved, 'ann'), null, since, [], 20);
    const listed = await stores.dashboard.chatsOfChannel(moved, { limit: 10 });
    assert.deepEqual(listed.map((chat) => chat.client_id).sort(), ['ann', 'old-ann']);
    assert.deepEqual(await stores.dashboard.chatsOfChannel(fresh, { limit: 10 }), []);
  });

  test('the page_id + client_id unique index of before is dropped: two channels of one page may each have the chat of one client', async () => {
    const c = collections(mongo.db);
    await c.chats.createIndex({ page_id: 1, client_id: 1 }, { unique: true, name: 'page_client_unique' });
    await stores.ensureIndexes();
    const sighting = (channelId: string) => ({
      channelId,
      pageId: 'shared-page',
      clientId: 'zoe',
      platform: 'CustomApp',
      seenAt: new Date(),
    });
    await stores.chats.recordTurn('cht_old_channel_zoe', null, sighting('chn_old'), [], 20);
    await stores.chats.recordTurn('cht_new_channel_zoe', null, sighting('chn_new'), [], 20);
    assert.equal(await c.chats.countDocuments({ page_id: 'shared-page', client_id: 'zoe' }), 2);
    // Safe at every start: nothing to drop the second time.
    await stores.ensureIndexes();
  });
});
