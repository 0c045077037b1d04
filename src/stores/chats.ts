import { appendRecent, trimWindow, type HistoryEntry } from '../domain/history.js';
import { stableId } from '../lib/secrets.js';
import type { ChatDoc, ChatHandoff, Collections } from './collections.js';

/**
 * A chat is one end user on one channel: (channel id, client id). The channel's id is random and
 * never reused, so a channel made later on the same page id starts with no chats (issue 24).
 */
export const chatIdFor = (channelId: string, clientId: string): string =>
  `cht_${stableId('channel-chat', channelId, clientId)}`;

/** Whether `chat` is one of the channel `channelId`'s (the dashboard and chat controls answer 404 otherwise). */
export const chatOfChannel = (chat: Pick<ChatDoc, '_id' | 'client_id'>, channelId: string): boolean =>
  chat._id === chatIdFor(channelId, chat.client_id);

export interface ChatSighting {
  channelId: string;
  pageId: string;
  clientId: string;
  platform: string;
  clientName?: string;
  clientAvatar?: string;
  seenAt: Date;
}

export function createChatStore(c: Collections) {
  return {
    async get(id: string): Promise<ChatDoc | null> {
      return c.chats.findOne({ _id: id });
    },

    /**
     * Records a message's turn in its chat: appends its entries to the window of recent history
     * the next message's model reads (entries already there are not added again: a retried turn
     * adds nothing twice), trimmed to `windowEntries`, and refreshes what the platform told us; it
     * creates the chat on its first message. One plain write by `_id`: only the message whose turn
     * it is in the chat's line writes, so there is never a concurrent writer to guard against.
     * `chat` is the document as that same turn read it (null for a new chat).
     */
    async recordTurn(
      id: string,
      chat: ChatDoc | null,
      sighting: ChatSighting,
      entries: HistoryEntry[],
      windowEntries: number,
      handoff?: ChatHandoff,
    ): Promise<void> {
      const { recent, added } = appendRecent(chat?.recent ?? [], entries);
      const set: Record<string, unknown> = {
        channel_id: sighting.channelId,
        page_id: sighting.pageId,
        client_id: sighting.clientId,
        platform: sighting.platform,
        recent: trimWindow(recent, windowEntries),
        history_seq: (chat?.history_seq ?? 0) + added,
        last_seen_at: chat?.last_seen_at && chat.last_seen_at > sighting.seenAt ? chat.last_seen_at : sighting.seenAt,
        first_seen_at: chat && chat.first_seen_at < sighting.seenAt ? chat.first_seen_at : sighting.seenAt,
      };
      if (sighting.clientName !== undefined) set.client_name = sighting.clientName;
      if (sighting.clientAvatar !== undefined) set.client_avatar = sighting.clientAvatar;
      // The model asked for a person: the pause goes in the same write as the turn's entries.
      if (handoff !== undefined) set.handoff = handoff;
      await c.chats.updateOne({ _id: id }, { $set: set }, { upsert: true });
    },

    /**
     * Pauses (with `handoff`) or resumes (null) the chat's assistant. Only the holder of the chat's
     * turn calls it (an admin's pause or resume waits for its place in the line), so it never races
     * the window's rewrite, which FerretDB would lose. False when the chat is gone (erased).
     */
    async setHandoff(id: string, handoff: ChatHandoff | null): Promise<boolean> {
      const result = await c.chats.updateOne(
        { _id: id },
        handoff ? { $set: { handoff } } : { $unset: { handoff: '' } },
      );
      return result.matchedCount > 0;
    },

    /**
     * Takes an entry out of the chat's window of recent history (a reply dropped unsent, which
     * the next message's model must not see). One write by `_id`, by the message whose turn it is.
     */
    async dropEntry(id: string, entryId: string): Promise<void> {
      // Read, then set: FerretDB v1.24 does not apply $pull with a condition on the elements' fields.
      const recent = (await c.chats.findOne({ _id: id }))?.recent ?? [];
      const kept = recent.filter((entry) => entry.id !== entryId);
      if (kept.length < recent.length) await c.chats.updateOne({ _id: id }, { $set: { recent: kept } });
    },
  };
}

export type ChatStore = ReturnType<typeof createChatStore>;
