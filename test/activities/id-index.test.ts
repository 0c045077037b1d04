import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db, Document } from 'mongodb';
import { collections } from '../../src/stores/collections.js';
import { createStores } from '../../src/stores/index.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

/**
 * A lookup by `_id` must use the `_id` index on the server we provision, or everything on a
 * message's path slows down with the number of chats (issue 21: 175 ms for the newest of 20 000
 * documents). FerretDB v1's SQLite backend answers `explain` with SQLite's own EXPLAIN QUERY PLAN
 * of the statement it runs, built from the same `_id` expression as its reads, updates and
 * deletes: `SEARCH ... USING INDEX` when the index serves it, `SCAN` when every row is read.
 * Unpatched FerretDB (tools/ferretdb/sqlite-id-index.patch not applied) fails this test.
 */
async function planOf(db: Db, collection: string, filter: Document): Promise<string> {
  const explained = await db.command({ explain: { find: collection, filter }, verbosity: 'queryPlanner' });
  return JSON.stringify(explained.queryPlanner);
}

/** What a plan that uses the `_id` index says: SQLite's, or MongoDB's own stages. */
function usesIdIndex(plan: string, ferretdb: boolean): boolean {
  if (ferretdb) return /USING (COVERING )?INDEX \S+__id_/.test(plan) && !/\bSCAN\b/.test(plan);
  return /IDHACK|EXPRESS_IXSCAN|IXSCAN/.test(plan) && !/COLLSCAN/.test(plan);
}

describe('lookups by _id use the index on the provisioned server', () => {
  let mongo: TestMongo;
  let ferretdb: boolean;
  before(async () => {
    mongo = await startTestMongo();
    ferretdb = 'ferretdbVersion' in (await mongo.db.command({ buildInfo: 1 }));
    await createStores(mongo.db).ensureIndexes();
  });
  after(async () => {
    await mongo?.close();
  });

  test('every collection of the message path, with 10 and with 10 000 documents', async () => {
    const c = collections(mongo.db);
    const path = [c.chats, c.lines, c.lineEnds, c.lineFloors, c.messages, c.replies, c.attempts];
    for (const collection of path) {
      const name = collection.collectionName;
      const raw = mongo.db.collection<{ _id: string; n: number }>(name);
      await raw.insertMany(Array.from({ length: 10 }, (_, n) => ({ _id: `${name}-${n}`, n })));
      const plan = await planOf(mongo.db, name, { _id: `${name}-9` });
      assert.ok(usesIdIndex(plan, ferretdb), `${name}: the plan of a lookup by _id reads every row: ${plan}`);
    }
    // The same plan once the collection is large: a plan that depends on the size is no guarantee.
    const chats = mongo.db.collection<{ _id: string; n: number }>(c.chats.collectionName);
    for (let from = 10; from < 10_000; from += 1_000)
      await chats.insertMany(
        Array.from({ length: Math.min(1_000, 10_000 - from) }, (_, k) => ({ _id: `many-${from + k}`, n: from + k })),
      );
    const plan = await planOf(mongo.db, c.chats.collectionName, { _id: 'many-9999' });
    assert.ok(usesIdIndex(plan, ferretdb), `chats at 10 000 documents: ${plan}`);
    assert.equal((await chats.findOne({ _id: 'many-9999' }))?.n, 9_999);
  });

  test('a filter on another field reads every row (the test can tell the two apart)', async () => {
    const plan = await planOf(mongo.db, collections(mongo.db).chats.collectionName, { n: 5 });
    assert.equal(usesIdIndex(plan, ferretdb), false, plan);
  });
});
