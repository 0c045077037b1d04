import { isDuplicateKey, type Collections, type HistoryDoc } from './collections.js';

export interface NewHistoryEntry {
  chatId: string;
  messageId: string;
  role: HistoryDoc['role'];
  content: string;
  attachments?: string[];
}

export const historyEntryId = (messageId: string, role: HistoryDoc['role']): string => `${messageId}:${role}`;

export function createHistoryStore(c: Collections) {
  return {
    get(messageId: string, role: HistoryDoc['role']): Promise<HistoryDoc | null> {
      return c.history.findOne({ _id: historyEntryId(messageId, role) });
    },
    /**
     * Adds the entry once per (message, role): a retry returns the entry already stored.
     * The sequence number comes from the chat so that history reads back in the order it was written.
     */
    async addOnce(entry: NewHistoryEntry, now = new Date()): Promise<HistoryDoc> {
      const id = historyEntryId(entry.messageId, entry.role);
      const existing = await c.history.findOne({ _id: id });
      if (existing) return existing;
      const chat = await c.chats.findOneAndUpdate(
        { _id: entry.chatId },
        { $inc: { history_seq: 1 } },
        // No projection: FerretDB v1 does not support one on findAndModify.
        { returnDocument: 'after' },
      );
      if (!chat) throw new Error(`chat ${entry.chatId} does not exist`);
      const doc: HistoryDoc = {
        _id: id,
        chat_id: entry.chatId,
        message_id: entry.messageId,
        seq: chat.history_seq,
        role: entry.role,
        content: entry.content,
        attachments: entry.attachments ?? [],
        created_at: now,
      };
      try {
        await c.history.insertOne(doc);
        return doc;
      } catch (error) {
        // A concurrent retry won the race; its entry is the one.
        if (isDuplicateKey(error)) {
          const winner = await c.history.findOne({ _id: id });
          if (winner) return winner;
        }
        throw error;
      }
    },
    /** The last `limit` entries of a chat up to and including sequence `uptoSeq`, oldest first. */
    async recent(chatId: string, uptoSeq: number, limit: number): Promise<HistoryDoc[]> {
      if (limit <= 0) return [];
      const docs = await c.history.find({ chat_id: chatId, seq: { $lte: uptoSeq } }).sort({ seq: -1 }).limit(limit).toArray();
      return docs.reverse();
    },
  };
}

export type HistoryStore = ReturnType<typeof createHistoryStore>;
