/**
 * Times each query chatrelay makes, against a fresh MongoDB-compatible server (FerretDB here, or
 * the mongod on PATH), as earlier conversations pile up: every query on a message's path (each by
 * `_id`, or an insert), and the admin and dashboard reads (paged), retention's and erasure's.
 * A query the server cannot answer from an index reads the whole collection: on FerretDB's SQLite
 * backend that is any filter but `_id` alone.
 *
 *   npx tsx bench/queries.ts [--sizes 0,20000,100000] [--iterations 50] [--admin-iterations 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { historyEntryId } from '../src/domain/ids.js';
import { channelDefaults, agentDefaults } from '../src/domain/models.js';
import { generateApiToken } from '../src/lib/secrets.js';
import { startMongoServer } from '../src/stack/servers.js';
import { onPath } from '../src/stack/tools.js';
import { chatIdFor } from '../src/stores/chats.js';
import { collections } from '../src/stores/collections.js';
import { openDatabase } from '../src/stores/db.js';
import { createStores } from '../src/stores/index.js';
import { formatColumns } from './lib/columns.js';
import { preseedChats } from './lib/preseed.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string' },
    iterations: { type: 'string' },
    'admin-iterations': { type: 'string' },
  },
});
const sizes = (values.sizes ?? '0,20000,100000').split(',').map(Number);
const iterations = Number(values.iterations ?? 50);
const adminIterations = Number(values['admin-iterations'] ?? 5);

const dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-queries-'));
const server = await startMongoServer({ dataDir });
const database = openDatabase(server.address, 'queries');
try {
  // No in-process cache: every call below asks the server.
  const stores = createStores(database.db, { messageCacheEntries: 0 });
  const c = collections(database.db);
  await stores.ensureIndexes();
  const agent = await stores.agents.create({ ...agentDefaults, name: 'queries', system_prompt: 'x' });
  const channel = await stores.channels.create({
    ...channelDefaults,
    agent_id: agent.id,
    page_id: 'queries-page',
    reply_webhook_url: 'http://127.0.0.1:9/r',
    api_token: generateApiToken(),
  });
  await stores.signingSecrets.create(channel.id);

  const results = new Map<string, Map<number, number>>();
  let probes = 0;
  const time = async (label: string, size: number, count: number, op: (i: number) => Promise<unknown>) => {
    await op(0);
    const start = performance.now();
    for (let i = 1; i <= count; i++) await op(i);
    const perCall = (performance.now() - start) / count;
    if (!results.has(label)) results.set(label, new Map());
    results.get(label)?.set(size, perCall);
  };
  const entry = (id: string, role: 'user' | 'assistant', content: string) => ({
    id: historyEntryId(id, role),
    role,
    content,
    attachments: [],
  });

  let stored = 0;
  for (const size of sizes) {
    if (size > stored) {
      const started = performance.now();
      await preseedChats(c, { from: stored, to: size, channelId: channel.id, pageId: channel.page_id });
      console.error(`stored ${size - stored} conversations in ${((performance.now() - started) / 1000).toFixed(0)} s`);
      stored = size;
    }
    // The chats of the newest conversations: what a message's path touches is recent.
    // (With none stored, chats of their own: preseeding later must not meet them.)
    const client = (i: number): string =>
      size > 0 ? `earlier-${Math.max(0, size - 1 - (i % 100))}` : `probe-${i % 100}`;
    const chat = (i: number): string => chatIdFor(channel.id, client(i));
    const message = (i: number): string => `msg_earlier${Math.max(0, size - 1 - (i % 100))}`;
    const fresh = (): string => `probe-${size}-${(probes += 1)}`;
    const path = async (label: string, op: (i: number) => Promise<unknown>) =>
      time(`path: ${label}`, size, iterations, op);
    const admin = async (label: string, op: (i: number) => Promise<unknown>) =>
      time(`admin: ${label}`, size, adminIterations, op);

    await path('channels.getByPageId (API, a cache miss: 2 by _id)', () =>
      stores.channels.getByPageId(channel.page_id),
    );
    await path('lines.claim (API: insert after the last place)', () =>
      stores.lines.claim(fresh(), 0, { messageId: 'm', workflowId: 'w' }),
    );
    await path('lines.end (the place before, ended)', (i) => stores.lines.end(chat(i), 1));
    await path('lines.markEnded (insert)', () => stores.lines.markEnded(fresh(), 1, 'finished'));
    await path('lines.slot (the next place: none)', (i) => stores.lines.slot(chat(i), 2));
    await path('messages.insert (accepted)', () =>
      stores.messages.insert({
        _id: fresh(),
        workflow_id: 'w',
        channel_id: channel.id,
        page_id: channel.page_id,
        client_id: 'c',
        chat_id: 'chat',
        platform: 'x',
        inbound: { client_id: 'c', platform: 'x', text: 'hi' },
        received_at: new Date(),
        status: 'processing',
        stage: 'accepted',
        line_seq: 1,
      }),
    );
    await path('messages.get (the worker keeps what it wrote: off the path)', (i) => stores.messages.get(message(i)));
    await path('chats.get', (i) => stores.chats.get(chat(i)));
    await path('chats.recordTurn (update, the window rewritten)', async (i) => {
      const doc = await stores.chats.get(chat(i));
      await stores.chats.recordTurn(
        chat(i),
        doc,
        { channelId: channel.id, pageId: channel.page_id, clientId: client(i), platform: 'x', seenAt: new Date() },
        [entry(fresh(), 'user', 'hi')],
        20,
      );
    });
    await path('signingSecrets.active (worker, a cache miss)', () => stores.signingSecrets.active(channel.id));
    await path('messages.saveReply (insert)', () =>
      stores.messages.saveReply(fresh(), [{ index: 0, text: 'x', images: [], delivery_id: 'x.0' }]),
    );
    await path('messages.recordAttempt (insert)', (i) =>
      stores.messages.recordAttempt(`probe-${size}`, {
        part_index: 0,
        attempt: i + 1,
        at: new Date(),
        duration_ms: 1,
        result: 'delivered',
        http_status: 200,
      }),
    );
    await path('messages.saveOutcome (insert)', () =>
      stores.messages.saveOutcome(fresh(), { status: 'delivered', partsDelivered: 1 }),
    );

    await admin('messages.attempts (status API: attempts probed by _id)', (i) => stores.messages.attempts(message(i)));
    await admin('dashboard.messagesOfChat (50, through the line by _id)', (i) =>
      stores.dashboard.messagesOfChat(channel.id, chat(i), 50),
    );
    await admin('dashboard.chatsOfChannel (a page of 50)', () =>
      stores.dashboard.chatsOfChannel(channel.id, { limit: 51 }),
    );
    await admin('messages.listByChannel (a page of 50)', () =>
      stores.messages.listByChannel(channel.id, { limit: 51 }),
    );
    await admin("dashboard.activitySince (the overview's hour)", () =>
      stores.dashboard.activitySince(new Date(Date.now() - 3_600_000)),
    );
    await admin('messages.parkedDeliveries (a channel resumed)', () => stores.messages.parkedDeliveries(channel.id));
    await admin('erasure.expiredMessages (retention: a page of 500)', () =>
      stores.erasure.expiredMessages({ cutoff: new Date(0), abandonedBefore: new Date(0), limit: 500 }),
    );
    await admin('erasure.expiredChats (retention: a page of 500)', () => stores.erasure.expiredChats(new Date(0), 500));
    await admin('erasure.eraseChat (one user, nothing of theirs stored)', () =>
      stores.erasure.eraseChat(chatIdFor(channel.id, `nobody-${(probes += 1)}`)),
    );
  }

  const header = ['query (ms per call; earlier conversations →)', ...sizes.map(String)];
  const rows = [...results].map(([label, bySize]) => [
    label,
    ...sizes.map((size) => {
      const value = bySize.get(size);
      return value === undefined ? '-' : value.toFixed(2);
    }),
  ]);
  console.log(
    formatColumns(
      `${onPath('mongod') ? 'mongod' : 'FerretDB (provisioned)'}, ${iterations} calls per path query, ${adminIterations} per admin read:`,
      header,
      rows,
    ),
  );
} finally {
  await database.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
