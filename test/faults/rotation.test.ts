/**
 * A signing-secret rotation that fails midway (issue 12, item 4): the connection to MongoDB is cut
 * right at its write, by a real TCP proxy that reads MongoDB's wire protocol and drops the
 * connection when it sees that command. The channel keeps a secret that signs (never none), and
 * the rotation run again completes. A rotation is one write of the channel's secrets document,
 * so there is no state between an old and a new secret to be left in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { signatureHeaders } from '../../src/activities/reply-post.js';
import { openDatabase, type Database } from '../../src/stores/db.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startMongoWireProxy, type MongoWireProxy } from '../helpers/mongo-wire-proxy.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

describe('signing-secret rotation when MongoDB goes away midway', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let proxy: MongoWireProxy;
  let proxied: Database;
  let viaProxy: Stores;
  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
    proxy = await startMongoWireProxy(mongo.uri);
    proxied = openDatabase(proxy.uri, mongo.dbName);
    viaProxy = createStores(proxied.db);
  });
  after(async () => {
    await proxied?.close();
    await proxy?.close();
    await mongo?.close();
  });

  /** Whether a reply signed with the channel's active secrets verifies with `secret`. */
  async function verifiesWith(channelId: string, secret: string): Promise<boolean> {
    const active = await stores.signingSecrets.active(channelId);
    const at = new Date();
    const headers = signatureHeaders(active, 'msg_x.0', at, 'text=hello');
    try {
      new Webhook(secret).verify('text=hello', headers, { jsonParse: false });
      return true;
    } catch {
      return false;
    }
  }

  test('cut at the rotation’s write: the old secret still signs, alone; run again, the rotation is whole', async () => {
    const { channel, signingSecret: oldSecret } = await createChannelWithAgent(stores, {
      replyUrl: 'http://127.0.0.1:9/r',
    });
    proxy.cutAt('update', 'channel_signing_secrets');
    // No grace period: had the write gone through, the old secret would stop signing at once.
    await assert.rejects(viaProxy.signingSecrets.rotate(channel.id, 0));
    assert.deepEqual(await stores.signingSecrets.active(channel.id), [oldSecret]);
    assert.equal(await verifiesWith(channel.id, oldSecret), true, 'receivers holding the old secret still verify');

    proxy.heal();
    const newest = await viaProxy.signingSecrets.rotate(channel.id, 0);
    assert.deepEqual(await stores.signingSecrets.active(channel.id), [newest]);
    assert.equal(await verifiesWith(channel.id, newest), true);
    assert.equal(await verifiesWith(channel.id, oldSecret), false);
  });

  test('with a grace period, old and new both sign until it ends; a later rotation drops the expired', async () => {
    const { channel, signingSecret: first } = await createChannelWithAgent(stores, {
      replyUrl: 'http://127.0.0.1:9/r',
    });
    const now = Date.now();
    const second = await stores.signingSecrets.rotate(channel.id, 60, new Date(now));
    assert.deepEqual(await stores.signingSecrets.active(channel.id, new Date(now + 1_000)), [second, first]);
    assert.deepEqual(await stores.signingSecrets.active(channel.id, new Date(now + 61_000)), [second]);
    const third = await stores.signingSecrets.rotate(channel.id, 60, new Date(now + 61_000));
    assert.deepEqual(await stores.signingSecrets.active(channel.id, new Date(now + 62_000)), [third, second]);
    const stored = await mongo.db.collection<{ _id: string; secrets: unknown[] }>('channel_signing_secrets').findOne({
      _id: channel.id,
    });
    assert.equal(stored?.secrets.length, 2, 'the secret expired before the rotation is gone');
  });
});
