import { Context } from '@temporalio/activity';
import { historyEntryId } from '../domain/ids.js';
import type { ActivityDeps } from './deps.js';

/** A message of a chat, by its place in the chat's line. */
export interface PlacedMessage {
  messageId: string;
  chatId: string;
  lineSeq: number;
}

/** Whether this run of the activity is a retry (an earlier run may have done part of the work). */
const isRetry = (): boolean => Context.current().info.attempt > 1;

/**
 * The two ways a newer message of the same chat changes how an earlier one is answered, both
 * decided by the earlier message in its turn (so never two at once in a chat), from the chat's
 * line: the place after its own, read by `_id`.
 *
 * - Burst coalescing: a message whose successor arrived within the channel's window (counted from
 *   its own receipt, and looked at once the window is over) is not answered on its own; it goes
 *   into the history, and the successor's reply answers both.
 * - Stale replies: a reply whose first part has not gone out when a newer message is there is
 *   dropped (and taken out of the history the newer message's model reads; the user's message
 *   stays); the newer message's reply answers both.
 */
export function createBurst(deps: ActivityDeps) {
  const { stores, line } = deps;

  /**
   * The later message this one is absorbed into: one arrived within `windowSeconds` of this one's
   * receipt. A retried step whose first run wrote the reply answers on (it was not absorbed).
   */
  async function absorbedInto(message: PlacedMessage & { receivedAt: string }, windowSeconds: number) {
    if (isRetry() && (await stores.messages.reply(message.messageId))) return undefined;
    const windowEnd = new Date(Date.parse(message.receivedAt) + windowSeconds * 1000);
    const next = await line.successor(message.chatId, message.lineSeq, message.messageId, { claimedBy: windowEnd });
    return next?.messageId;
  }

  /**
   * Drops the message's reply when a newer message of its chat is there, before any part went
   * out: returns the newer message's id, having taken the reply out of the chat's history.
   * A retried step whose first run made an attempt already delivers on: never half a reply.
   */
  async function dropIfStale(message: PlacedMessage): Promise<string | undefined> {
    const { messageId, chatId } = message;
    if (isRetry() && (await stores.messages.attempt({ messageId, partIndex: 0, attempt: 1 }))) return undefined;
    const next = await line.successor(chatId, message.lineSeq, messageId);
    if (!next) return undefined;
    await stores.chats.dropEntry(chatId, historyEntryId(messageId, 'assistant'));
    return next.messageId;
  }

  return {
    absorbedInto,
    dropIfStale,
    activities: {
      /** The stale-reply check of a reply whose parts the workflow delivers (after a reply delay, or speech). */
      async dropStaleReply(input: PlacedMessage): Promise<{ supersededBy?: string }> {
        const supersededBy = await dropIfStale(input);
        return supersededBy !== undefined ? { supersededBy } : {};
      },
    },
  };
}

export type Burst = ReturnType<typeof createBurst>;
