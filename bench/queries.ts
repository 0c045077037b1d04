/**
 * Times the stores' hot queries against a fresh MongoDB-compatible server (FerretDB here, or the
 * mongod on PATH) as the collections grow, to show which queries cost more as data accumulates
 * (a query the server cannot answer from an index reads the whole collection).
 *
 *   npx tsx bench/queries.ts [--sizes 0,1000,5000] [--iterations 50]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startMongoServer } from '../src/stack/servers.js';
import { collections, type HistoryDoc, type ReplyPartDoc } from '../src/stores/collections.js';
import { openDatabase } from '../src/stores/db.js';
import { createStores } from '../src/stores/index.js';

const { values } = parseArgs({ options: { sizes: { type: 'string' }, iterations: { type: 'string' } } });
const sizes = (values.sizes ?? '0,1000,5000').split(',').map(Number);
const iterations = Number(values.iterations ?? 50);

const dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-queries-'));
const server = await startMongoServer({ dataDir });
const database = openDatabase(server.address, 'queries');
try {
  const stores = createStores(database.db);
  const c = collections(database.db);
  await stores.ensureIndexes();
  const chats = 100;
  for (let chat = 0; chat < chats; chat++) await c.chats.insertOne({ _id: `chat${chat}`, page_id: 'p', client_id: `c${chat}`, platform: 'x', first_seen_at: new Date(), last_seen_at: new Date(), history_seq: 0 });
  await c.messages.insertOne({ _id: 'probe', workflow_id: 'w', channel_id: 'ch', page_id: 'p', client_id: 'c0', chat_id: 'chat0', platform: 'x', status: 'processing', stage: 'generating', inbound: { client_id: 'c0', platform: 'x', text: 'hi' }, received_at: new Date(), created_at: new Date(), updated_at: new Date() });
  let messages = 0;
  const rows: string[] = [];
  const time = async (label: string, op: (i: number) => Promise<unknown>): Promise<void> => {
    await op(0);
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await op(i);
    rows.push(`${String(messages).padStart(7)}  ${((performance.now() - start) / iterations).toFixed(2).padStart(8)} ms  ${label}`);
  };
  console.log(`${'messages'.padStart(7)}  ${'per call'.padStart(11)}  query (${iterations} calls each)`);
  for (const size of sizes) {
    // Grow to `size` messages: 2 history entries each, 1 reply part (4 for one in five, as in the benchmark).
    const history: HistoryDoc[] = [];
    const parts: ReplyPartDoc[] = [];
    for (; messages < size; messages++) {
      const long = messages % 5 === 0;
      const chat = `chat${messages % chats}`;
      const content = long ? 'x'.repeat(1500) : 'Message text of a usual length, a sentence or two.';
      const seq = Math.floor(messages / chats) * 2;
      history.push({ _id: `m${messages}:user`, chat_id: chat, message_id: `m${messages}`, seq: seq + 1, role: 'user', content, attachments: [], created_at: new Date() });
      history.push({ _id: `m${messages}:assistant`, chat_id: chat, message_id: `m${messages}`, seq: seq + 2, role: 'assistant', content: `Echo: ${content}`, attachments: [], created_at: new Date() });
      for (let index = 0; index < (long ? 4 : 1); index++) parts.push({ _id: `m${messages}:${index}`, message_id: `m${messages}`, index, text: content.slice(0, 400), images: [], delivery_id: `m${messages}.${index}` });
    }
    if (history.length > 0) await c.history.insertMany(history);
    if (parts.length > 0) await c.parts.insertMany(parts);
    await time('history.get (by _id)', (i) => stores.history.get(`m${i % Math.max(1, messages)}`, 'user'));
    await time('history.recent (chat_id, sort by seq, limit 20)', (i) => stores.history.recent(`chat${i % chats}`, 20));
    await time('messages.parts (message_id, sort)', (i) => stores.messages.parts(`m${i % Math.max(1, messages)}`));
    await time('messages.part (by _id)', (i) => stores.messages.part(`m${i % Math.max(1, messages)}`, 0));
    await time('messages.update (by _id, $set)', () => stores.messages.update('probe', { stage: 'delivering' }));
    await time('chats findOneAndUpdate $inc (history seq)', (i) => c.chats.findOneAndUpdate({ _id: `chat${i % chats}` }, { $inc: { history_seq: 0 } }, { returnDocument: 'after' }));
    console.log(rows.splice(0).join('\n'));
  }
} finally {
  await database.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
