import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createStores, type Stores } from '../../src/stores/index.js';
import { call, startAdminApp, type AdminApp } from '../helpers/admin-app.js';
import { createChannelWithAgent, envelopeFor, messageRecordFor } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

let mongo: TestMongo;
let stores: Stores;
let app: AdminApp;
before(async () => {
  mongo = await startTestMongo();
  stores = createStores(mongo.db);
  await stores.ensureIndexes();
  app = await startAdminApp(stores);
});
after(async () => {
  await app?.close();
  await mongo?.close();
});

/** Speech stored for a reply of a new channel, as the worker stores it; returns its media id. */
async function storedSpeech(bytes: Buffer): Promise<{ channelId: string; mediaId: string }> {
  const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
  const envelope = envelopeFor(channel);
  await stores.messages.insert(messageRecordFor(envelope, channel));
  return { channelId: channel.id, mediaId: await stores.blobs.put(envelope.messageId, 'audio/mpeg', bytes) };
}

test('speech is served with its type, which browsers must not second-guess (nosniff)', async () => {
  const bytes = Buffer.from('ID3 not really mp3 <html><script>alert(1)</script>');
  const { mediaId } = await storedSpeech(bytes);
  const response = await fetch(`${app.base}/media/${mediaId}`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'audio/mpeg');
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);
});

test("a deleted channel's speech is no longer served", async () => {
  const { channelId, mediaId } = await storedSpeech(Buffer.from('speech'));
  assert.equal((await fetch(`${app.base}/media/${mediaId}`)).status, 200);
  assert.equal((await call(app.base, 'DELETE', `/v1/channels/${channelId}`)).status, 204);
  const gone = await call(app.base, 'GET', `/media/${mediaId}`, { token: null });
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error?.code, 'not_found');
});
