import { Context } from '@temporalio/activity';
import type { ChatLine } from '../chat-line/line.js';
import { holdingChatTurn } from '../chat-line/hold.js';
import type { Stores } from '../stores/index.js';
import { addCounts, DAY_MS, type ErasureCounts } from '../domain/erasure.js';
import type { MessagePosition } from '../stores/erasure.js';

export interface RetentionBatchInput {
  /** Messages received before this (ms since the epoch) are past the retention period. */
  cutoffMs: number;
  /** Unfinished messages received before this are deleted too: their workflows will never end. */
  abandonedBeforeMs: number;
  /** How many messages (then chats) one batch looks at. */
  batchSize: number;
  /** Where the scan of messages goes on; absent at the start. */
  messagesAfter?: MessagePosition;
  /** Set once every message was looked at: the scan of chats goes on after this chat id ('' at its start). */
  chatsAfter?: string;
  /** Set once every chat was looked at: the pruning of cut lines goes on after this chat id. */
  floorsAfter?: string;
}

export interface RetentionBatchResult {
  counts: ErasureCounts;
  /** The next batch's position; absent when the run is done. */
  next?: Pick<RetentionBatchInput, 'messagesAfter' | 'chatsAfter' | 'floorsAfter'>;
}

/** Tells Temporal the batch is alive and how far it got, between deletes that may each take a while. */
const progress = (step: string): void => Context.current().heartbeat(step);

/**
 * The retention job's one step (src/workflows/retention.ts): one bounded batch of deletes, then
 * where to go on. Messages first (each with all its records), then chats left without messages and
 * not seen since the cutoff. Safe to repeat: a repeated batch finds less to delete.
 */
export function createRetentionActivities(deps: { stores: Pick<Stores, 'erasure' | 'lines'>; line: ChatLine }) {
  const { erasure, lines } = deps.stores;

  /**
   * The lines cut a day ago or more: their places up to the floor deleted. A day, because a claim
   * that read no floor (or an older one) just before the cut may still be walking past those
   * places (src/chat-line/store.ts, setFloor); claims take milliseconds.
   */
  async function pruneLines(after: string, batchSize: number): Promise<RetentionBatchResult> {
    progress('lines');
    const floors = await lines.floorsToPrune(new Date(Date.now() - DAY_MS), batchSize, after);
    const counts: ErasureCounts = {};
    for (const { chatId, floor } of floors) {
      const pruned = await lines.prune(chatId, floor);
      addCounts(counts, { chat_lines: pruned.places, chat_line_ends: pruned.ends });
    }
    const last = floors.at(-1)?.chatId;
    return { counts, ...(floors.length === batchSize && last !== undefined ? { next: { floorsAfter: last } } : {}) };
  }

  return {
    async retentionBatch(input: RetentionBatchInput): Promise<RetentionBatchResult> {
      const cutoff = new Date(input.cutoffMs);
      if (input.floorsAfter !== undefined) return pruneLines(input.floorsAfter, input.batchSize);
      if (input.chatsAfter === undefined) {
        progress('messages');
        const { ids, last } = await erasure.expiredMessages({
          cutoff,
          abandonedBefore: new Date(input.abandonedBeforeMs),
          limit: input.batchSize,
          ...(input.messagesAfter ? { after: input.messagesAfter } : {}),
        });
        progress(`erasing ${ids.length} messages`);
        const counts = await erasure.eraseMessages(ids);
        return { counts, next: last ? { messagesAfter: last } : { chatsAfter: '' } };
      }
      progress('chats');
      const chats = await erasure.expiredChats(cutoff, input.batchSize, input.chatsAfter);
      const counts: ErasureCounts = {};
      for (const chatId of chats.ids) {
        progress(`erasing chat ${chatId}`);
        // In the chat's turn, taken only if it is there at once (a quiet chat's usually is; one with a
        // message at work is left for the next run): nothing of the chat is deleted under a message,
        // and its line is cut, so it starts again after the place retention held.
        const held = await holdingChatTurn(
          deps.line,
          chatId,
          { kind: 'retention', waitMs: 0, holdMs: 10 * 60_000 },
          async () => ({ value: await erasure.eraseChatDocuments(chatId), cut: true }),
        );
        if (held.held) addCounts(counts, held.value);
      }
      return { counts, next: chats.last !== undefined ? { chatsAfter: chats.last } : { floorsAfter: '' } };
    },
  };
}

export type RetentionActivities = ReturnType<typeof createRetentionActivities>;
