import { stableId } from '../lib/secrets.js';
import { isDuplicateKey, type Collections } from './collections.js';

/** A chat is one end user on one channel page: (page_id, client_id). */
export const chatIdFor = (pageId: string, clientId: string): string => `cht_${stableId('chat', pageId, clientId)}`;

export interface ChatSighting {
  pageId: string;
  clientId: string;
  platform: string;
  clientName?: string;
  clientAvatar?: string;
  seenAt: Date;
}

export function createChatStore(c: Collections) {
  return {
    /** Creates the chat on first sight and refreshes what the platform tells us; safe to repeat. */
    async upsert(sighting: ChatSighting): Promise<string> {
      const id = chatIdFor(sighting.pageId, sighting.clientId);
      const set: Record<string, unknown> = { platform: sighting.platform };
      if (sighting.clientName !== undefined) set.client_name = sighting.clientName;
      if (sighting.clientAvatar !== undefined) set.client_avatar = sighting.clientAvatar;
      const update = () =>
        c.chats.updateOne(
          { _id: id },
          {
            $set: set,
            // $max/$min keep the fields right when a retry or an older message arrives late.
            $max: { last_seen_at: sighting.seenAt },
            $min: { first_seen_at: sighting.seenAt },
            $setOnInsert: { page_id: sighting.pageId, client_id: sighting.clientId, history_seq: 0 },
          },
          { upsert: true },
        );
      try {
        await update();
      } catch (error) {
        // Two first messages of a chat at once: both upserts insert, one loses on _id. The chat
        // exists now, so the same update simply applies to it.
        if (!isDuplicateKey(error)) throw error;
        await update();
      }
      return id;
    },
    async get(id: string) {
      return c.chats.findOne({ _id: id });
    },
  };
}

export type ChatStore = ReturnType<typeof createChatStore>;
