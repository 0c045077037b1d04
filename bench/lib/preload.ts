/**
 * Stored messages as version 2 writes them, made directly in MongoDB: a line place, the message as
 * accepted, its reply (4 parts for one in five, as in the benchmark's load), its delivery attempts
 * and its outcome, over `chats` chats, each chat with its window of recent history and its line's
 * head. Used to measure what a message costs once data has piled up (`npm run bench -- --preload N`,
 * `npx tsx bench/queries.ts`).
 */
import { attemptKey, deliveryAttemptId, historyEntryId, lineSlotId } from '../../src/domain/ids.js';
import type { HistoryEntry } from '../../src/domain/history.js';
import {
  insertOnce,
  type Collections,
  type DeliveryAttemptDoc,
  type LineSlotDoc,
  type MessageDoc,
  type OutcomeDoc,
  type ReplyDoc,
} from '../../src/stores/collections.js';

export interface PreloadOptions {
  /** Messages stored so far (numbering goes on from here). */
  from: number;
  to: number;
  chats: number;
  /** The id of chat `i` (0 to chats - 1): the benchmark's own chats, or others. */
  chatId: (index: number) => string;
  /** Prefix of the preloaded message ids. */
  idPrefix: string;
  channelId: string;
  pageId: string;
}

const entry = (id: string, role: 'user' | 'assistant', content: string): HistoryEntry => ({
  id: historyEntryId(id, role),
  role,
  content,
  attachments: [],
});
const textOf = (n: number): string =>
  n % 5 === 0 ? 'x'.repeat(1500) : 'Message text of a usual length, a sentence or two.';

/** What one answered message leaves in the database: its line place, the message, its reply, attempts and outcome. */
export interface MessageRecords {
  line: LineSlotDoc;
  message: MessageDoc;
  reply: ReplyDoc;
  attempts: DeliveryAttemptDoc[];
  outcome: OutcomeDoc;
}

/** The records of message number `n`, at place `seq` of `chat`: one part, or four for one in five. */
export function messageRecords(
  n: number,
  chat: string,
  seq: number,
  ids: { idPrefix: string; channelId: string; pageId: string },
  now: Date,
): MessageRecords {
  const content = textOf(n);
  const partCount = n % 5 === 0 ? 4 : 1;
  const id = `${ids.idPrefix}${n}`;
  return {
    line: { _id: lineSlotId(chat, seq), chat_id: chat, seq, message_id: id, workflow_id: `w-${id}`, created_at: now },
    message: {
      _id: id,
      workflow_id: `w-${id}`,
      channel_id: ids.channelId,
      page_id: ids.pageId,
      client_id: chat,
      chat_id: chat,
      platform: 'x',
      status: 'processing',
      stage: 'accepted',
      inbound: { client_id: chat, platform: 'x', text: content },
      received_at: now,
      line_seq: seq,
      created_at: now,
      updated_at: now,
    },
    reply: {
      _id: id,
      parts: Array.from({ length: partCount }, (_, index) => ({
        index,
        text: content.slice(0, 400),
        images: [],
        delivery_id: `${id}.${index}`,
      })),
      at: now,
    },
    attempts: Array.from({ length: partCount }, (_, index) => ({
      _id: deliveryAttemptId(id, attemptKey(index, 1)),
      message_id: id,
      part_index: index,
      attempt: 1,
      at: now,
      duration_ms: 3,
      result: 'delivered' as const,
      http_status: 200,
    })),
    outcome: { _id: id, message_id: id, status: 'delivered', parts_delivered: partCount, at: now },
  };
}

/** A chat's window of recent history: `exchanges` user and assistant entries of message `n`'s text. */
export function recentWindow(idPrefix: string, n: number, exchanges: number): HistoryEntry[] {
  return Array.from({ length: exchanges }, (_, k) => [
    entry(`${idPrefix}${n}-${k}`, 'user', textOf(n)),
    entry(`${idPrefix}${n}-${k}`, 'assistant', `Echo: ${textOf(n)}`),
  ]).flat();
}

/** Buffers records and inserts them in batches, every collection at once. */
export function recordWriter(c: Collections) {
  const docs = {
    lines: [] as LineSlotDoc[],
    messages: [] as MessageDoc[],
    replies: [] as ReplyDoc[],
    attempts: [] as DeliveryAttemptDoc[],
    outcomes: [] as OutcomeDoc[],
  };
  const flush = async (): Promise<void> => {
    await Promise.all([
      docs.lines.length && c.lines.insertMany(docs.lines.splice(0)),
      docs.messages.length && c.messages.insertMany(docs.messages.splice(0)),
      docs.replies.length && c.replies.insertMany(docs.replies.splice(0)),
      docs.attempts.length && c.attempts.insertMany(docs.attempts.splice(0)),
      docs.outcomes.length && c.outcomes.insertMany(docs.outcomes.splice(0)),
    ]);
  };
  return {
    async add(records: MessageRecords): Promise<void> {
      docs.lines.push(records.line);
      docs.messages.push(records.message);
      docs.replies.push(records.reply);
      docs.attempts.push(...records.attempts);
      docs.outcomes.push(records.outcome);
      if (docs.messages.length >= 500) await flush();
    },
    flush,
  };
}

export async function preloadMessages(c: Collections, options: PreloadOptions): Promise<void> {
  const { chats, chatId, idPrefix } = options;
  const now = new Date();
  const writer = recordWriter(c);
  for (let n = options.from; n < options.to; n++) {
    await writer.add(messageRecords(n, chatId(n % chats), Math.floor(n / chats) + 1, options, now));
  }
  await writer.flush();
  // Each chat's window of recent history and how its line's last place ended, as the last of its messages left them.
  for (let chat = 0; chat < chats && options.to > 0; chat++) {
    const last = Math.max(0, options.to - chats + chat);
    const window = recentWindow(idPrefix, last, 10);
    const id = chatId(chat);
    await c.chats.updateOne(
      { _id: id },
      {
        $set: {
          page_id: options.pageId,
          client_id: id,
          platform: 'x',
          first_seen_at: now,
          last_seen_at: now,
          history_seq: 0,
          recent: window,
        },
      },
      { upsert: true },
    );
    const seq = Math.floor(options.to / chats);
    if (seq > 0)
      await insertOnce(c.lineEnds, { _id: lineSlotId(id, seq), chat_id: id, seq, kind: 'finished' as const, at: now });
  }
}
