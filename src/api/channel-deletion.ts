import { addCounts, type ErasureCounts } from '../domain/erasure.js';
import type { Logger } from '../lib/logger.js';
import type { Stores } from '../stores/index.js';
import type { ChatErasure } from './chat-erasure.js';

export interface ChannelDeletionDeps {
  stores: Pick<Stores, 'erasure'>;
  /** Each chat is erased in its turn, as an end user's erasure is (src/api/chat-erasure.ts). */
  chatErasure: Pick<ChatErasure, 'eraseChat'>;
  logger: Logger;
  /** Chats (then messages) one step of a sweep looks at (default 100). */
  batchSize?: number;
  /**
   * When a deleted channel is swept again after its first sweep, in ms after it (default 15 s,
   * 2 min, 15 min, then every hour until it is done): for a chat whose message was still being
   * answered, and for the messages another API process accepted in the second its cache still
   * knew the channel. Empty: one sweep only.
   */
  retryDelaysMs?: readonly number[];
  /** A sweep that starts this long after the deletion (default 10 s) and finds nothing left marks it swept. */
  settleMs?: number;
}

export interface SweepResult {
  erased: ErasureCounts;
  /** Chats left because a message of theirs was still being answered. */
  busyChats: number;
}

/**
 * What a deleted channel had is deleted after it (issue 24): its chats, each with its messages and
 * every record of them, its line and its window of history (handoff pauses with it), and replies
 * waiting for it. The DELETE answers at once; this process then sweeps in the background, in
 * bounded batches, each chat in its turn (it waits for a message being answered, then its messages
 * after it find the chat gone). The sweep works from the channel's deletion mark
 * (`channel_deletions`, written before the channel was deleted) and from what is left, so a sweep
 * stopped anywhere (the process died) is taken up again by the next API process to start, and
 * repeating one deletes nothing twice.
 */
export function createChannelDeletion(deps: ChannelDeletionDeps) {
  const { erasure } = deps.stores;
  const batchSize = deps.batchSize ?? 100;
  const retryDelaysMs = deps.retryDelaysMs ?? [15_000, 120_000, 900_000, 3_600_000];
  const settleMs = deps.settleMs ?? 10_000;
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<unknown>>();
  let stopped = false;

  /** Erases each chat of `chatIds` for good; the ones still busy are skipped (returned in `busy`). */
  async function eraseChats(chatIds: readonly string[], result: SweepResult, busy: Set<string>): Promise<void> {
    for (const chatId of chatIds) {
      if (stopped) return;
      const done = await deps.chatErasure.eraseChat(chatId, { forGood: true });
      if ('busy' in done) busy.add(chatId);
      else addCounts(result.erased, done.erased);
    }
  }

  /** One sweep of the deleted channel `channelId`: everything of it that is not busy now. */
  async function sweep(channelId: string, now = (): Date => new Date()): Promise<SweepResult> {
    const result: SweepResult = { erased: {}, busyChats: 0 };
    const deletion = await erasure.channelDeletion(channelId);
    if (!deletion || deletion.swept_at) return result;
    const startedAt = now();
    const busy = new Set<string>();
    // Its chats, then the chats of its messages whose chat document is gone or was never written.
    // The busy ones are still there: each batch asks past them.
    for (const next of [
      () => erasure.chatsOfDeletedChannel(channelId, batchSize, [...busy]),
      () => erasure.chatsOfChannelMessages(channelId, batchSize, [...busy]),
    ]) {
      for (;;) {
        if (stopped) return result;
        const chatIds = await next();
        if (chatIds.length === 0) break;
        await eraseChats(chatIds, result, busy);
      }
    }
    addCounts(result.erased, await erasure.erasePausedDeliveries(channelId));
    result.busyChats = busy.size;
    if (busy.size === 0 && startedAt.getTime() - deletion.deleted_at.getTime() >= settleMs)
      await erasure.markChannelSwept(channelId, startedAt);
    return result;
  }

  /** Runs `sweep`, logging what it did; never throws (a failed sweep is retried on schedule or at the next start). */
  async function sweepLogged(channelId: string): Promise<SweepResult | undefined> {
    const run = sweep(channelId);
    running.add(run);
    try {
      const result = await run;
      deps.logger.info({ channelId, ...result }, 'deleted channel swept');
      return result;
    } catch (error) {
      deps.logger.warn({ err: error, channelId }, 'deleted channel: sweep failed; it is tried again');
      return undefined;
    } finally {
      running.delete(run);
    }
  }

  /**
   * Sweeps now, then again at each of the retry delays while the deletion is not marked swept, and
   * after the last one again at that delay until it is: a chat busy for long (a reply waiting for
   * its receiver's retries) never leaves the rest of the sweep to the next start of an API process.
   */
  function start(channelId: string, delays: readonly number[] = retryDelaysMs): void {
    if (stopped) return;
    void sweepLogged(channelId).then(async () => {
      const [delay, ...rest] = delays;
      if (delay === undefined || stopped) return;
      if ((await erasure.channelDeletion(channelId).catch(() => null))?.swept_at) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        start(channelId, rest.length > 0 ? rest : [delay]);
      }, delay);
      timer.unref();
      timers.add(timer);
    });
  }

  return {
    sweep,
    start,

    /** At the API's start: takes up every deletion whose sweep is not done (a process died, or gave up on a busy chat). */
    async resumePending(): Promise<number> {
      const pending = await erasure.pendingChannelDeletions();
      for (const deletion of pending) start(deletion._id);
      return pending.length;
    },

    /** Stops sweeping (what is left is taken up at the next start) and waits for the sweeps in progress. */
    async stop(): Promise<void> {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...running]);
    },
  };
}

export type ChannelDeletion = ReturnType<typeof createChannelDeletion>;
