import { Binary } from 'mongodb';
import { chatIdFor } from '../../src/stores/chats.js';
import type { Collections } from '../../src/stores/collections.js';

/** Every collection erasure and retention must empty of a chat's or a message's data, by name. */
export const PER_MESSAGE_COLLECTIONS = [
  'messages',
  'message_transcripts',
  'message_replies',
  'message_speech',
  'delivery_attempts',
  'message_outcomes',
  'message_redeliveries',
  'paused_deliveries',
  'blobs',
] as const;
/** The chat record; erasure blanks its line (it stays for the messages after it), retention deletes it. */
export const PER_CHAT_COLLECTIONS = ['chats'] as const;
export const LINE_COLLECTIONS = ['chat_lines', 'chat_line_ends'] as const;

/**
 * Writes a chat of the channel `channelId` (default `chn_1`) with `messages` messages, each with a
 * record in every per-message collection, the way the stores lay them out; `finished` false leaves
 * out the outcome (a message still being delivered).
 */
export async function seedChat(
  c: Collections,
  options: {
    channelId?: string;
    pageId: string;
    clientId: string;
    receivedAt: Date;
    messages: number;
    finished?: boolean;
    tag?: string;
  },
): Promise<{ chatId: string; messageIds: string[] }> {
  const channelId = options.channelId ?? 'chn_1';
  const chatId = chatIdFor(channelId, options.clientId);
  const at = options.receivedAt;
  const messageIds: string[] = [];
  for (let n = 1; n <= options.messages; n++) {
    const id = `msg_${options.tag ?? 'x'}${n}_${chatId.slice(4, 14)}`;
    messageIds.push(id);
    await c.messages.insertOne({
      _id: id,
      workflow_id: `chatrelay-message-${id}`,
      channel_id: channelId,
      page_id: options.pageId,
      client_id: options.clientId,
      chat_id: chatId,
      platform: 'CustomApp',
      status: 'accepted',
      stage: 'accepted',
      inbound: { client_id: options.clientId, platform: 'CustomApp', text: `secret ${n}` },
      received_at: at,
      created_at: at,
      updated_at: at,
      line_seq: n,
    });
    await c.transcripts.insertOne({ _id: id, transcript: 'spoken', at });
    await c.replies.insertOne({ _id: id, parts: [], at });
    await c.speech.insertOne({ _id: `${id}:0`, blob_id: `blob_${id}`, at });
    await c.attempts.insertOne({
      _id: `${id}:p0a1`,
      message_id: id,
      part_index: 0,
      attempt: 1,
      at,
      duration_ms: 1,
      result: 'delivered',
    });
    if (options.finished !== false) {
      await c.outcomes.insertOne({ _id: id, message_id: id, status: 'delivered', parts_delivered: 1, at });
      await c.outcomes.insertOne({
        _id: `${id}:r1`,
        message_id: id,
        redelivery: 1,
        status: 'delivered',
        parts_delivered: 1,
        at,
      });
    }
    await c.redeliveries.insertOne({
      _id: `${id}:r1`,
      message_id: id,
      redelivery: 1,
      workflow_id: 'w',
      from_part: 0,
      at,
    });
    await c.pausedDeliveries.insertOne({ _id: `paused-${id}`, channel_id: channelId, message_id: id, at });
    await c.blobs.insertOne({
      _id: `blob_${id}`,
      message_id: id,
      content_type: 'audio/mpeg',
      size: 1,
      data: new Binary(Buffer.from('a')),
      created_at: at,
    });
    await c.lines.insertOne({
      _id: `${chatId}:${n}`,
      chat_id: chatId,
      seq: n,
      message_id: id,
      workflow_id: 'w',
      created_at: at,
    });
  }
  // A finished chat's last place ended (so every place before it had); an unfinished one's is still held.
  if (options.finished !== false) {
    const seq = options.messages;
    await c.lineEnds.insertOne({ _id: `${chatId}:${seq}`, chat_id: chatId, seq, kind: 'finished', at });
  }
  await c.chats.insertOne({
    _id: chatId,
    channel_id: channelId,
    page_id: options.pageId,
    client_id: options.clientId,
    platform: 'CustomApp',
    first_seen_at: at,
    last_seen_at: at,
    recent: [{ id: 'm:user', role: 'user', content: 'secret', attachments: [] }],
  });
  return { chatId, messageIds };
}

/** How many documents of each collection mention `chatId` or one of `messageIds` (by id, chat_id or message_id). */
export async function countRecords(
  c: Collections,
  chatId: string,
  messageIds: readonly string[],
): Promise<Record<string, number>> {
  const db = c.messages.db;
  const names = [...PER_MESSAGE_COLLECTIONS, ...PER_CHAT_COLLECTIONS, ...LINE_COLLECTIONS];
  const counts: Record<string, number> = {};
  for (const name of names) {
    const all = await db.collection<{ _id: string; chat_id?: string; message_id?: string }>(name).find({}).toArray();
    counts[name] = all.filter(
      (doc) =>
        doc._id === chatId ||
        doc._id.startsWith(`${chatId}:`) ||
        doc.chat_id === chatId ||
        messageIds.some(
          (id) =>
            doc._id === id ||
            doc._id.startsWith(`${id}:`) ||
            doc.message_id === id ||
            doc._id === `blob_${id}` ||
            doc._id === `paused-${id}`,
        ),
    ).length;
  }
  return counts;
}
