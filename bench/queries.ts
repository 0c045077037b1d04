/**
 * Times the stores' hot queries against a fresh MongoDB-compatible server (FerretDB here, or the
 * mongod on PATH) as the collections grow, to show which queries cost more as data accumulates
 * (a query the server cannot answer from an index reads the whole collection). Every query on the
 * path of a message is here, and each is answered by _id.
 *
 *   npx tsx bench/queries.ts [--sizes 0,1000,5000,20000] [--iterations 50]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startMongoServer } from '../src/stack/servers.js';
import { historyEntryId } from '../src/domain/ids.js';
import { collections } from '../src/stores/collections.js';
import { openDatabase } from '../src/stores/db.js';
import { createStores } from '../src/stores/index.js';
import { preloadMessages } from './lib/preload.js';

const { values } = parseArgs({ options: { sizes: { type: 'string' }, iterations: { type: 'string' } } });
const sizes = (values.sizes ?? '0,1000,5000,20000').split(',').map(Number);
const iterations = Number(values.iterations ?? 50);

const dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-queries-'));
const server = await startMongoServer({ dataDir });
const database = openDatabase(server.address, 'queries');
try {
  // No in-process cache: every call below asks the server.
  const stores = createStores(database.db, { messageCacheEntries: 0 });
  const c = collections(database.db);
  await stores.ensureIndexes();
  const chats = 100;
  for (let chat = 0; chat < chats; chat++) {
    await c.chats.insertOne({
      _id: `chat${chat}`,
      page_id: 'p',
      client_id: `c${chat}`,
      platform: 'x',
      first_seen_at: new Date(),
      last_seen_at: new Date(),
      history_seq: 0,
      recent: [],
    });
    await c.lineHeads.insertOne({ _id: `chat${chat}`, done: 0, at: new Date() });
  }
  const probe = {
    _id: 'probe',
    workflow_id: 'w',
    channel_id: 'ch',
    page_id: 'p',
    client_id: 'c0',
    chat_id: 'chat0',
    platform: 'x',
    inbound: { client_id: 'c0', platform: 'x', text: 'hi' },
    received_at: new Date(),
  };
  await stores.messages.insert({ ...probe, status: 'processing', stage: 'accepted', line_seq: 1 });
  let messages = 0;
  let probes = 0;
  const rows: string[] = [];
  const time = async (label: string, op: (i: number) => Promise<unknown>): Promise<void> => {
    await op(0);
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await op(i);
    rows.push(
      `${String(messages).padStart(7)}  ${((performance.now() - start) / iterations).toFixed(2).padStart(8)} ms  ${label}`,
    );
  };
  const entry = (id: string, role: 'user' | 'assistant', content: string) => ({
    id: historyEntryId(id, role),
    role,
    content,
    attachments: [],
  });
  console.log(`${'messages'.padStart(7)}  ${'per call'.padStart(11)}  query (${iterations} calls each)`);
  for (const size of sizes) {
    // Grow to `size` messages as version 2 stores them (bench/lib/preload.ts).
    await preloadMessages(c, {
      from: messages,
      to: size,
      chats,
      chatId: (index) => `chat${index}`,
      idPrefix: 'm',
      channelId: 'ch',
      pageId: 'p',
    });
    messages = Math.max(messages, size);
    // Every query on the path of a message (src/api/message-starter.ts and src/activities/), each by _id.
    // The hot path reads what was just written: the newest messages, the last places of the chats.
    const recent = (i: number): number => Math.max(0, messages - 1 - (i % 100));
    const lastSeq = Math.max(1, Math.floor((messages - 1) / chats) + 1);
    await time('lines.claim (insert by _id after the last place)', (i) =>
      stores.lines.claim(`probe-chat-${size}`, i, { messageId: `p${(probes += 1)}`, workflowId: 'w' }),
    );
    await time("lines.done (the chat's head, by _id)", (i) => stores.lines.done(`chat${i % chats}`));
    await time("lines.finish (the chat's head, update by _id)", (i) =>
      stores.lines.finish(`chat${i % chats}`, lastSeq),
    );
    await time('lines.waiter (by _id, none)', (i) => stores.lines.waiter(`chat${i % chats}`, lastSeq));
    await time('messages.insert (accepted)', () =>
      stores.messages.insert({
        ...probe,
        _id: `probe-${(probes += 1)}`,
        status: 'processing',
        stage: 'accepted',
        line_seq: 1,
      }),
    );
    await time('messages.get (by _id, the newest: off the path, the worker keeps what it wrote)', (i) =>
      stores.messages.get(`m${recent(i)}`),
    );
    await time('chats.get (by _id)', (i) => stores.chats.get(`chat${i % chats}`));
    await time('chats.recordTurn (update by _id, a 20-entry window)', async (i) => {
      const chat = await stores.chats.get(`chat${i % chats}`);
      await stores.chats.recordTurn(
        `chat${i % chats}`,
        chat,
        { pageId: 'p', clientId: `c${i % chats}`, platform: 'x', seenAt: new Date() },
        [entry(`probe-${i}`, 'user', 'hi')],
        20,
      );
    });
    await time('messages.saveReply (insert)', (i) =>
      stores.messages.saveReply(`probe-reply-${size}-${i}`, [{ index: 0, text: 'x', images: [], delivery_id: 'x.0' }]),
    );
    await time('messages.reply (by _id, the newest: off the path, likewise)', (i) =>
      stores.messages.reply(`m${recent(i)}`),
    );
    await time('messages.recordAttempt (insert)', (i) =>
      stores.messages.recordAttempt(`probe-${size}`, {
        part_index: 0,
        attempt: i + 1,
        at: new Date(),
        duration_ms: 1,
        result: 'delivered',
        http_status: 200,
      }),
    );
    await time('messages.saveOutcome (insert)', (i) =>
      stores.messages.saveOutcome(`probe-outcome-${size}-${i}`, { status: 'delivered', partsDelivered: 1 }),
    );
    console.log(rows.splice(0).join('\n'));
  }
} finally {
  await database.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
