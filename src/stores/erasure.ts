import type { DeleteResult, Filter } from 'mongodb';
import { addCounts, type ErasureCounts } from '../domain/erasure.js';
import { messageWorkflowId, operationalEventId, operationalEventWorkflowId } from '../domain/ids.js';
import type { ChannelDeletionDoc, ChatDoc, Collections, MessageDoc } from './collections.js';

/**
 * Deleting what chatrelay keeps about end users: a chat and everything of it (an erasure request),
 * or messages past the retention period. Every collection that holds a message's or a chat's data
 * is listed here, so nothing is forgotten; agents, channels and signing secrets are not end users'.
 *
 * Order makes a run that stops halfway safe to repeat: a message's records go before the message
 * document, and a chat's messages before the chat, so what is left still leads to what remains.
 * FerretDB v1 scans a collection on every delete and on any query other than by `_id`, which a
 * daily job and a rare erasure can afford; MongoDB uses the indexes listed in collections.ts.
 */

/** A message's place in the order of receipt (ms since the epoch, then id), where a scan goes on. */
export interface MessagePosition {
  at: number;
  id: string;
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `_id`s starting with one of `prefixes` followed by `:`: an anchored prefix, which MongoDB answers from the `_id` index. */
const idPrefixed = (prefixes: readonly string[]): Filter<{ _id: string }> => ({
  $or: prefixes.map((prefix) => ({ _id: { $regex: `^${escapeRegex(prefix)}:` } })),
});

export function createErasureStore(
  c: Collections,
  options: {
    /** Told the ids of every message deleted, once they are gone (the message store's cache forgets them). */
    onErased?: (messageIds: readonly string[]) => void;
  } = {},
) {
  /** Deletes the messages `ids` and every record of theirs: first the records, then the messages. */
  async function eraseMessages(ids: readonly string[]): Promise<ErasureCounts> {
    if (ids.length === 0) return {};
    const byMessage = { message_id: { $in: [...ids] } };
    // Each collection under its own name, so the counts say exactly where documents went.
    const deletes: Array<[string, Promise<DeleteResult>]> = [
      [c.transcripts.collectionName, c.transcripts.deleteMany({ _id: { $in: [...ids] } })],
      [c.replies.collectionName, c.replies.deleteMany({ _id: { $in: [...ids] } })],
      [c.speech.collectionName, c.speech.deleteMany(idPrefixed(ids))],
      [c.attempts.collectionName, c.attempts.deleteMany(byMessage)],
      [c.outcomes.collectionName, c.outcomes.deleteMany(byMessage)],
      [c.redeliveries.collectionName, c.redeliveries.deleteMany(byMessage)],
      [c.pausedDeliveries.collectionName, c.pausedDeliveries.deleteMany(byMessage)],
      [c.blobs.collectionName, c.blobs.deleteMany(byMessage)],
    ];
    const results = await Promise.all(deletes.map(([, deleted]) => deleted));
    const counts: ErasureCounts = {};
    deletes.forEach(([name], index) => (counts[name] = results[index]?.deletedCount ?? 0));
    counts.messages = (await c.messages.deleteMany({ _id: { $in: [...ids] } })).deletedCount;
    options.onErased?.(ids);
    return counts;
  }

  /**
   * Deletes the chat record with its recent history. Its line stays (src/chat-line/hold.ts
   * says who ends or cuts it): later messages and other processes' claims go by its places.
   */
  async function eraseChatDocuments(chatId: string): Promise<ErasureCounts> {
    return { chats: (await c.chats.deleteMany({ _id: chatId })).deletedCount };
  }

  /**
   * Every Temporal workflow that ran for the chat (before its place `beforePlace`, when given): the
   * workflows that held its places (messages, redeliveries, an admin's pause or resume), each
   * message's own, and the operational events about its messages that name the user (a failure, a
   * handoff). Read before the erasure deletes what leads to them; some may never have run (an event
   * not emitted), which their deletion takes as done.
   */
  async function workflowsOf(chatId: string, beforePlace?: number): Promise<string[]> {
    const before = beforePlace === undefined ? {} : { seq: { $lt: beforePlace } };
    const places = await c.lines.find({ chat_id: chatId, ...before }, { projection: { workflow_id: 1 } }).toArray();
    const messages = await c.messages
      .find(beforePlace === undefined ? { chat_id: chatId } : { chat_id: chatId, line_seq: { $lt: beforePlace } }, {
        projection: { _id: 1, workflow_id: 1 },
      })
      .toArray();
    const ids = new Set<string>();
    // A place held by an erasure or retention (in the API or a worker) names no workflow of Temporal's.
    for (const place of places) if (place.workflow_id.startsWith('chatrelay-')) ids.add(place.workflow_id);
    for (const message of messages) {
      ids.add(message.workflow_id || messageWorkflowId(message._id));
      for (const type of ['message.failed', 'chat.handoff_requested'])
        ids.add(operationalEventWorkflowId(operationalEventId(type, message._id)));
    }
    if (messages.length > 0) {
      const redeliveries = await c.redeliveries
        .find({ message_id: { $in: messages.map((message) => message._id) } }, { projection: { workflow_id: 1 } })
        .toArray();
      for (const redelivery of redeliveries) ids.add(redelivery.workflow_id);
    }
    return [...ids].sort();
  }

  return {
    eraseMessages,
    workflowsOf,

    /**
     * Erases one end user's chat and everything of it, `batchSize` messages at a time (each batch a
     * few deletes), then the chat itself. With `beforePlace` (the erasure's own place in the chat's
     * line), only the messages whose places come before it: those after it were sent after the
     * erasure was asked for. Safe to repeat; a chat that does not exist erases nothing.
     */
    async eraseChat(
      chatId: string,
      options: { batchSize?: number; beforePlace?: number; keepChat?: boolean } = {},
    ): Promise<ErasureCounts> {
      const batchSize = options.batchSize ?? 500;
      const counts: ErasureCounts = {};
      const ofChat: Filter<MessageDoc> =
        options.beforePlace === undefined
          ? { chat_id: chatId }
          : { chat_id: chatId, line_seq: { $lt: options.beforePlace } };
      for (;;) {
        const batch = await c.messages
          .find(ofChat, { projection: { _id: 1 } })
          .limit(batchSize)
          .toArray();
        if (batch.length === 0) break;
        addCounts(counts, await eraseMessages(batch.map((doc) => doc._id)));
      }
      return options.keepChat === true ? counts : addCounts(counts, await eraseChatDocuments(chatId));
    },

    /** The deleted channels not swept yet (src/api/channel-deletion.ts), oldest first. */
    async pendingChannelDeletions(): Promise<ChannelDeletionDoc[]> {
      return c.channelDeletions
        .find({ swept_at: { $exists: false } })
        .sort({ deleted_at: 1, _id: 1 })
        .toArray();
    },

    async channelDeletion(channelId: string): Promise<ChannelDeletionDoc | null> {
      return c.channelDeletions.findOne({ _id: channelId });
    },

    /** Nothing of the deleted channel was left at `at`. One writer: the sweep. */
    async markChannelSwept(channelId: string, at: Date): Promise<void> {
      await c.channelDeletions.updateOne({ _id: channelId }, { $set: { swept_at: at } });
    },

    /** Up to `limit` chats of a deleted channel, but those of `skip`. */
    async chatsOfDeletedChannel(channelId: string, limit: number, skip: readonly string[] = []): Promise<string[]> {
      const filter: Filter<ChatDoc> =
        skip.length > 0 ? { channel_id: channelId, _id: { $nin: [...skip] } } : { channel_id: channelId };
      const docs = await c.chats
        .find(filter, { projection: { _id: 1 } })
        .limit(limit)
        .toArray();
      return docs.map((doc) => doc._id);
    },

    /**
     * The chats of the end user `clientId` stored under the page id `pageId` (their latest turn
     * was there), of any channel, most recently active first: for an erasure by a page id that
     * no channel has now (src/api/chat-erasure.ts). The page_recent index serves the page.
     */
    async chatsOfPageClient(pageId: string, clientId: string): Promise<string[]> {
      const docs = await c.chats
        .find({ page_id: pageId, client_id: clientId }, { projection: { _id: 1 } })
        .sort({ last_seen_at: -1, _id: 1 })
        .toArray();
      return docs.map((doc) => doc._id);
    },

    /**
     * The chats of up to `limit` messages of a channel, but those of `skip` (for the messages whose
     * chat document was never written, or is gone).
     */
    async chatsOfChannelMessages(channelId: string, limit: number, skip: readonly string[] = []): Promise<string[]> {
      const filter: Filter<MessageDoc> =
        skip.length > 0 ? { channel_id: channelId, chat_id: { $nin: [...skip] } } : { channel_id: channelId };
      const docs = await c.messages
        .find(filter, { projection: { chat_id: 1 } })
        .limit(limit)
        .toArray();
      return [...new Set(docs.map((doc) => doc.chat_id))];
    },

    /** The replies of a deleted channel waiting for it to be resumed (a 410), whose messages are gone. */
    async erasePausedDeliveries(channelId: string): Promise<ErasureCounts> {
      const deleted = await c.pausedDeliveries.deleteMany({ channel_id: channelId });
      return { [c.pausedDeliveries.collectionName]: deleted.deletedCount };
    },

    /**
     * The messages received before `cutoff` that have finished, among the next `limit` such messages
     * after `after` (in order of receipt): finished means an outcome is stored. One still retrying or
     * paused is skipped, unless it was received before `abandonedBefore` (a workflow that will never
     * finish). `last` is where the next call goes on.
     */
    async expiredMessages(options: {
      cutoff: Date;
      abandonedBefore: Date;
      limit: number;
      after?: MessagePosition;
    }): Promise<{ ids: string[]; last?: MessagePosition }> {
      const { cutoff, abandonedBefore, limit, after } = options;
      const from: Filter<MessageDoc> = after
        ? {
            $or: [
              { received_at: { $gt: new Date(after.at) } },
              { received_at: new Date(after.at), _id: { $gt: after.id } },
            ],
          }
        : {};
      const candidates = await c.messages
        .find({ $and: [{ received_at: { $lt: cutoff } }, from] }, { projection: { _id: 1, received_at: 1 } })
        .sort({ received_at: 1, _id: 1 })
        .limit(limit)
        .toArray();
      const finished = await Promise.all(
        candidates.map(async (doc) => {
          if (doc.received_at < abandonedBefore) return true;
          return (await c.outcomes.findOne({ _id: doc._id }, { projection: { _id: 1 } })) !== null;
        }),
      );
      const lastDoc = candidates.at(-1);
      return {
        ids: candidates.filter((_, index) => finished[index]).map((doc) => doc._id),
        ...(lastDoc ? { last: { at: lastDoc.received_at.getTime(), id: lastDoc._id } } : {}),
      };
    },

    /**
     * Chats not seen since `cutoff` with none of their messages left, among the next `limit` such
     * chats after the chat id `after` (in id order); `last` is where the next call goes on.
     */
    async expiredChats(cutoff: Date, limit: number, after = ''): Promise<{ ids: string[]; last?: string }> {
      const candidates = await c.chats
        .find(
          {
            _id: { $gt: after },
            $or: [
              { last_seen_at: { $lt: cutoff } },
              { last_seen_at: { $exists: false }, first_seen_at: { $lt: cutoff } },
            ],
          },
          { projection: { _id: 1 } },
        )
        .sort({ _id: 1 })
        .limit(limit)
        .toArray();
      const empty = await Promise.all(
        candidates.map(
          async (doc) => (await c.messages.findOne({ chat_id: doc._id }, { projection: { _id: 1 } })) === null,
        ),
      );
      const last = candidates.at(-1)?._id;
      return {
        ids: candidates.filter((_, index) => empty[index]).map((doc) => doc._id),
        ...(last !== undefined ? { last } : {}),
      };
    },

    eraseChatDocuments,
  };
}

export type ErasureStore = ReturnType<typeof createErasureStore>;
