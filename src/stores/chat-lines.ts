import { lineSlotId } from '../domain/ids.js';
import { insertOnce, isDuplicateKey, type Collections, type LineSlotDoc } from './collections.js';

/** Who holds a place in a chat's line: a message workflow, or an admin's redelivery of one. */
export interface LineOwner {
  messageId: string;
  workflowId: string;
}

/** After this many places found taken in a row, the claim looks for the end of the line by reads. */
const LINEAR_PROBES = 4;

/**
 * Each chat's line: the order in which its messages are answered, kept in four small collections.
 *
 * - `chat_lines`: place `n` of chat `c` is the document `_id: "c:n"`, claimed by inserting it,
 *   which is atomic on every server we support (FerretDB included, unlike `$inc` or a conditional
 *   update). Claims take the first free place from a point at or before the end of the line, so
 *   the places taken are always 1..N with no gap, and a message accepted after another finished
 *   its claim gets a later place. Written once; read only to look into a stuck line.
 * - `chat_line_heads`: one document per chat, `done`: the last place whose owner finished. Only
 *   the owner whose turn it is writes it, so it never has two writers.
 * - `chat_line_waiters`: a message that must wait registers under the place it waits for; the
 *   owner of that place wakes it when it finishes, and removes the registration.
 * - `chat_line_voids`: places that will never have an owner at work (a duplicate POST, a start
 *   that never happened, a workflow terminated by hand).
 *
 * Nothing read on a message's way grows with the number of messages: heads grow with chats,
 * waiters and voids stay few (see collections.ts for why that matters on FerretDB).
 */
export function createChatLineStore(c: Collections) {
  const exists = async (chatId: string, seq: number): Promise<boolean> =>
    (await c.lines.findOne({ _id: lineSlotId(chatId, seq) }, { projection: { _id: 1 } })) !== null;

  /** The first free place after `from`, a place known to be taken (or 0), found by doubling and then halving reads. */
  async function firstFreeAfter(chatId: string, from: number): Promise<number> {
    let low = from;
    let step = 1;
    let high = from + step;
    while (await exists(chatId, high)) {
      low = high;
      step *= 2;
      high = from + step;
    }
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (await exists(chatId, middle)) low = middle;
      else high = middle;
    }
    return high;
  }

  return {
    /**
     * Claims the next place in the chat's line, starting the search after `after` (the last place
     * known to be taken, or the line's finished head). Returns the place claimed.
     */
    async claim(chatId: string, after: number, owner: LineOwner, now = new Date()): Promise<number> {
      let seq = Math.max(1, after + 1);
      for (let probes = 0; ; probes++) {
        if (probes === LINEAR_PROBES) seq = await firstFreeAfter(chatId, seq - 1);
        try {
          await c.lines.insertOne({
            _id: lineSlotId(chatId, seq),
            chat_id: chatId,
            seq,
            message_id: owner.messageId,
            workflow_id: owner.workflowId,
            created_at: now,
          });
          return seq;
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
          seq += 1;
        }
      }
    },
    /** The last place taken in the chat's line (0: none), found by lookups by `_id` from its head. */
    async lastTaken(chatId: string): Promise<number> {
      const head = (await c.lineHeads.findOne({ _id: chatId }))?.done ?? 0;
      return (await firstFreeAfter(chatId, head)) - 1;
    },
    slot(chatId: string, seq: number): Promise<LineSlotDoc | null> {
      return c.lines.findOne({ _id: lineSlotId(chatId, seq) });
    },

    /** The last place of the chat whose owner finished (0: none yet). */
    async done(chatId: string): Promise<number> {
      return (await c.lineHeads.findOne({ _id: chatId }))?.done ?? 0;
    },
    /** Records that the owner of place `seq` finished; only that owner calls it, in its turn. */
    async finish(chatId: string, seq: number, now = new Date()): Promise<void> {
      await c.lineHeads.updateOne({ _id: chatId }, { $max: { done: seq }, $set: { at: now } }, { upsert: true });
    },

    async isVoid(chatId: string, seq: number): Promise<boolean> {
      return (await c.lineVoids.findOne({ _id: lineSlotId(chatId, seq) })) !== null;
    },
    async markVoid(chatId: string, seq: number, now = new Date()): Promise<void> {
      await insertOnce(c.lineVoids, { _id: lineSlotId(chatId, seq), at: now });
    },

    /** Registers `workflowId` to be woken when the owner of place `seq` finishes (or the place is voided); the latest registration stands. */
    async wait(chatId: string, seq: number, workflowId: string, now = new Date()): Promise<void> {
      await c.lineWaiters.replaceOne(
        { _id: lineSlotId(chatId, seq) },
        { workflow_id: workflowId, at: now },
        { upsert: true },
      );
    },
    async waiter(chatId: string, seq: number): Promise<string | undefined> {
      return (await c.lineWaiters.findOne({ _id: lineSlotId(chatId, seq) }))?.workflow_id;
    },
    async forgetWaiter(chatId: string, seq: number): Promise<void> {
      await c.lineWaiters.deleteOne({ _id: lineSlotId(chatId, seq) });
    },
  };
}

export type ChatLineStore = ReturnType<typeof createChatLineStore>;
