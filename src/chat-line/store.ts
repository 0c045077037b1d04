import type { Db } from 'mongodb';
import { lineSlotId } from '../domain/ids.js';
import {
  insertOnce,
  isDuplicateKey,
  type Collections,
  type LegacyLineDoc,
  type LineEndDoc,
  type LineSlotDoc,
} from '../stores/collections.js';

/** Who holds a place in a chat's line: a workflow, or a process at work on the chat (erasure, retention). */
export interface LineOwner {
  messageId: string;
  workflowId: string;
  /** For a process's hold: how long it may be at work before its place counts as abandoned. */
  holdMs?: number;
}

export type LineEnd = LineEndDoc['kind'];

/** After this many places found taken in a row, the claim looks for the end of the line by reads. */
const LINEAR_PROBES = 4;

/**
 * Each chat's line: the order in which its messages are answered, kept in three collections whose
 * documents are each written once, by one writer (FerretDB loses one of two concurrent updates of a
 * document, and a conditional update can have several winners; a unique `_id` insert cannot).
 *
 * - `chat_lines`: place `n` of chat `c` is the document `_id: "c:n"`, claimed by inserting it.
 *   Claims take the first free place from a point at or before the end of the line, so the places
 *   taken are always a gap-free run (floor+1)..N, and a message accepted after another's claim
 *   returned gets a later place. Written once, by the claim; erasure blanks the message ids of
 *   places that have ended (the erasure holding the chat's turn is their one writer then).
 * - `chat_line_ends`: how place `n` ended, inserted once (see LineEndDoc): `finished` by the owner
 *   holding the turn, `void` for a place never at work. Two who would end the same place (a
 *   finisher and an inspector that found its workflow closed) race on an insert: one wins, and
 *   either outcome lets the places after it go.
 * - `chat_line_floors`: where the line starts again once retention deleted its ended places.
 *
 * Nothing read on a message's way grows with the number of messages: a turn is one read of the
 * place before it in the usual case (see src/chat-line/line.ts).
 */
export function createChatLineStore(c: Collections) {
  const exists = async (chatId: string, seq: number): Promise<boolean> =>
    (await c.lines.findOne({ _id: lineSlotId(chatId, seq) }, { projection: { _id: 1 } })) !== null;

  /** The first free place after `from`, a place known to be taken (or the floor), found by doubling and then halving reads. */
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

  async function floor(chatId: string): Promise<number> {
    return (await c.lineFloors.findOne({ _id: chatId }))?.floor ?? 0;
  }

  return {
    /**
     * Claims the next place in the chat's line, starting the search after `after` (a place known
     * to be taken, or the line's floor). Returns the place claimed.
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
            ...(owner.holdMs !== undefined ? { hold_ms: owner.holdMs } : {}),
          });
          return seq;
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
          seq += 1;
        }
      }
    },
    /** Where the line starts: every place up to it had ended and was deleted by retention (0: none). */
    floor,
    /** The last place taken in the chat's line (the floor when none is left), found by lookups by `_id`. */
    async lastTaken(chatId: string, from?: number): Promise<number> {
      return (await firstFreeAfter(chatId, from ?? (await floor(chatId)))) - 1;
    },
    slot(chatId: string, seq: number): Promise<LineSlotDoc | null> {
      return c.lines.findOne({ _id: lineSlotId(chatId, seq) });
    },

    /** How place `seq` ended, or undefined while it has not. */
    async end(chatId: string, seq: number): Promise<LineEnd | undefined> {
      return (await c.lineEnds.findOne({ _id: lineSlotId(chatId, seq) }))?.kind;
    },
    /** Ends place `seq` (see LineEndDoc for who may say `finished`); the first end recorded stands, and is returned. */
    async markEnded(chatId: string, seq: number, kind: LineEnd, now = new Date()): Promise<LineEnd> {
      if (await insertOnce(c.lineEnds, { _id: lineSlotId(chatId, seq), chat_id: chatId, seq, kind, at: now }))
        return kind;
      return (await this.end(chatId, seq)) ?? kind;
    },

    /**
     * Erasure, holding the chat's turn at place `upTo`: the places before it keep their number
     * and how they ended (later messages and other processes' claims go by them) but no longer
     * name the end user's messages. One update; the erasure is the only writer of ended places.
     */
    async blank(chatId: string, upTo: number): Promise<number> {
      const result = await c.lines.updateMany(
        { chat_id: chatId, seq: { $lt: upTo } },
        { $set: { message_id: '', workflow_id: '' } },
      );
      return result.modifiedCount;
    },

    /**
     * Retention, holding the chat's turn at place `upTo`: the line starts again after it. Nothing
     * is deleted yet: a claim that read no floor (or an older one) a moment ago walks on past the
     * places still there and lands after `upTo`, never among them. `prune` deletes them a day later.
     */
    async setFloor(chatId: string, upTo: number, now = new Date()): Promise<void> {
      await c.lineFloors.replaceOne({ _id: chatId }, { floor: upTo, at: now, pruned: false }, { upsert: true });
    },
    /** Floors set before `before` whose places are still there, after the chat id `after`, in id order. */
    async floorsToPrune(before: Date, limit: number, after = ''): Promise<Array<{ chatId: string; floor: number }>> {
      const floors = await c.lineFloors
        .find({ _id: { $gt: after }, pruned: false, at: { $lt: before } })
        .sort({ _id: 1 })
        .limit(limit)
        .toArray();
      return floors.map((doc) => ({ chatId: doc._id, floor: doc.floor }));
    },
    /**
     * Deletes the places (and their ends) up to a floor set long enough ago that no claim can still
     * be on its way among them; the floor stays, where a claim that knows nothing of the chat starts.
     */
    async prune(chatId: string, floor: number): Promise<{ places: number; ends: number }> {
      const upToFloor = { chat_id: chatId, seq: { $lte: floor } };
      const [places, ends] = await Promise.all([c.lines.deleteMany(upToFloor), c.lineEnds.deleteMany(upToFloor)]);
      // One writer (retention); a floor moved up meanwhile is pruned by a later run.
      await c.lineFloors.updateOne({ _id: chatId, floor }, { $set: { pruned: true } });
      return { places: places.deletedCount, ends: ends.deletedCount };
    },

    /** Erasure of the line itself (tests, and a chat deleted with its channel): every document of it. */
    async drop(chatId: string): Promise<Record<string, number>> {
      const prefix = { _id: { $regex: `^${escapeRegex(chatId)}:` } };
      const [places, ends, floors] = await Promise.all([
        c.lines.deleteMany(prefix),
        c.lineEnds.deleteMany(prefix),
        c.lineFloors.deleteMany({ _id: chatId }),
      ]);
      return {
        chat_lines: places.deletedCount,
        chat_line_ends: ends.deletedCount,
        chat_line_floors: floors.deletedCount,
      };
    },
  };
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Moves a line kept the first way (a head per chat, voids, waiters) to ends, once, at start-up:
 * a head's `done` becomes that place's `finished` end (every place before it had ended), a void
 * stays void, waiters go (a waiting workflow checks its turn by itself). Then the old collections
 * are dropped, so the next start finds nothing to move.
 */
export async function migrateLegacyLines(db: Db, c: Collections): Promise<number> {
  let moved = 0;
  const at = new Date();
  for await (const head of db.collection<LegacyLineDoc>('chat_line_heads').find({})) {
    if (head.done !== undefined && head.done > 0) {
      const seq = head.done;
      await insertOnce(c.lineEnds, {
        _id: lineSlotId(head._id, seq),
        chat_id: head._id,
        seq,
        kind: 'finished' as const,
        at,
      });
      moved += 1;
    }
  }
  for await (const voided of db.collection<LegacyLineDoc>('chat_line_voids').find({})) {
    const split = voided._id.lastIndexOf(':');
    const [chatId, seq] = [voided._id.slice(0, split), Number(voided._id.slice(split + 1))];
    await insertOnce(c.lineEnds, { _id: voided._id, chat_id: chatId, seq, kind: 'void' as const, at });
    moved += 1;
  }
  for (const name of ['chat_line_heads', 'chat_line_voids', 'chat_line_waiters']) {
    await db.dropCollection(name).catch(() => false); // absent already: nothing to drop
  }
  return moved;
}

export type ChatLineStore = ReturnType<typeof createChatLineStore>;
