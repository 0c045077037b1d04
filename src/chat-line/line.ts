import { messageWorkflowId } from '../domain/ids.js';
import { LruMap } from '../lib/caches.js';
import type { ChatLineStore, LineEnd, LineOwner } from './store.js';
import type { LineSlotDoc } from '../stores/collections.js';

/** What the line needs from Temporal: a hint to a workflow that its turn may have come, and whether one runs. */
export interface LineWorkflows {
  /** Signals the workflow to check its turn; a workflow that does not exist (yet) or has ended is ignored. */
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
  /**
   * How long a remembered place is trusted. Retention cuts only lines quiet for a day or more
   * (src/workflows/retention.ts), so a hint younger than this never points below a cut.
   */
  hintTtlMs?: number;
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
 * when it is accepted (before the API answers); it may go once every earlier place has ended.
 *
 * The invariants, each resting on a unique `_id` insert and never on an update:
 * - Places are a gap-free run: a claim inserts the first free number after one known taken.
 * - A place ends once (an insert into `chat_line_ends`): `finished` only by its owner while it
 *   holds the turn, `void` only when it is known that no owner is at work on it.
 * - The turn of place n: walking back from n-1, the first place that is not void is finished (or
 *   there is none). Since a finished place held the turn, every place before it had ended; ends
 *   are never undone, so a turn once granted stays granted until its owner ends the place, and two
 *   places never hold the turn at once.
 * - A signal is a hint to look again, never a grant: whoever ends a place signals the next place
 *   not yet ended, and a waiting workflow also looks by itself now and then (src/chat-line/wait.ts).
 * A turn costs one read (the place before, finished) in the usual case; a chat's first place, none.
 */
export function createChatLine(options: ChatLineOptions) {
  const { lines, workflows } = options;
  const abandonedAfterMs = options.abandonedAfterMs ?? 30_000;
  const hintTtlMs = options.hintTtlMs ?? 60 * 60_000;
  const now = options.now ?? Date.now;
  const hints = new LruMap<string, { seq: number; at: number }>(options.hintEntries ?? 50_000);
  const remember = (chatId: string, seq: number): void => {
    const known = hints.get(chatId);
    hints.set(chatId, { seq: Math.max(known?.seq ?? 0, seq), at: now() });
  };
  const hinted = (chatId: string): number | undefined => {
    const known = hints.get(chatId);
    return known !== undefined && now() - known.at < hintTtlMs ? known.seq : undefined;
  };

  /** The nearest place before `seq` that has not ended, with its slot; undefined when there is none (the turn is there). */
  async function blockingPlace(chatId: string, seq: number): Promise<{ seq: number; slot: LineSlotDoc } | undefined> {
    for (let previous = seq - 1; previous >= 1; previous--) {
      const end = await lines.end(chatId, previous);
      if (end === 'finished') return undefined;
      if (end === 'void') continue;
      const slot = await lines.slot(chatId, previous);
      // No place there: retention cut the line (every place up to its floor had ended).
      if (!slot) return undefined;
      return { seq: previous, slot };
    }
    return undefined;
  }

  /** Signals the owner of the first place after `seq` that has not ended, if there is one: its turn may have come. */
  async function wakeNext(chatId: string, seq: number): Promise<void> {
    for (let next = seq + 1; ; next++) {
      const slot = await lines.slot(chatId, next);
      if (!slot) return;
      if ((await lines.end(chatId, next)) === undefined) {
        if (slot.workflow_id !== '') await workflows.wake(slot.workflow_id);
        return;
      }
    }
  }

  /**
   * Voids a place known to have nobody at work: its workflow ended without ending it (terminated
   * by hand), never started (long after its claim), or runs holding another place (its first POST
   * claimed this one and the API died before the start; the platform's retry started it with a
   * later place). True when the place has ended now, however.
   */
  async function voidIfStuck(chatId: string, seq: number, slot: LineSlotDoc): Promise<boolean> {
    const status = await workflows.status(slot.workflow_id);
    if (status.state === 'running' && (status.lineSeq === undefined || status.lineSeq === seq)) return false;
    if (status.state === 'missing' && now() - slot.created_at.getTime() < (slot.hold_ms ?? abandonedAfterMs))
      return false;
    await lines.markEnded(chatId, seq, 'void');
    return true;
  }

  async function claimAfter(chatId: string, after: number, owner: LineOwner): Promise<number> {
    const seq = await lines.claim(chatId, after, owner);
    remember(chatId, seq);
    return seq;
  }

  return {
    /** Claims the chat's next place for a message (or a redelivery, a chat control, an erasure) about to start. */
    async claim(chatId: string, owner: LineOwner): Promise<number> {
      const known = hinted(chatId);
      if (known !== undefined) return claimAfter(chatId, known, owner);
      // A chat this process has not seen lately: from the line's floor (retention deletes the places
      // below a floor only a day after setting it, so a claim never lands among deleted places).
      return claimAfter(chatId, await lines.floor(chatId), owner);
    },

    /**
     * Whether place `seq` holds the chat's turn (every earlier place has ended). With `inspect`, a
     * blocking place known to have nobody at work is voided on the way (see voidIfStuck). Reads only.
     */
    async turn(chatId: string, seq: number, workflowId: string, inspect = false): Promise<TurnState> {
      for (;;) {
        const blocking = await blockingPlace(chatId, seq);
        if (blocking === undefined) return { granted: true };
        // The same workflow's own earlier place: its first POST claimed it, and the API died before
        // starting the workflow; the platform's retry started it with a later place. Never wait for oneself.
        if (blocking.slot.workflow_id === workflowId) {
          await lines.markEnded(chatId, blocking.seq, 'void');
          continue;
        }
        if (inspect && (await voidIfStuck(chatId, blocking.seq, blocking.slot))) continue;
        return { granted: false, waitingFor: blocking.seq };
      }
    },

    /**
     * Ends place `seq` as its owner leaves the line: `finished` when it holds the turn (`turnHeld`:
     * the caller knows it from a check of the stored line; otherwise the line is read), `void`
     * when it never got it (a message refused or failed while earlier ones were at work). Then the
     * next place is told to look. Safe to repeat: the first end recorded stands.
     */
    async end(chatId: string, seq: number, options: { turnHeld?: boolean } = {}): Promise<LineEnd> {
      const held = options.turnHeld === true || (await blockingPlace(chatId, seq)) === undefined;
      const ended = await lines.markEnded(chatId, seq, held ? 'finished' : 'void');
      await wakeNext(chatId, seq);
      return ended;
    },

    /** Retention, holding the turn at place `seq`: the line starts again after it (its places pruned later). */
    async cut(chatId: string, seq: number): Promise<void> {
      await lines.setFloor(chatId, seq);
    },

    /** Place `seq` will never have an owner at work (a duplicate POST's, a hold given up): the next may go. */
    async abandon(chatId: string, seq: number): Promise<void> {
      await lines.markEnded(chatId, seq, 'void');
      await wakeNext(chatId, seq);
    },

    /**
     * The newer message of the chat holding the place right after `seq`, if there is one at work:
     * a message (not an admin's redelivery), not the same message again (a platform's retry), not
     * an ended place, and whose workflow runs holding that place (a duplicate POST of an older
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
      if ((await lines.end(chatId, next)) !== undefined) return undefined;
      const status = await workflows.status(slot.workflow_id);
      if (status.state !== 'running' || (status.lineSeq !== undefined && status.lineSeq !== next)) return undefined;
      return { messageId: slot.message_id, claimedAt: slot.created_at };
    },
  };
}

export type ChatLine = ReturnType<typeof createChatLine>;
export type { LineOwner };
