import type { Filter } from 'mongodb';
import type { Channel } from '../domain/models.js';
import type { ChatLineStore } from '../chat-line/store.js';
import type { ChatDoc, Collections, DeliveryAttemptDoc, MessageDoc, OutcomeDoc } from './collections.js';

/**
 * The reads behind the dashboard's conversations and overview. Read-only: nothing here writes, so
 * it never races the workflows that own these documents.
 */
export function createDashboardReadStore(c: Collections, lines: Pick<ChatLineStore, 'floor' | 'lastTaken' | 'slot'>) {
  return {
    /** A channel's chats, most recently active first (the channel_recent index serves the filter). */
    async chatsOfChannel(channelId: string, options: { limit: number; before?: Date }): Promise<ChatDoc[]> {
      const filter: Filter<ChatDoc> = { channel_id: channelId };
      if (options.before) filter.last_seen_at = { $lt: options.before };
      return c.chats.find(filter).sort({ last_seen_at: -1, _id: 1 }).limit(options.limit).toArray();
    },

    /**
     * The latest `limit` messages of one chat of a channel, newest first. They are found through
     * the chat's line (each place names its message) with lookups by `_id` alone, a window of
     * places at a time, so the cost is the same with a thousand chats or a million (on FerretDB a
     * filter on `chat_id` would read every message stored). Places of redeliveries, retried POSTs
     * and chat controls name a message already listed, or none.
     */
    async messagesOfChat(channelId: string, chatId: string, limit: number): Promise<MessageDoc[]> {
      const found: MessageDoc[] = [];
      const seen = new Set<string>();
      // Places up to the floor were cut by retention; places held by an erasure name no message.
      const floor = await lines.floor(chatId);
      let next = await lines.lastTaken(chatId, floor);
      while (next > floor && found.length < limit) {
        const window = Array.from({ length: Math.min(next - floor, limit - found.length + 4) }, (_, k) => next - k);
        next -= window.length;
        const places = await Promise.all(window.map((seq) => lines.slot(chatId, seq)));
        const ids: string[] = [];
        for (const place of places) {
          if (!place || place.message_id === '' || seen.has(place.message_id)) continue;
          seen.add(place.message_id);
          ids.push(place.message_id);
        }
        const messages = await Promise.all(
          ids.map((id) => c.messages.findOne({ _id: id }, { projection: { snapshot: 0 } })),
        );
        for (const message of messages)
          if (message?.channel_id === channelId && found.length < limit) found.push(message);
      }
      return found;
    },

    /** What happened since `since`: messages received, how messages ended, and delivery attempts. */
    async activitySince(since: Date): Promise<{
      messages: Pick<MessageDoc, '_id' | 'channel_id' | 'received_at'>[];
      outcomes: Pick<OutcomeDoc, 'message_id' | 'status' | 'redelivery'>[];
      attempts: Pick<DeliveryAttemptDoc, 'duration_ms' | 'result'>[];
    }> {
      const [messages, outcomes, attempts] = await Promise.all([
        c.messages
          .find({ created_at: { $gte: since } }, { projection: { _id: 1, channel_id: 1, received_at: 1 } })
          .toArray(),
        c.outcomes
          .find({ at: { $gte: since } }, { projection: { _id: 0, message_id: 1, status: 1, redelivery: 1 } })
          .toArray(),
        c.attempts.find({ at: { $gte: since } }, { projection: { _id: 0, duration_ms: 1, result: 1 } }).toArray(),
      ]);
      return { messages, outcomes, attempts };
    },

    /** The channel of each message id given (for messages older than a summary's window). */
    async channelsOfMessages(ids: string[]): Promise<Map<string, string>> {
      if (ids.length === 0) return new Map();
      const found = await c.messages.find({ _id: { $in: ids } }, { projection: { _id: 1, channel_id: 1 } }).toArray();
      return new Map(found.map((message) => [message._id, message.channel_id]));
    },

    /** Channels whose delivery is paused (few: a 410 or an admin paused them). */
    async pausedChannels(): Promise<Pick<Channel, 'id' | 'page_id' | 'paused_reason'>[]> {
      const docs = await c.channels
        .find({ delivery_paused: true }, { projection: { _id: 1, page_id: 1, paused_reason: 1 } })
        .toArray();
      return docs.map((doc) => ({
        id: doc._id,
        page_id: doc.page_id,
        ...(doc.paused_reason !== undefined ? { paused_reason: doc.paused_reason } : {}),
      }));
    },

    /** Page ids of the channels given. */
    async pageIds(channelIds: string[]): Promise<Map<string, string>> {
      if (channelIds.length === 0) return new Map();
      const docs = await c.channels
        .find({ _id: { $in: channelIds } }, { projection: { _id: 1, page_id: 1 } })
        .toArray();
      return new Map(docs.map((doc) => [doc._id, doc.page_id]));
    },
  };
}

export type DashboardReadStore = ReturnType<typeof createDashboardReadStore>;
