import { messageWorkflowId } from '../domain/ids.js';
import { LruMap } from '../lib/lru.js';
import type { ChatLineStore, LineOwner } from '../stores/chat-lines.js';

/** What the line needs from Temporal: wake a waiting workflow, and tell whether one exists and runs. */
export interface LineWorkflows {
  /** Signals the workflow that its turn may have come; a workflow that does not exist (yet) or has ended is ignored. */
  wake(workflowId: string): Promise<void>;
  /** Whether the workflow runs, and the place it holds (from its memo) when it says. */
  status(workflowId: string): Promise<{ state: 'running' | 'closed' | 'missing'; lineSeq?: number }>;
}

export interface ChatLineOptions {
  lines: ChatLineStore;
  workflows: LineWorkflows;
  /**
   * A place whose workflow does not exist this long after it was claimed was abandoned (the API
   * died, or Temporal refused the start, between the claim and the start): it is voided. Longer
   * than the API's start deadline, so a start still in progress is never mistaken for one.
   */
  abandonedAfterMs?: number;
  /** Places remembered per process, so a claim usually needs one insert and no read. */
  hintEntries?: number;
  now?: () => number;
}

export type TurnState = { granted: true } | { granted: false; waitingFor: number };

/** The message holding the place after another's: a newer message of the same chat. */
export interface Successor {
  messageId: string;
  /** When its place was claimed (by the API, before it answered the platform). */
  claimedAt: Date;
}

/**
 * Per-chat order without a coordinator workflow. Each message claims a place in its chat's line
 * when it is accepted (before the API answers), and may generate and deliver once every earlier
 * place is finished or void. The owner of the turn records that it finished in the chat's head,
 * then wakes whoever registered to wait for it; a message that must wait registers, then reads
 * the head again. Whatever the interleaving, one of the two sees the other, so a turn is never
 * lost; a hand-over costs one signal, and a chat with one message in flight pays nothing.
 */
export function createChatLine(options: ChatLineOptions) {
  const { lines, workflows } = options;
  const abandonedAfterMs = options.abandonedAfterMs ?? 30_000;
  const now = options.now ?? Date.now;
  const hints = new LruMap<string, number>(options.hintEntries ?? 50_000);
  const remember = (chatId: string, seq: number): void => hints.set(chatId, Math.max(hints.get(chatId) ?? 0, seq));

  /** Wakes the workflow registered to wait for place `seq`, if any, and forgets it. */
  async function wakeWaiter(chatId: string, seq: number): Promise<void> {
    const waiting = await lines.waiter(chatId, seq);
    if (waiting === undefined) return;
    await workflows.wake(waiting);
    await lines.forgetWaiter(chatId, seq);
  }

  /** The nearest place before `seq` that is neither finished nor void, or 0 when there is none. */
  async function blockingPlace(chatId: string, seq: number): Promise<number> {
    if (seq === 1) return 0; // a chat's first place: nothing before it, and no need to read the head
    const done = await lines.done(chatId);
    for (let previous = seq - 1; previous > done; previous--) {
      if (!(await lines.isVoid(chatId, previous))) return previous;
    }
    return 0;
  }

  /**
   * Voids a place whose workflow ended without finishing it, never started, or runs holding
   * another place (its first POST claimed this one and the API died before the start; the
   * platform's retry started it with a later place): true when it did.
   */
  async function voidIfStuck(chatId: string, seq: number): Promise<boolean> {
    const slot = await lines.slot(chatId, seq);
    if (!slot) return false;
    const status = await workflows.status(slot.workflow_id);
    if (status.state === 'running' && (status.lineSeq === undefined || status.lineSeq === seq)) return false;
    if (status.state === 'missing' && now() - slot.created_at.getTime() < abandonedAfterMs) return false;
    await lines.markVoid(chatId, seq);
    return true;
  }

  return {
    /** Claims the chat's next place for a message (or redelivery) about to be started. */
    async claim(chatId: string, owner: LineOwner): Promise<number> {
      // A chat this process has not seen: look from where its line has finished.
      const after = hints.get(chatId) ?? (await lines.done(chatId));
      const seq = await lines.claim(chatId, after, owner);
      remember(chatId, seq);
      return seq;
    },

    /**
     * Whether place `seq` may go. When it may not, `workflowId` is registered to be woken when the
     * blocking place finishes. With `inspect`, a blocking place whose workflow ended without
     * finishing it (terminated by hand) or never started (long after its claim) is voided.
     */
    async turn(chatId: string, seq: number, workflowId: string, inspect = false): Promise<TurnState> {
      for (;;) {
        const blocking = await blockingPlace(chatId, seq);
        if (blocking === 0) return { granted: true };
        // The same message's own earlier place: its first POST claimed it, and the API died before
        // starting the workflow; the platform's retry started it with a later place. Never wait for oneself.
        if ((await lines.slot(chatId, blocking))?.workflow_id === workflowId) {
          await lines.markVoid(chatId, blocking);
          continue;
        }
        if (inspect && (await voidIfStuck(chatId, blocking))) continue;
        await lines.wait(chatId, blocking, workflowId);
        // Registered: should the blocking place have finished meanwhile, its owner may have looked
        // for a waiter before this registration; so look again now.
        if ((await blockingPlace(chatId, seq)) !== blocking) {
          await lines.forgetWaiter(chatId, blocking);
          continue;
        }
        return { granted: false, waitingFor: blocking };
      }
    },

    /** The owner of place `seq` finished: the next place may go. Safe to repeat. */
    async release(chatId: string, seq: number): Promise<void> {
      await lines.finish(chatId, seq);
      await wakeWaiter(chatId, seq);
    },

    /**
     * The newer message of the chat holding the place right after `seq`, if there is one at work:
     * a message (not an admin's redelivery), not the same message again (a platform's retry), not
     * a voided place, and whose workflow runs holding that place (a duplicate POST of an older
     * message claims a place before its start is refused; a start still in flight is not counted
     * yet: the message before it is then simply answered on its own). With `claimedBy`, only a
     * place claimed by then counts. Costs one read by `_id` when there is none, the usual case.
     */
    async successor(
      chatId: string,
      seq: number,
      messageId: string,
      options: { claimedBy?: Date } = {},
    ): Promise<Successor | undefined> {
      const next = seq + 1;
      const slot = await lines.slot(chatId, next);
      if (!slot || slot.message_id === messageId || slot.workflow_id !== messageWorkflowId(slot.message_id))
        return undefined;
      // Claimed too late to count (after a burst's window): no need to ask Temporal about it.
      if (options.claimedBy !== undefined && slot.created_at > options.claimedBy) return undefined;
      if (await lines.isVoid(chatId, next)) return undefined;
      const status = await workflows.status(slot.workflow_id);
      if (status.state !== 'running' || (status.lineSeq !== undefined && status.lineSeq !== next)) return undefined;
      return { messageId: slot.message_id, claimedAt: slot.created_at };
    },

    /** Place `seq` will never have an owner at work (a duplicate POST): whoever waits for it may go. */
    async abandon(chatId: string, seq: number): Promise<void> {
      await lines.markVoid(chatId, seq);
      await wakeWaiter(chatId, seq);
    },
  };
}

export type ChatLine = ReturnType<typeof createChatLine>;
export type { LineOwner };
