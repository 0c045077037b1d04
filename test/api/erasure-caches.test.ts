/**
 * Issue 24, item 7: after an erasure no process serves the erased user from memory. Two API
 * processes on one database (FerretDB unless MONGODB_URI is set), each with its stores made as
 * startApi makes them: both read a message's status, one erases its user, and neither answers
 * with it again. A process that does cache records (the worker) forgets what its own erasure or
 * retention deletes.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../src/api/app.js';
import { createChatErasure } from '../../src/api/chat-erasure.js';
import { createMessageAdmin } from '../../src/api/message-admin.js';
import { erasureRouter } from '../../src/api/routes/erasure.js';
import { messagesRouter } from '../../src/api/routes/messages.js';
import { API_STORE_OPTIONS } from '../../src/api/server.js';
import { createChatLine, type LineWorkflows } from '../../src/chat-line/line.js';
import { createLogger } from '../../src/lib/logger.js';
import { collections } from '../../src/stores/collections.js';
import { createStores } from '../../src/stores/index.js';
import { createMessageStore, MESSAGE_CACHE_TTL_MS } from '../../src/stores/messages.js';
import { ADMIN_TOKEN, call } from '../helpers/admin-app.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { seedChat } from '../helpers/seed-records.js';

const noWorkflows: LineWorkflows = {
  wake: () => Promise.resolve(),
  status: () => Promise.resolve({ state: 'missing' }),
};
const quiet = createLogger({ level: 'silent', name: 'test' });

describe('erasure and the processes’ memory (issue 24, item 7)', () => {
  let mongo: TestMongo;
  // Never dialled: the seeded messages have ended, so a status asks no running workflow.
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  const client = new Client({ connection });
  const servers: Server[] = [];
  before(async () => {
    mongo = await startTestMongo();
    await createStores(mongo.db).ensureIndexes();
  });
  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await connection.close().catch(() => undefined);
    await mongo?.close();
  });

  /** One API process: its own stores (as startApi makes them), message and erasure routes. */
  async function apiProcess(): Promise<string> {
    const stores = createStores(mongo.db, API_STORE_OPTIONS);
    const line = createChatLine({ lines: stores.lines, workflows: noWorkflows });
    const app = createApp({
      logger: quiet,
      health: {},
      routers: [
        messagesRouter({
          adminToken: ADMIN_TOKEN,
          messages: createMessageAdmin({ stores, client, line, taskQueue: 'unused', publicBaseUrl: 'http://x' }),
        }),
        erasureRouter({
          adminToken: ADMIN_TOKEN,
          erasure: createChatErasure({
            stores,
            line,
            waitMs: 300,
            histories: { erase: () => Promise.resolve(), stillRunning: () => Promise.resolve([]) },
          }),
          logger: quiet,
        }),
      ],
    });
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise<void>((resolve) => server.once('listening', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  test('an erased message is 404 on the API process that erased it and on another one that had read it', async () => {
    const [erasing, other] = [await apiProcess(), await apiProcess()];
    const { messageIds } = await seedChat(collections(mongo.db), {
      pageId: 'page-cache',
      clientId: 'hana',
      receivedAt: new Date(),
      messages: 2,
    });
    const id = messageIds[0] ?? '';
    for (const base of [erasing, other]) {
      const read = await call(base, 'GET', `/v1/messages/${id}`);
      assert.equal(read.status, 200, read.text);
      assert.equal(read.body.client_id, 'hana');
    }

    const erased = await call(erasing, 'POST', '/v1/erasures', { body: { page_id: 'page-cache', client_id: 'hana' } });
    assert.equal(erased.status, 200, erased.text);
    assert.equal((erased.body.erased as Record<string, number>).messages, 2);

    for (const base of [erasing, other]) {
      const read = await call(base, 'GET', `/v1/messages/${id}`);
      assert.equal(read.status, 404, `${base === erasing ? 'the erasing' : 'the other'} process: ${read.text}`);
      assert.ok(!read.text.includes('hana'), read.text);
    }
  });

  test('a process that caches messages (the worker) forgets those its erasure or retention deletes', async () => {
    const c = collections(mongo.db);
    const stores = createStores(mongo.db);
    const { chatId, messageIds } = await seedChat(c, {
      pageId: 'page-worker',
      clientId: 'ines',
      receivedAt: new Date(),
      messages: 2,
      tag: 'w',
    });
    const [first = '', second = ''] = messageIds;
    for (const id of messageIds) {
      assert.equal((await stores.messages.get(id))?.client_id, 'ines');
      assert.notEqual(await stores.messages.reply(id), null);
      assert.equal(await stores.messages.speech(id, 0), `blob_${id}`);
    }
    // Retention's way: messages by id.
    await stores.erasure.eraseMessages([first]);
    assert.equal(await stores.messages.get(first), null);
    assert.equal(await stores.messages.reply(first), null);
    assert.equal(await stores.messages.speech(first, 0), undefined);
    assert.notEqual(await stores.messages.get(second), null, 'another message stays');
    // An erasure's way: the chat.
    await stores.erasure.eraseChat(chatId);
    assert.equal(await stores.messages.get(second), null);
    assert.equal(await stores.messages.speech(second, 0), undefined);
  });

  test("a worker's memory of a message erased by another process ends within MESSAGE_CACHE_TTL_MS", async () => {
    const c = collections(mongo.db);
    let clock = Date.parse('2026-12-07T12:00:00Z');
    const worker = createMessageStore(c, { now: () => clock });
    const elsewhere = createStores(mongo.db, API_STORE_OPTIONS);
    const { chatId, messageIds } = await seedChat(c, {
      pageId: 'page-ttl',
      clientId: 'jude',
      receivedAt: new Date(),
      messages: 1,
      tag: 't',
    });
    const id = messageIds[0] ?? '';
    assert.equal((await worker.get(id))?.client_id, 'jude');
    assert.notEqual(await worker.reply(id), null);
    // Another process erases the chat: this worker is not told.
    await elsewhere.erasure.eraseChat(chatId);
    clock += MESSAGE_CACHE_TTL_MS - 1;
    assert.equal((await worker.get(id))?.client_id, 'jude', 'still remembered within the TTL');
    clock += 1;
    assert.equal(await worker.get(id), null);
    assert.equal(await worker.reply(id), null);
  });
});
