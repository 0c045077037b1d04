import { randomId } from '../lib/secrets.js';
import type { ChatLine } from './line.js';

/** Who holds a chat's turn when no workflow does: an erasure (API) or retention (worker). */
export type HoldKind = 'erasure' | 'retention';

export interface HoldOptions {
  kind: HoldKind;
  /** How long to wait for the chat's earlier places to end before giving up (0: only if the turn is there at once). */
  waitMs: number;
  /** How long the work may take: past this, with nobody left to end the place, a waiting message voids it. */
  holdMs: number;
  /** The pause between two reads of the line while waiting. */
  pollMs?: number;
}

export type Held<T> = { held: true; value: T } | { held: false; waitingFor: number };

/** What the work did with the place it held: end it (the next place goes), or cut the line there (retention). */
export interface HoldWork<T> {
  value: T;
  /** Retention: the line starts again after the place held, every place up to it deleted. */
  cut?: boolean;
}

/**
 * Runs `work` holding the chat's turn, as a workflow would: a place is claimed in the chat's line,
 * the work runs once every earlier place has ended, and no later place goes until it is done. So
 * an erasure never races a message being answered (which would write the chat back after it), and
 * the chat's later messages follow it at once. The place's holder is this process: should it die
 * while waiting or working, the place is voided `holdMs` after its claim by whoever waits behind it.
 * When the turn does not come within `waitMs`, the place is given up and nothing is done.
 */
export async function holdingChatTurn<T>(
  line: ChatLine,
  chatId: string,
  options: HoldOptions,
  work: (seq: number) => Promise<HoldWork<T>>,
): Promise<Held<T>> {
  const holdId = `${options.kind}-${randomId(10)}`;
  const seq = await line.claim(chatId, { messageId: '', workflowId: holdId, holdMs: options.holdMs });
  const deadline = Date.now() + options.waitMs;
  const pollMs = options.pollMs ?? 100;
  for (;;) {
    const turn = await line.turn(chatId, seq, holdId, true);
    if (turn.granted) break;
    if (Date.now() >= deadline) {
      await line.abandon(chatId, seq);
      return { held: false, waitingFor: turn.waitingFor };
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
  }
  let done: HoldWork<T>;
  try {
    done = await work(seq);
  } catch (error) {
    // Whatever the work did, it did in the turn: the next place may go (and a retry holds a new place).
    await line.end(chatId, seq, { turnHeld: true });
    throw error;
  }
  if (done.cut) await line.cut(chatId, seq);
  await line.end(chatId, seq, { turnHeld: true });
  return { held: true, value: done.value };
}
