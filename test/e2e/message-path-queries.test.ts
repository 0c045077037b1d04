import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fakeVoiceNote } from '../helpers/fake-model.js';
import { waitFor } from '../../src/lib/wait.js';
import { openDatabase, type Database } from '../../src/stores/db.js';
import { createStores } from '../../src/stores/index.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startMongoWireProxy, type MongoWireProxy, type RecordedCommand } from '../helpers/mongo-wire-proxy.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';

/**
 * On FerretDB's SQLite backend (the embedded default) only a lookup by `_id` alone uses an index:
 * any other filter reads the whole collection, so a query of that kind on a message's path makes
 * every message slower as chats pile up (issue 21). This test runs messages through the real API
 * and worker with a recorder between them and the database, and checks every command they send
 * while the messages go through: inserts, and reads, updates and deletes by `_id` alone.
 */
describe("a message's path reads and writes the database only by _id", () => {
  let upstream: TestMongo;
  let recorder: MongoWireProxy;
  let s: Stack;
  let direct: Database;
  before(async () => {
    upstream = await startTestMongo();
    recorder = await startMongoWireProxy(upstream.uri);
    // The stack's API, worker and stores all reach the database through the recorder.
    process.env.MONGODB_URI = recorder.uri;
    s = await startStack();
    // The test's own reads go around it.
    direct = openDatabase(upstream.uri, s.mongo.dbName);
  });
  after(async () => {
    await direct?.close();
    await s?.close();
    await recorder?.close();
    await upstream?.close();
  });

  const byIdAlone = (filter: Record<string, unknown>): boolean =>
    Object.keys(filter).length === 1 && typeof filter._id === 'string';

  test('text, a queue of three, a long reply, a voice note with a spoken reply, a retried POST: _id only', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, {
      replyUrl: reply.url,
      channel: { max_message_length: 60, voice_replies: 'when_user_sent_voice' },
    });
    const audioUrl = s.receiver.serve('/notes/voice.ogg', 'audio/ogg', fakeVoiceNote('Do you ship to Canada?'));
    recorder.record();
    const send = (client: string, fields: Record<string, string>) =>
      postMessage(s.baseUrl, token, { client_id: client, page_id: channel.page_id, platform: 'CustomApp', ...fields });
    const sent = [
      await send('ada', { text: 'Hello there' }),
      await send('ada', { text: `A longer message that the channel splits into parts: ${'many words '.repeat(12)}` }),
      await send('ada', { text: 'And a third one, queued behind the other two', message_id: 'ada-3' }),
      await send('grace', { audio: audioUrl }),
    ];
    const retried = await send('ada', { text: 'And a third one, queued behind the other two', message_id: 'ada-3' });
    assert.equal(retried.body.duplicate, true);
    for (const response of sent) assert.equal(response.status, 200);
    const stores = createStores(direct.db);
    await waitFor(
      async () => {
        const outcomes = await Promise.all(sent.map((r) => stores.messages.outcome(String(r.body.message_id))));
        return outcomes.every((outcome) => outcome?.status === 'delivered') ? true : undefined;
      },
      { timeoutMs: 60_000, what: 'every message delivered' },
    );
    // The chat's line is handed on after the outcome: wait for the third place to end too.
    const chatId = (await stores.messages.get(String(sent[2]?.body.message_id)))?.chat_id ?? '';
    await waitFor(async () => ((await stores.lines.end(chatId, 3)) === 'finished' ? true : undefined), {
      what: "the chat's third place finished",
    });
    // The receiver fetches the spoken reply from the API.
    const spoken = s.receiver.delivered(reply.path).find((post) => post.fields.audio);
    assert.ok(spoken, 'a part with audio');
    assert.equal((await fetch(spoken.fields.audio ?? '')).status, 200);

    const commands: RecordedCommand[] = recorder.commands();
    const data = commands.filter((command) => command.collection !== undefined);
    const names = new Set(data.map((command) => command.name));
    assert.ok(names.has('insert') && names.has('find') && names.has('update'), [...names].join(', '));
    const scans = data.filter((command) => command.filters.some((filter) => !byIdAlone(filter)));
    assert.deepEqual(
      scans.map((command) => `${command.name} ${command.collection} ${JSON.stringify(command.filters)}`),
      [],
      'commands on the message path that select by something other than _id alone',
    );
    const allowed = new Set(['insert', 'find', 'update', 'delete']);
    assert.deepEqual(
      data.filter((command) => !allowed.has(command.name)).map((command) => command.name),
      [],
      'commands on the message path other than inserts, and finds, updates and deletes by _id',
    );
  });
});
