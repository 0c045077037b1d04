import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createChannelAuthenticator, type ChannelLookup } from '../../src/api/channel-auth.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

describe('the webhook channel cache', () => {
  let mongo: TestMongo;
  let stores: Stores;
  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
  });
  after(async () => {
    await mongo?.close();
  });

  /** The real channel store, counting the page ids it is asked for. */
  const counted = (): ChannelLookup & { reads: string[] } => {
    const reads: string[] = [];
    return {
      reads,
      getByPageId: (pageId) => (reads.push(pageId), stores.channels.getByPageId(pageId)),
      tokenMatches: (presented, storedHash) => stores.channels.tokenMatches(presented, storedHash),
    };
  };

  test('a flood of unknown page ids never evicts a channel, and each unknown id is read once per TTL', async () => {
    const { channel, token } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const lookup = counted();
    const clock = 1_000_000;
    const auth = createChannelAuthenticator(lookup, { ttlMs: 60_000, now: () => clock });
    assert.ok(await auth.authenticate(channel.page_id, token));
    // More unknown page ids than the cache holds (the old cache was cleared whole at 10 000 entries).
    const flood = Array.from({ length: 10_050 }, (_, i) => `flood-${i}`);
    for (let i = 0; i < flood.length; i += 200) {
      const batch = flood.slice(i, i + 200);
      assert.deepEqual(
        await Promise.all(batch.map((pageId) => auth.authenticate(pageId, token))),
        batch.map(() => undefined),
      );
    }
    assert.ok(await auth.authenticate(channel.page_id, token));
    assert.equal(
      lookup.reads.filter((pageId) => pageId === channel.page_id).length,
      1,
      'the channel was read once, before the flood',
    );
    // The most recent unknown ids are remembered: asking again reads nothing.
    const readsBefore = lookup.reads.length;
    assert.equal(await auth.authenticate(flood.at(-1) ?? '', token), undefined);
    assert.equal(lookup.reads.length, readsBefore);
  });

  test('concurrent requests for one page share one read', async () => {
    const { channel, token } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const lookup = counted();
    const auth = createChannelAuthenticator(lookup, { ttlMs: 60_000 });
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(channel.page_id, token)));
    assert.ok(results.every((result) => result?.id === channel.id));
    await Promise.all(Array.from({ length: 20 }, () => auth.authenticate('no-such-page', token)));
    assert.deepEqual(lookup.reads, [channel.page_id, 'no-such-page']);
  });

  test('a page created while its "unknown" read was in flight is not cached as unknown', async () => {
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The real read, whose answer is held until the test lets it through.
    const held: ChannelLookup = {
      getByPageId: async (pageId) => stores.channels.getByPageId(pageId).then(async (found) => (await released, found)),
      tokenMatches: (presented, storedHash) => stores.channels.tokenMatches(presented, storedHash),
    };
    const auth = createChannelAuthenticator(held, { ttlMs: 60_000 });
    const pageId = `late-${Date.now()}`;
    const early = auth.authenticate(pageId, 'whatever-token-0123');
    await new Promise((resolve) => setImmediate(resolve));
    // The admin API creates the channel and drops the page from the cache while the read is out.
    const { channel, token } = await createChannelWithAgent(stores, {
      replyUrl: 'http://127.0.0.1:9/r',
      channel: { page_id: pageId },
    });
    auth.invalidate(pageId);
    release();
    assert.equal(await early, undefined);
    assert.equal((await auth.authenticate(pageId, token))?.id, channel.id, 'the token works at once');
  });
});
