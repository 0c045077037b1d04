import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { INTERIM_PART } from '../../src/domain/ids.js';
import { collections, type AttemptRecord } from '../../src/stores/collections.js';
import { openDatabase, type Database } from '../../src/stores/db.js';
import { createStores } from '../../src/stores/index.js';
import { startMongoWireProxy, type MongoWireProxy } from '../helpers/mongo-wire-proxy.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

/**
 * The status API (which the dashboard polls) reads a message's delivery attempts: through a proxy
 * that decodes MongoDB's wire protocol, the commands that read takes are counted.
 */
describe("a message's status reads its delivery attempts in one query", () => {
  let upstream: TestMongo;
  let recorder: MongoWireProxy;
  let db: Database;
  before(async () => {
    upstream = await startTestMongo();
    recorder = await startMongoWireProxy(upstream.uri);
    db = openDatabase(recorder.uri, upstream.dbName);
  });
  after(async () => {
    await db?.close();
    await recorder?.close();
    await upstream?.close();
  });

  test('three parts, three attempts each, two redeliveries and a "one moment" part: one find', async () => {
    const stores = createStores(db.db, { messageCacheEntries: 0 });
    const c = collections(db.db);
    const id = 'msg_status_queries';
    const at = new Date('2026-12-01T10:00:00Z');
    await c.messages.insertOne({
      _id: id,
      workflow_id: `chatrelay-message-${id}`,
      channel_id: 'chn_1',
      page_id: 'page-1',
      client_id: 'client-1',
      chat_id: 'chat_1',
      platform: 'CustomApp',
      status: 'accepted',
      stage: 'accepted',
      inbound: { client_id: 'client-1', platform: 'CustomApp', text: 'hello' },
      received_at: at,
      created_at: at,
      updated_at: at,
      line_seq: 1,
    });
    const parts = [0, 1, 2].map((index) => ({ index, text: `part ${index}`, images: [], delivery_id: `d${index}` }));
    await stores.messages.saveReply(id, parts, undefined, at);
    let tick = 0;
    const attempt = (part_index: number, n: number, redelivery?: number): AttemptRecord => ({
      part_index,
      attempt: n,
      ...(redelivery !== undefined ? { redelivery } : {}),
      at: new Date(at.getTime() + ++tick * 1_000),
      duration_ms: 5,
      result: n === 3 ? 'delivered' : 'retry',
    });
    await stores.messages.recordAttempt(id, { ...attempt(INTERIM_PART, 1), result: 'delivered' });
    for (const redelivery of [undefined, 1, 2]) {
      if (redelivery !== undefined)
        await stores.messages.claimRedelivery(id, redelivery, { workflow_id: `w${redelivery}`, from_part: 0 });
      for (const part of [0, 1, 2])
        for (const n of [1, 2, 3]) await stores.messages.recordAttempt(id, attempt(part, n, redelivery));
    }

    recorder.record();
    const message = await stores.messages.get(id);
    assert.ok(message);
    const attempts = await stores.messages.attempts(message);
    const withDelivery = await stores.messages.parts(message, attempts);
    const reads = recorder.commands().filter((command) => command.collection === 'delivery_attempts');

    assert.deepEqual(
      reads.map((command) => command.name),
      ['find'],
      `the attempts in one query, not one per attempt (${reads.length} commands)`,
    );
    assert.equal(attempts.length, 1 + 3 * 3 * 3, 'every attempt: the "one moment" part and each redelivery too');
    assert.deepEqual(
      attempts.map((record) => record.at.getTime()),
      attempts.map((record) => record.at.getTime()).sort((a, b) => a - b),
      'oldest first',
    );
    assert.ok(withDelivery.every((part) => part.delivered_at !== undefined));
  });
});
