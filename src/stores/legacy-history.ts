import { historyEntryId } from '../domain/ids.js';
import { trimRecent, type HistoryEntry } from '../domain/history.js';
import { isDuplicateKey, type ChatDoc, type Collections, type HistoryDoc } from './collections.js';

export interface NewHistoryEntry {
  messageId: string;
  role: HistoryDoc['role'];
  content: string;
  attachments?: string[];
}

export { historyEntryId };

/**
 * A chat's history lives twice: every entry in `history` (the record), and the most recent ones in
 * the chat's own document, which is what generation reads. One read by `_id` serves a reply
 * (FerretDB answers `_id` lookups directly but scans for other filters), and one conditional update
 * appends a message and its reply together.
 */
export function createLegacyHistoryStore(c: Collections) {
  return {
    /** The chat's recent history and its version; throws when the chat does not exist. */
    async state(chatId: string): Promise<{ seq: number; recent: HistoryEntry[] }> {
      const chat: ChatDoc | null = await c.chats.findOne({ _id: chatId });
      if (!chat) throw new Error(`chat ${chatId} does not exist`);
      return { seq: chat.history_seq ?? 0, recent: chat.recent ?? [] };
    },

    /**
     * Appends entries not already there (a retry adds nothing twice). The update only applies to
     * the version read, so a concurrent writer makes it fail loudly instead of losing an entry;
     * per-chat turns mean that only happens when an earlier attempt of the same step got through.
     */
    async append(
      chatId: string,
      state: { seq: number; recent: HistoryEntry[] },
      entries: NewHistoryEntry[],
      now = new Date(),
    ): Promise<void> {
      const known = new Set(state.recent.map((entry) => entry.id));
      const fresh = entries.filter((entry) => !known.has(historyEntryId(entry.messageId, entry.role)));
      if (fresh.length === 0) return;
      const added: HistoryEntry[] = fresh.map((entry) => ({
        id: historyEntryId(entry.messageId, entry.role),
        role: entry.role,
        content: entry.content,
        attachments: entry.attachments ?? [],
      }));
      const recent = trimRecent([...state.recent, ...added]);
      const result = await c.chats.updateOne(
        { _id: chatId, history_seq: state.seq },
        { $set: { recent }, $inc: { history_seq: added.length } },
      );
      if (result.matchedCount === 0) {
        const current = await this.state(chatId);
        const present = new Set(current.recent.map((entry) => entry.id));
        if (added.every((entry) => present.has(entry.id))) return; // an earlier attempt wrote them
        throw new Error(`chat ${chatId} history changed while appending; retrying`);
      }
      const docs: HistoryDoc[] = added.map((entry, index) => ({
        _id: entry.id,
        chat_id: chatId,
        message_id: fresh[index]!.messageId,
        seq: state.seq + index + 1,
        role: entry.role,
        content: entry.content,
        attachments: entry.attachments,
        created_at: now,
      }));
      try {
        await c.history.insertMany(docs, { ordered: false });
      } catch (error) {
        if (!isDuplicateKey(error) && !(error as { writeErrors?: unknown }).writeErrors) throw error;
      }
    },
  };
}

export type LegacyHistoryStore = ReturnType<typeof createLegacyHistoryStore>;
