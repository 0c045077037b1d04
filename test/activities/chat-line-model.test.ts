/**
 * A model-based test of the chat's line (issue 23) against the real MongoDB-compatible server:
 * random sequences of what happens to a few chats' messages (claims from several API processes,
 * duplicate and retried POSTs, starts that never happen, turns asked for with and without a deep
 * look, finishes, failures before the turn, workflows terminated by hand, re-runs of a closing step
 * after its message ended, erasures holding the turn, time passing) are played on the real line,
 * and after every step the promises are checked on what is stored:
 * - at most one place of a chat holds the turn, and turns go in place order;
 * - a place gets the turn only when every place before it has ended (none skipped unless void);
 * - the line's head (its ended prefix) never moves back;
 * - nobody is left waiting: a place whose turn has come was told so after it last looked;
 * - at the end, once time passes and every owner looks again, every message started has ended.
 * fast-check shrinks a failing sequence to a short one, printed with its seed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createChatErasure } from '../../src/api/chat-erasure.js';
import { createChatLine, type ChatLine, type LineWorkflows } from '../../src/chat-line/line.js';
import { randomId } from '../../src/lib/secrets.js';
import { chatIdFor } from '../../src/stores/chats.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

const CHATS = 2;
const APIS = 3;
const ABANDONED_AFTER_MS = 30_000;
/** Each sequence's chats are new: a channel of its own. */
let CHANNEL = '';

/** What a step of the sequence does; indexes pick among the chats, API processes and owners that fit. */
type Action =
  | { kind: 'accept'; chat: number; api: number }
  | { kind: 'accept_api_dies'; chat: number; api: number }
  | { kind: 'retry_post'; owner: number; api: number }
  | { kind: 'duplicate_post'; owner: number; api: number }
  | { kind: 'look'; owner: number; deep: boolean }
  | { kind: 'finish'; owner: number }
  | { kind: 'fail'; owner: number }
  | { kind: 'terminate'; owner: number }
  | { kind: 'rerun_close'; owner: number }
  | { kind: 'erase'; chat: number; api: number }
  | { kind: 'time_passes' };

const index = fc.nat({ max: 50 });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('accept' as const), chat: index, api: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('accept_api_dies' as const), chat: index, api: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry_post' as const), owner: index, api: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate_post' as const), owner: index, api: index }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('look' as const), owner: index, deep: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('finish' as const), owner: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), owner: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('terminate' as const), owner: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rerun_close' as const), owner: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('erase' as const), chat: index, api: index }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'time_passes' as const }) },
);

/** A holder of a place: a message's workflow (running, never started, or closed), as the model sees it. */
interface Owner {
  chatId: string;
  seq: number;
  workflowId: string;
  state: 'running' | 'missing' | 'closed';
  granted: boolean;
  ended: boolean;
  /** The moment (a tick) it last looked and was told to wait. */
  lastLook?: number;
}

/** One sequence's world: fresh chats, the API processes' lines, and Temporal as the model says. */
class World {
  clock = Date.now();
  tick = 0;
  readonly owners: Owner[] = [];
  readonly wakes = new Map<string, number>();
  readonly chats = Array.from({ length: CHATS }, (_, n) => chatIdFor(CHANNEL, `client-${n}`));
  readonly granted = new Map<string, number[]>();
  readonly heads = new Map<string, number>();
  readonly apis: ChatLine[];
  readonly log: string[] = [];

  constructor(readonly stores: Stores) {
    const workflows: LineWorkflows = {
      wake: async (workflowId) => {
        this.wakes.set(workflowId, ++this.tick);
      },
      status: async (workflowId) => {
        // The workflow's latest run: a retried POST's workflow holds its newest place.
        const owner = [...this.owners].reverse().find((o) => o.workflowId === workflowId && o.state !== 'missing');
        if (!owner) return { state: 'missing' };
        return owner.state === 'running' ? { state: 'running', lineSeq: owner.seq } : { state: 'closed' };
      },
    };
    this.apis = Array.from({ length: APIS }, () =>
      createChatLine({
        lines: stores.lines,
        workflows,
        abandonedAfterMs: ABANDONED_AFTER_MS,
        now: () => this.clock,
      }),
    );
  }

  pick<T>(items: T[], n: number): T | undefined {
    return items.length === 0 ? undefined : items[n % items.length];
  }

  /** Every place before `seq` has ended, by what is stored (a missing place counts as ended: cut by retention). */
  async turnIsThere(chatId: string, seq: number): Promise<boolean> {
    for (let previous = seq - 1; previous >= 1; previous--) {
      const end = await this.stores.lines.end(chatId, previous);
      if (end === 'finished') return true;
      if (end === undefined && (await this.stores.lines.slot(chatId, previous)) !== null) return false;
    }
    return true;
  }

  /** The turn was granted to `seq` (an owner's or an erasure's): the order and exclusivity promises. */
  async granting(chatId: string, seq: number, who: string): Promise<void> {
    const holders = this.owners.filter((o) => o.chatId === chatId && o.granted && !o.ended && o.state === 'running');
    assert.deepEqual(
      holders.map((o) => o.seq),
      [],
      `${who} (place ${seq}) granted while place(s) ${holders.map((o) => o.seq).join(', ')} hold the turn`,
    );
    for (let previous = 1; previous < seq; previous++) {
      const slot = await this.stores.lines.slot(chatId, previous);
      const end = await this.stores.lines.end(chatId, previous);
      assert.ok(slot === null || end !== undefined, `${who} (place ${seq}) granted before place ${previous} ended`);
    }
    const order = this.granted.get(chatId) ?? [];
    assert.ok(
      order.every((earlier) => earlier < seq),
      `turns out of order: ${order.join(', ')} then ${seq}`,
    );
    order.push(seq);
    this.granted.set(chatId, order);
  }

  /** After every step: the head never moves back, and nobody whose turn came is left unwoken. */
  async checkInvariants(): Promise<void> {
    for (const chatId of this.chats) {
      let head = 0;
      for (;;) {
        const next = head + 1;
        const slot = await this.stores.lines.slot(chatId, next);
        if (slot === null || (await this.stores.lines.end(chatId, next)) === undefined) break;
        head = next;
      }
      const before = this.heads.get(chatId) ?? 0;
      assert.ok(head >= before, `the head of ${chatId} moved back from ${before} to ${head}`);
      this.heads.set(chatId, head);
    }
    for (const owner of this.owners) {
      if (owner.state !== 'running' || owner.ended || owner.granted || owner.lastLook === undefined) continue;
      if (!(await this.turnIsThere(owner.chatId, owner.seq))) continue;
      const woken = this.wakes.get(owner.workflowId) ?? -1;
      assert.ok(
        woken > owner.lastLook,
        `place ${owner.seq} of ${owner.chatId} may go, but nobody told it since it last looked`,
      );
    }
  }

  async claim(chatId: string, api: number, workflowId: string, state: Owner['state']): Promise<Owner> {
    const seq = await this.apis[api % APIS]!.claim(chatId, { messageId: workflowId, workflowId });
    const owner: Owner = { chatId, seq, workflowId, state, granted: false, ended: false };
    this.owners.push(owner);
    return owner;
  }

  /** The owner reads the line for its turn (as its workflow's step does); `deep`: a look that came due. */
  async look(owner: Owner, deep: boolean): Promise<void> {
    const tick = ++this.tick;
    const turn = await this.apis[0]!.turn(owner.chatId, owner.seq, owner.workflowId, deep);
    if (turn.granted) {
      await this.granting(owner.chatId, owner.seq, owner.workflowId);
      owner.granted = true;
    } else owner.lastLook = tick;
  }

  async play(action: Action): Promise<void> {
    this.log.push(JSON.stringify(action));
    const line = this.apis[0]!;
    const live = this.owners.filter((o) => o.state === 'running' && !o.ended);
    switch (action.kind) {
      case 'accept':
        await this.claim(this.chats[action.chat % CHATS]!, action.api, `wf-${randomId(6)}`, 'running');
        return;
      case 'accept_api_dies':
        await this.claim(this.chats[action.chat % CHATS]!, action.api, `wf-${randomId(6)}`, 'missing');
        return;
      case 'retry_post': {
        // The platform retries a POST whose first copy's start never happened: a new place, now started.
        const lost = this.pick(
          this.owners.filter(
            (o) => o.state === 'missing' && !this.owners.some((p) => p !== o && p.workflowId === o.workflowId),
          ),
          action.owner,
        );
        if (lost) await this.claim(lost.chatId, action.api, lost.workflowId, 'running');
        return;
      }
      case 'duplicate_post': {
        // A copy of a message already started: its place is claimed, the start refused, the place abandoned.
        const original = this.pick(live, action.owner);
        if (!original) return;
        const seq = await this.apis[action.api % APIS]!.claim(original.chatId, {
          messageId: original.workflowId,
          workflowId: original.workflowId,
        });
        await this.apis[action.api % APIS]!.abandon(original.chatId, seq);
        return;
      }
      case 'look': {
        const owner = this.pick(
          live.filter((o) => !o.granted),
          action.owner,
        );
        if (owner) await this.look(owner, action.deep);
        return;
      }
      case 'finish': {
        const owner = this.pick(
          live.filter((o) => o.granted),
          action.owner,
        );
        if (!owner) return;
        assert.equal(await line.end(owner.chatId, owner.seq, { turnHeld: true }), 'finished');
        owner.ended = true;
        owner.state = 'closed';
        return;
      }
      case 'fail': {
        // Refused or failed, with or without the turn: the workflow closes its place, knowing nothing more.
        const owner = this.pick(live, action.owner);
        if (!owner) return;
        const ended = await line.end(owner.chatId, owner.seq, owner.granted ? { turnHeld: true } : {});
        if (!owner.granted && ended === 'finished')
          await this.granting(owner.chatId, owner.seq, `${owner.workflowId} (failing)`);
        owner.ended = true;
        owner.state = 'closed';
        return;
      }
      case 'terminate': {
        const owner = this.pick(live, action.owner);
        if (owner) owner.state = 'closed';
        return;
      }
      case 'rerun_close': {
        // The closing step runs again after a lost workflow task: it must change nothing.
        const owner = this.pick(
          this.owners.filter((o) => o.ended),
          action.owner,
        );
        if (!owner) return;
        const first = await this.stores.lines.end(owner.chatId, owner.seq);
        assert.equal(await line.end(owner.chatId, owner.seq, { turnHeld: true }), first);
        return;
      }
      case 'erase': {
        // The API's erasure, not waiting: done in the chat's turn if it is there, else given up.
        const chat = action.chat % CHATS;
        const chatId = this.chats[chat]!;
        const owners = this.owners.filter((o) => o.chatId === chatId && o.granted && !o.ended && o.state === 'running');
        const erasure = createChatErasure({
          stores: this.stores,
          line: this.apis[action.api % APIS]!,
          histories: { erase: () => Promise.resolve(), stillRunning: () => Promise.resolve([]) },
          waitMs: 0,
        });
        // Busy (the API's 409) when the turn is not there.
        if (!('busy' in (await erasure.eraseChat(chatId))))
          assert.deepEqual(owners, [], 'an erasure went while a message held the turn');
        return;
      }
      case 'time_passes':
        this.clock += ABANDONED_AFTER_MS + 1_000;
        return;
    }
  }

  /** Time passes and every owner looks deep, finishing in its turn, until nobody is left: nothing stalls. */
  async drain(): Promise<void> {
    for (let round = 0; round < 200; round++) {
      const live = this.owners.filter((o) => o.state === 'running' && !o.ended);
      if (live.length === 0) return;
      this.clock += ABANDONED_AFTER_MS + 1_000;
      for (const owner of live) {
        if (!owner.granted) await this.look(owner, true);
        if (owner.granted) {
          await this.apis[0]!.end(owner.chatId, owner.seq, { turnHeld: true });
          owner.ended = true;
          owner.state = 'closed';
        }
        await this.checkInvariants();
      }
    }
    const stuck = this.owners.filter((o) => o.state === 'running' && !o.ended).map((o) => `${o.chatId}#${o.seq}`);
    assert.deepEqual(stuck, [], 'messages left waiting for good');
  }
}

describe('the chat line, model-based, on the MongoDB-compatible server', () => {
  let mongo: TestMongo;
  let stores: Stores;
  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
  });
  after(async () => {
    await mongo?.close();
  });

  test('random sequences of claims, looks, finishes, failures, crashes, re-runs and erasures keep every promise', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 5, maxLength: 40 }), async (actions) => {
        CHANNEL = `chn_${randomId(8)}`;
        const world = new World(stores);
        try {
          for (const action of actions) {
            await world.play(action);
            await world.checkInvariants();
          }
          await world.drain();
        } catch (error) {
          throw new Error(`${(error as Error).message}\nsteps:\n${world.log.join('\n')}`, { cause: error });
        }
      }),
      {
        numRuns: Number(process.env.LINE_MODEL_RUNS ?? 60),
        ...(process.env.LINE_MODEL_SEED ? { seed: Number(process.env.LINE_MODEL_SEED) } : {}),
      },
    );
  });
});
