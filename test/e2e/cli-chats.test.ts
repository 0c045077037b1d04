import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { channelResponseSchema } from '../../src/api/contracts/admin.js';
import { chatHistoryResponseSchema, chatListResponseSchema } from '../../src/api/contracts/dashboard.js';
import { chatIdFor } from '../../src/stores/chats.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { ADMIN_TOKEN } from '../helpers/admin-app.js';
import { startDashboardApiApp, storeAnsweredMessage } from '../helpers/dashboard-data.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { run } from '../helpers/run-cli.js';

/** `chatrelay chats list/show` and `channels pause`: the real CLI (bin/chatrelay.js) against a real listening API. */
describe('chatrelay chats list / show, channels pause', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let app: Awaited<ReturnType<typeof startDashboardApiApp>>;

  const cli = (...args: string[]) =>
    run(args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, CHATRELAY_URL: app.base, ADMIN_TOKEN } });

  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    app = await startDashboardApiApp(stores);
  });
  after(async () => {
    await app?.close();
    await mongo?.close();
  });

  test("chats list shows a channel's chats; --json prints the API's answer", async () => {
    const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    await storeAnsweredMessage(stores, channel, 'ada', {
      text: 'Where is my order?',
      reply: ['On its way.'],
      status: 'delivered',
    });
    const human = await cli('chats', 'list', channel.id);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^ID\s+CLIENT\s+NAME\s+PLATFORM\s+LAST SEEN\s+LAST MESSAGE/);
    assert.match(human.stdout, /ada\s+Name of ada\s+CustomApp\s+\S+\s+assistant: On its way\./);
    const json = await cli('chats', 'list', channel.id, '--limit', '5', '--json');
    assert.equal(json.code, 0, json.stderr);
    const parsed = chatListResponseSchema.parse(JSON.parse(json.stdout));
    assert.deepEqual(
      parsed.data.map((chat) => chat.id),
      [chatIdFor(channel.id, 'ada')],
    );
  });

  test("chats show prints the chat's history, user then assistant parts", async () => {
    const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const id = await storeAnsweredMessage(stores, channel, 'bob', {
      text: 'Hello',
      reply: ['Hi Bob.', 'How can I help?'],
      status: 'delivered',
    });
    const chatId = chatIdFor(channel.id, 'bob');
    const human = await cli('chats', 'show', chatId, '--channel', channel.id);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^Chat ${chatId}: Name of bob \\(bob\\) on CustomApp`));
    assert.match(
      human.stdout,
      new RegExp(`user \\(${id}, delivered\\):\\n  Hello\\n  attachment: https://example.com/a.png`),
    );
    assert.match(human.stdout, /assistant, part 1:\n {4}Hi Bob\.\n {2}assistant, part 2:\n {4}How can I help\?/);
    const json = await cli('chats', 'show', chatId, '--channel', channel.id, '--json');
    assert.equal(chatHistoryResponseSchema.parse(JSON.parse(json.stdout)).turns[0]?.message_id, id);
  });

  test('chats show without --channel is a usage error (exit 2); an unknown chat exits 1 with the API message', async () => {
    const missing = await cli('chats', 'show', 'cht_x');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--channel is required/);
    const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const unknown = await cli('chats', 'show', 'cht_nope', '--channel', channel.id);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Chat not found/);
  });

  test('channels pause pauses delivery and says how to resume', async () => {
    const { channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const human = await cli('channels', 'pause', channel.id);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /Paused delivery of channel .*resume/);
    assert.equal((await stores.channels.get(channel.id))?.delivery_paused, true);
    const json = await cli('channels', 'pause', channel.id, '--json');
    assert.equal(channelResponseSchema.parse(JSON.parse(json.stdout)).delivery_paused, true);
    assert.equal((await cli('channels', 'pause', 'chn_nope')).code, 1);
  });

  test('help lists the new commands', async () => {
    const help = await cli('--help');
    for (const command of ['chats list', 'chats show', 'channels pause'])
      assert.ok(help.stdout.includes(command), command);
  });
});
