import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { agentDefaults, channelDefaults } from '../../src/domain/models.js';
import { generateApiToken } from '../../src/lib/secrets.js';
import { chatIdFor } from '../../src/stores/chats.js';
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

  test('a channel stored by 1.0.0 (with chats_page_id: null) is read as any other: its chats are its own, found by its id, kept when it moves', async () => {
    const raw = mongo.db.collection<{ _id: string; chats_page_id?: string | null }>('channels');
    const stored = await create('one-oh-page');
    // What 1.0.0 wrote in every channel; nothing reads it any more.
    await raw.updateOne({ _id: stored.id }, { $set: { chats_page_id: null } });
    await stores.ensureIndexes();
    const sighting = { channelId: stored.id, pageId: 'one-oh-page', clientId: 'ann', platform: 'CustomApp' };
    await stores.chats.recordTurn(chatIdFor(stored.id, 'ann'), null, { ...sighting, seenAt: new Date() }, [], 20);
    const moved = await stores.channels.update(stored.id, { page_id: 'one-oh-moved' });
    assert.equal(moved?.page_id, 'one-oh-moved');
    assert.equal((await stores.channels.getByPageId('one-oh-moved'))?.id, stored.id);
    const listed = await stores.dashboard.chatsOfChannel(stored.id, { limit: 10 });
    assert.deepEqual(
      listed.map((chat) => chat._id),
      [chatIdFor(stored.id, 'ann')],
    );
    // A new channel on the page it left starts with no chats.
    const fresh = await create('one-oh-page');
    assert.deepEqual(await stores.dashboard.chatsOfChannel(fresh.id, { limit: 10 }), []);
    // A channel created now still carries the field as 1.0.0 wrote it, so a 1.0.0 process running
    // beside this one (or after a rollback) takes it for one of its own and gives its chats these ids.
    assert.equal((await raw.findOne({ _id: fresh.id }))?.chats_page_id, null);
    assert.equal((await raw.findOne({ _id: stored.id }))?.chats_page_id, null);
  });

  test('two channels of one page may each have the chat of one client (no unique page_id + client_id)', async () => {
    const c = collections(mongo.db);
    const sighting = (channelId: string) => ({
      channelId,
      pageId: 'shared-page',
      clientId: 'zoe',
      platform: 'CustomApp',
      seenAt: new Date(),
    });
    await stores.chats.recordTurn(chatIdFor('chn_old', 'zoe'), null, sighting('chn_old'), [], 20);
    await stores.chats.recordTurn(chatIdFor('chn_new', 'zoe'), null, sighting('chn_new'), [], 20);
    assert.equal(await c.chats.countDocuments({ page_id: 'shared-page', client_id: 'zoe' }), 2);
  });
});
