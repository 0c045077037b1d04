import { historyEntryId } from '../domain/ids.js';
import type { ActivityDeps } from './deps.js';

/** A message of a chat, by its place in the chat's line. */
export interface PlacedMessage {
  messageId: string;
  chatId: string;
  lineSeq: number;
}

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
   * The newer message of the chat, when it will answer: admitted with its channel's settings (not
   * refused at admission) and not ended. One that will not (refused, or failed before this check)
   * would leave this message answered by nobody; this one is then answered on its own.
   */
  async function answeringSuccessor(
    message: PlacedMessage,
    options: { claimedBy?: Date } = {},
  ): Promise<string | undefined> {
    const next = await line.successor(message.chatId, message.lineSeq, message.messageId, options);
    if (!next) return undefined;
    const [record, outcome] = await Promise.all([
      stores.messages.get(next.messageId),
      stores.messages.outcome(next.messageId),
    ]);
    return record?.snapshot !== undefined && outcome === null ? next.messageId : undefined;
  }

  /**
   * The later message this one is absorbed into: one arrived within `windowSeconds` of this one's
   * receipt. A step run before (a retry, or a local activity re-run from attempt 1) keeps what
   * that run decided, read from what it stored: its outcome (coalesced into a message, or
   * answered), or its reply, in the reply records or in the chat's window (it was not absorbed).
   */
  async function absorbedInto(message: PlacedMessage & { receivedAt: string }, windowSeconds: number) {
    const { messageId } = message;
    const [outcome, reply, chat] = await Promise.all([
      stores.messages.outcome(messageId),
      stores.messages.reply(messageId),
      stores.chats.get(message.chatId),
    ]);
    if (outcome) return outcome.status === 'coalesced' ? outcome.answered_by : undefined;
    const assistant = historyEntryId(messageId, 'assistant');
    if (reply || chat?.recent?.some((entry) => entry.id === assistant)) return undefined;
    const windowEnd = new Date(Date.parse(message.receivedAt) + windowSeconds * 1000);
    return answeringSuccessor(message, { claimedBy: windowEnd });
  }

  /**
   * Drops the message's reply when a newer message of its chat is there, before any part went
   * out: returns the newer message's id, having taken the reply out of the chat's history.
   * `ranBefore`: the step may have run before (its reply was stored then), and what it stored
   * decides: an attempt made delivers on (never half a reply); an outcome stored keeps its
   * verdict and writes nothing (the window is the next message's once the turn is handed on).
   */
  async function dropIfStale(message: PlacedMessage, run: { ranBefore: boolean }): Promise<string | undefined> {
    const { messageId, chatId } = message;
    if (run.ranBefore) {
      const [attempt, outcome] = await Promise.all([
        stores.messages.attempt({ messageId, partIndex: 0, attempt: 1 }),
        stores.messages.outcome(messageId),
      ]);
      if (attempt) return undefined;
      if (outcome) return outcome.status === 'superseded' ? outcome.answered_by : undefined;
    }
    const next = await answeringSuccessor(message);
    if (next === undefined) return undefined;
    await stores.chats.dropEntry(chatId, historyEntryId(messageId, 'assistant'));
    return next;
  }

  return {
    absorbedInto,
    dropIfStale,
    activities: {
      /** The stale-reply check of a reply whose parts the workflow delivers (after a reply delay, or speech). */
      async dropStaleReply(input: PlacedMessage): Promise<{ supersededBy?: string }> {
        // Its own step, after a delay or speech: it may have run before, with parts sent after it.
        const supersededBy = await dropIfStale(input, { ranBefore: true });
        return supersededBy !== undefined ? { supersededBy } : {};
      },
    },
  };
}

export type Burst = ReturnType<typeof createBurst>;
