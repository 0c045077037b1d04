/**
 * An end user's erasure request (issue 12, item 19), on a real MongoDB-compatible server (FerretDB
 * unless MONGODB_URI is set): the store deletes a chat and every record of it and nothing of
 * anyone else's; the admin API does it on request, answered with the counts.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import { createChatErasure } from '../../src/api/chat-erasure.js';
import { erasureRouter } from '../../src/api/routes/erasure.js';
import { createChatLine, type LineWorkflows } from '../../src/chat-line/line.js';
import { createLogger } from '../../src/lib/logger.js';
import { collections, type Collections } from '../../src/stores/collections.js';
import { chatIdFor } from '../../src/stores/chats.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import type { HistoryErasure } from '../../src/temporal/history-erasure.js';
import { ADMIN_TOKEN, call } from '../helpers/admin-app.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { run } from '../helpers/run-cli.js';
import { countRecords, PER_CHAT_COLLECTIONS, PER_MESSAGE_COLLECTIONS, seedChat } from '../helpers/seed-records.js';

/** No workflow runs in these tests: every place seeded is held by a workflow Temporal does not know. */
const noWorkflows: LineWorkflows = {
  wake: () => Promise.resolve(),
  status: () => Promise.resolve({ state: 'missing' }),
};

/** The workflows each erasure asked Temporal to delete, in order. */
const historiesErased: string[][] = [];
const recordingHistories: HistoryErasure = {
  erase: (workflowIds) => {
    historiesErased.push([...workflowIds]);
    return Promise.resolve();
  },
  stillRunning: () => Promise.resolve([]),
};

const everyCollection = [...PER_MESSAGE_COLLECTIONS, ...PER_CHAT_COLLECTIONS];
const zeroes = Object.fromEntries(everyCollection.map((name) => [name, 0]));
/** The counts of the collections erasure empties (the chat's line stays, blanked). */
const erasable = (counts: Record<string, number>) =>
  Object.fromEntries(everyCollection.map((name) => [name, counts[name] ?? 0]));

describe('erasure of one end user', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let c: Collections;
  let server: Server;
  let base: string;
  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
    c = collections(mongo.db);
    const app = createApp({
      logger: createLogger({ level: 'silent', name: 'test' }),
      health: {},
      routers: [
        erasureRouter({
          adminToken: ADMIN_TOKEN,
          erasure: createChatErasure({
            stores,
            line: createChatLine({ lines: stores.lines, workflows: noWorkflows }),
            histories: recordingHistories,
            waitMs: 300,
          }),
          logger: createLogger({ level: 'silent', name: 'test' }),
        }),
      ],
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await mongo?.close();
  });

  test('the store deletes the chat and every record of each of its messages, in batches, and nothing of another chat', async () => {
    const at = new Date();
    const gone = await seedChat(c, { pageId: 'page-s', clientId: 'alice', receivedAt: at, messages: 5, tag: 'a' });
    const kept = await seedChat(c, { pageId: 'page-s', clientId: 'bob', receivedAt: at, messages: 2, tag: 'b' });
    const before = await countRecords(c, gone.chatId, gone.messageIds);
    for (const name of everyCollection) assert.ok((before[name] ?? 0) > 0, `the seed wrote ${name}`);
    const keptBefore = await countRecords(c, kept.chatId, kept.messageIds);

    const erased = await stores.erasure.eraseChat(gone.chatId, { batchSize: 2 });

    assert.deepEqual(erasable(await countRecords(c, gone.chatId, gone.messageIds)), zeroes);
    assert.deepEqual(erasable(await countRecords(c, kept.chatId, kept.messageIds)), erasable(keptBefore));
    for (const name of everyCollection) assert.equal(erased[name], before[name], `count of ${name}`);
    assert.equal(erased.messages, 5);
  });

  /** The id of a new channel on `pageId`. */
  const channelOn = async (pageId: string): Promise<string> =>
    (await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r', channel: { page_id: pageId } })).channel
      .id;

  test('POST /v1/erasures erases the end user named by page and client id, answers the counts, and is safe to repeat', async () => {
    const channelId = await channelOn('page-api');
    // The same client on a channel that had the page before (deleted, its chats not swept yet): not this one's.
    const other = await seedChat(c, {
      channelId: 'chn_before',
      pageId: 'page-api',
      clientId: 'carol',
      receivedAt: new Date(),
      messages: 1,
      tag: 'o',
    });
    const otherBefore = await countRecords(c, other.chatId, other.messageIds);
    const { chatId, messageIds } = await seedChat(c, {
      channelId,
      pageId: 'page-api',
      clientId: 'carol',
      receivedAt: new Date(),
      messages: 2,
      tag: 'c',
    });
    historiesErased.length = 0;
    const first = await call(base, 'POST', '/v1/erasures', { body: { page_id: 'page-api', client_id: 'carol' } });
    assert.equal(first.status, 200, first.text);
    // Temporal's copies too (issue 24, item 7): each message's workflow, its redelivery's and the
    // events that would name the user; the seeded places name a workflow no one knows (`w`).
    assert.deepEqual(historiesErased, [
      messageIds
        .flatMap((id) => [
          `chatrelay-event-chat.handoff_requested:${id}`,
          `chatrelay-event-message.failed:${id}`,
          `chatrelay-message-${id}`,
        ])
        .concat(['w'])
        .sort(),
    ]);
    assert.equal(first.body.chat_id, chatId);
    assert.equal(chatId, chatIdFor(channelId, 'carol'));
    const erased = first.body.erased as Record<string, number>;
    assert.equal(erased.messages, 2);
    assert.equal(erased.chats, 1);
    assert.equal(erased.delivery_attempts, 2);
    assert.deepEqual(erasable(await countRecords(c, chatId, messageIds)), zeroes);

    const again = await call(base, 'POST', '/v1/erasures', { body: { page_id: 'page-api', client_id: 'carol' } });
    assert.equal(again.status, 200);
    assert.equal(again.body.chat_id, chatId);
    assert.ok(Object.values(again.body.erased as Record<string, number>).every((count) => count === 0));
    assert.deepEqual(await countRecords(c, other.chatId, other.messageIds), otherBefore);
  });

  test('POST /v1/erasures on a page id no channel has: every chat stored under that page and client id, the latest named; none: null', async () => {
    const at = Date.now();
    // Of a channel deleted (not swept yet), and of one that moved to another page since.
    const older = await seedChat(c, {
      channelId: 'chn_deleted',
      pageId: 'page-left',
      clientId: 'ivy',
      receivedAt: new Date(at - 60_000),
      messages: 2,
      tag: 'l',
    });
    const latest = await seedChat(c, {
      channelId: 'chn_moved',
      pageId: 'page-left',
      clientId: 'ivy',
      receivedAt: new Date(at),
      messages: 1,
      tag: 'm',
    });
    const someoneElse = await seedChat(c, {
      channelId: 'chn_moved',
      pageId: 'page-left',
      clientId: 'jon',
      receivedAt: new Date(at),
      messages: 1,
      tag: 'n',
    });
    const keptBefore = await countRecords(c, someoneElse.chatId, someoneElse.messageIds);

    const erased = await call(base, 'POST', '/v1/erasures', { body: { page_id: 'page-left', client_id: 'ivy' } });
    assert.equal(erased.status, 200, erased.text);
    assert.equal(erased.body.chat_id, latest.chatId);
    const counts = erased.body.erased as Record<string, number>;
    assert.equal(counts.messages, 3);
    assert.equal(counts.chats, 2);
    assert.deepEqual(erasable(await countRecords(c, older.chatId, older.messageIds)), zeroes);
    assert.deepEqual(erasable(await countRecords(c, latest.chatId, latest.messageIds)), zeroes);
    assert.deepEqual(await countRecords(c, someoneElse.chatId, someoneElse.messageIds), keptBefore);

    const again = await call(base, 'POST', '/v1/erasures', { body: { page_id: 'page-left', client_id: 'ivy' } });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.chat_id, null);
    assert.ok(Object.values(again.body.erased as Record<string, number>).every((count) => count === 0));
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, CHATRELAY_URL: base, ADMIN_TOKEN };
    const cli = await run(['users', 'erase', '--page-id', 'page-left', '--client-id', 'ivy'], { env });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^No chat of that end user is stored under that page id: nothing to erase\.$/m);
  });

  test("after an erasure the chat's line keeps its places, naming no message, and the user's next message goes at once", async () => {
    const { chatId } = await seedChat(c, {
      pageId: 'page-line',
      clientId: 'erin',
      receivedAt: new Date(),
      messages: 3,
    });
    const erased = await call(base, 'POST', '/v1/erasures', { body: { page_id: 'page-line', client_id: 'erin' } });
    assert.equal(erased.status, 200, erased.text);
    const places = await c.lines.find({ chat_id: chatId }).sort({ seq: 1 }).toArray();
    assert.equal(places.length, 4, "the three messages' places and the erasure's own");
    assert.ok(
      places.every((place) => place.message_id === ''),
      JSON.stringify(places),
    );
    assert.ok(
      places.slice(0, 3).every((place) => place.workflow_id === ''),
      JSON.stringify(places),
    );
    // An API process that remembered the chat claims right after its last place, as a new one
    // (reading the line) does: either way the next message's turn is there at once.
    const line = createChatLine({ lines: stores.lines, workflows: noWorkflows });
    const next = await line.claim(chatId, { messageId: 'msg_after', workflowId: 'wf-after' });
    assert.equal(next, 5);
    assert.deepEqual(await line.turn(chatId, next, 'wf-after'), { granted: true });
  });

  test('the erasure waits for the workflows of ended places to close: a step run again (lost workflow task) still finds its records', async () => {
    const { messageIds } = await seedChat(c, {
      pageId: 'page-closing',
      clientId: 'gus',
      receivedAt: new Date(),
      messages: 2,
    });
    const line = createChatLine({ lines: stores.lines, workflows: noWorkflows });
    // The last message's place has ended, but its workflow runs on for two more looks: its
    // workflow task was lost, and the step runs again from its stored records.
    const closing = `chatrelay-message-${messageIds.at(-1)}`;
    let looks = 0;
    const seen: string[][] = [];
    const histories: HistoryErasure = {
      erase: () => Promise.resolve(),
      stillRunning: async (_chatId, workflowIds) => {
        looks += 1;
        // Each look finds the records still there: nothing is deleted while one runs.
        seen.push([String(await c.messages.countDocuments({ _id: { $in: messageIds } }))]);
        return looks <= 2 ? workflowIds.filter((id) => id === closing) : [];
      },
    };
    const erasure = createChatErasure({ stores, line, histories, waitMs: 5_000 });
    const done = await erasure.erase('page-closing', 'gus');
    assert.equal(done.erased.messages, 2);
    assert.equal(looks, 3, 'looked until the workflow had closed');
    assert.deepEqual(seen, [['2'], ['2'], ['2']]);

    // One that does not close within the wait: 409, nothing erased, the next place goes at once.
    const still = await seedChat(c, { pageId: 'page-closing', clientId: 'hal', receivedAt: new Date(), messages: 1 });
    const before = await countRecords(c, still.chatId, still.messageIds);
    const stuck = createChatErasure({
      stores,
      line,
      histories: { erase: () => Promise.resolve(), stillRunning: (_chatId, ids) => Promise.resolve([...ids]) },
      waitMs: 300,
    });
    await assert.rejects(stuck.erase('page-closing', 'hal'), (error: Error & { status?: number }) => {
      assert.equal(error.status, 409);
      return true;
    });
    assert.deepEqual(erasable(await countRecords(c, still.chatId, still.messageIds)), erasable(before));
    const next = await line.claim(still.chatId, { messageId: 'msg_next', workflowId: 'wf-next' });
    assert.deepEqual(await line.turn(still.chatId, next, 'wf-next'), { granted: true });
  });

  test('Temporal refusing to start the deletion of the histories: 503, nothing erased, and the next message goes at once', async () => {
    const { chatId, messageIds } = await seedChat(c, {
      pageId: 'page-no-temporal',
      clientId: 'gail',
      receivedAt: new Date(),
      messages: 2,
    });
    const line = createChatLine({ lines: stores.lines, workflows: noWorkflows });
    const before = await countRecords(c, chatId, messageIds);
    const refused = createChatErasure({
      stores,
      line,
      histories: {
        erase: () => Promise.reject(new Error('14 UNAVAILABLE: no connection')),
        stillRunning: () => Promise.resolve([]),
      },
      waitMs: 200,
    });
    await assert.rejects(refused.erase('page-no-temporal', 'gail'), (error: Error & { status?: number }) => {
      assert.equal(error.status, 503);
      assert.match(error.message, /nothing was erased/);
      return true;
    });
    assert.deepEqual(erasable(await countRecords(c, chatId, messageIds)), erasable(before));
    const next = await line.claim(chatId, { messageId: 'msg_next', workflowId: 'wf-next' });
    assert.deepEqual(await line.turn(chatId, next, 'wf-next'), { granted: true });
  });

  test('an erasure of several chats that Temporal stops at the second: 503 saying the first is erased, and asking again erases the rest', async () => {
    const at = Date.now();
    const seed = (channelId: string, ageMs: number, tag: string) =>
      seedChat(c, {
        channelId,
        pageId: 'page-half',
        clientId: 'hal',
        receivedAt: new Date(at - ageMs),
        messages: 1,
        tag,
      });
    const latest = await seed('chn_half_a', 0, 'ha');
    const older = await seed('chn_half_b', 60_000, 'hb');
    const olderBefore = await countRecords(c, older.chatId, older.messageIds);
    let calls = 0;
    const line = createChatLine({ lines: stores.lines, workflows: noWorkflows });
    const flaky = createChatErasure({
      stores,
      line,
      histories: {
        erase: () => (++calls === 2 ? Promise.reject(new Error('14 UNAVAILABLE: no connection')) : Promise.resolve()),
        stillRunning: () => Promise.resolve([]),
      },
      waitMs: 200,
    });
    await assert.rejects(flaky.erase('page-half', 'hal'), (error: Error & { status?: number }) => {
      assert.equal(error.status, 503);
      assert.match(error.message, new RegExp(`chat ${older.chatId}; their chats before it were erased`));
      return true;
    });
    assert.deepEqual(erasable(await countRecords(c, latest.chatId, latest.messageIds)), zeroes);
    // Its records are all there (its line has one place more: the erasure's, ended).
    assert.deepEqual(erasable(await countRecords(c, older.chatId, older.messageIds)), erasable(olderBefore));
    const again = await flaky.erase('page-half', 'hal');
    assert.equal(again.chatId, older.chatId);
    assert.deepEqual(erasable(await countRecords(c, older.chatId, older.messageIds)), zeroes);
  });

  test('an erasure waits for a message still being answered: 409 when it does not end in time, and nothing is erased or held', async () => {
    const { chatId, messageIds } = await seedChat(c, {
      pageId: 'page-busy',
      clientId: 'fred',
      receivedAt: new Date(),
      messages: 2,
      finished: false,
    });
    // Place 2 is held by a message at work (its workflow runs, as far as the line can tell).
    const running: LineWorkflows = { ...noWorkflows, status: () => Promise.resolve({ state: 'running' }) };
    const line = createChatLine({ lines: stores.lines, workflows: running });
    await line.end(chatId, 1, { turnHeld: true });
    const before = await countRecords(c, chatId, messageIds);
    const busy = createChatErasure({ stores, line, histories: recordingHistories, waitMs: 200 });
    await assert.rejects(busy.erase('page-busy', 'fred'), (error: Error & { status?: number }) => {
      assert.equal(error.status, 409);
      assert.match(error.message, /still being answered/);
      return true;
    });
    assert.deepEqual(erasable(await countRecords(c, chatId, messageIds)), erasable(before));
    // Its place was given up: once the message ends, the next place goes at once.
    assert.equal(await stores.lines.end(chatId, 3), 'void');
    await line.end(chatId, 2, { turnHeld: true });
    const after = await line.claim(chatId, { messageId: 'msg_next', workflowId: 'wf-next' });
    assert.deepEqual(await line.turn(chatId, after, 'wf-next'), { granted: true });
  });

  test('the erasure API needs the admin token and both ids', async () => {
    const anonymous = await call(base, 'POST', '/v1/erasures', {
      token: null,
      body: { page_id: 'page-api', client_id: 'carol' },
    });
    assert.equal(anonymous.status, 401);
    const missing = await call(base, 'POST', '/v1/erasures', { body: { page_id: 'page-api' } });
    assert.equal(missing.status, 400);
    assert.match(missing.text, /client_id/);
    const blank = await call(base, 'POST', '/v1/erasures', { body: { page_id: ' ', client_id: 'x' } });
    assert.equal(blank.status, 400);
    assert.match(blank.text, /page_id/);
  });

  test('chatrelay users erase: erases through the API, says what, and names a missing flag', async () => {
    const { chatId, messageIds } = await seedChat(c, {
      channelId: await channelOn('page-cli'),
      pageId: 'page-cli',
      clientId: 'dana',
      receivedAt: new Date(),
      messages: 3,
      tag: 'e',
    });
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, CHATRELAY_URL: base, ADMIN_TOKEN };
    const erased = await run(['users', 'erase', '--page-id', 'page-cli', '--client-id', 'dana'], { env });
    assert.equal(erased.code, 0, erased.stderr);
    assert.match(erased.stdout, new RegExp(`^Erased chat ${chatId}: \\d+ documents\\.`));
    assert.match(erased.stdout, /^ {2}messages: 3$/m);
    assert.deepEqual(erasable(await countRecords(c, chatId, messageIds)), zeroes);

    const again = await run(['users', 'erase', '--page-id', 'page-cli', '--client-id', 'dana', '--json'], { env });
    assert.equal(again.code, 0, again.stderr);
    const body = JSON.parse(again.stdout) as { chat_id: string; erased: Record<string, number> };
    assert.equal(body.chat_id, chatId);
    assert.ok(Object.values(body.erased).every((count) => count === 0));

    const missing = await run(['users', 'erase', '--page-id', 'page-cli'], { env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--client-id/);
  });

  test("chatrelay users erase: a message still being answered is the API's 409, printed with what to do, and nothing is erased", async () => {
    // Its last message is still at work: its place holds the line, its outcome not stored.
    const busyChat = { pageId: 'page-cli-busy', clientId: 'gina', messages: 2, finished: false };
    const { chatId, messageIds } = await seedChat(c, { ...busyChat, receivedAt: new Date() });
    const before = await countRecords(c, chatId, messageIds);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, CHATRELAY_URL: base, ADMIN_TOKEN };
    const busy = await run(['users', 'erase', '--page-id', 'page-cli-busy', '--client-id', 'gina'], { env });
    assert.equal(busy.code, 1, busy.stdout);
    assert.match(
      busy.stderr,
      /still being answered.*nothing was erased\. Try again once it has ended\. \(HTTP 409 conflict/,
    );
    assert.equal(busy.stdout, '');
    assert.deepEqual(erasable(await countRecords(c, chatId, messageIds)), erasable(before));
  });
});
