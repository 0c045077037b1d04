import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createChatLine, type LineWorkflows } from '../../src/chat-line/line.js';
import { randomId } from '../../src/lib/secrets.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

/**
 * The chat line's protocol against the MongoDB-compatible server we run (FerretDB here), whose
 * concurrent read-modify-writes are not atomic: the line may rely only on unique `_id` inserts
 * and on one writer per document. Temporal's side (waking and describing workflows) is recorded.
 */
type Status = Awaited<ReturnType<LineWorkflows['status']>>;
function recordingWorkflows(statuses: Record<string, 'running' | 'closed' | 'missing' | Status> = {}) {
  const woken: string[] = [];
  const workflows: LineWorkflows = {
    async wake(workflowId) {
      woken.push(workflowId);
    },
    async status(workflowId) {
      const status = statuses[workflowId] ?? 'running';
      return typeof status === 'string' ? { state: status } : status;
    },
  };
  return { workflows, woken, statuses };
}

describe('chat line on the MongoDB-compatible server', () => {
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

  const newChat = (): string => `cht_${randomId(8)}`;
  const owner = (n: number) => ({ messageId: `msg_${n}`, workflowId: `wf-${n}` });

  test('40 concurrent claims on one chat, from 4 processes that know nothing of each other, take places 1 to 40 once each', async () => {
    const chatId = newChat();
    const processes = Array.from({ length: 4 }, () =>
      createChatLine({ lines: stores.lines, workflows: recordingWorkflows().workflows }),
    );
    const claimed = await Promise.all(Array.from({ length: 40 }, (_, n) => processes[n % 4]!.claim(chatId, owner(n))));
    assert.deepEqual(
      [...claimed].sort((a, b) => a - b),
      Array.from({ length: 40 }, (_, n) => n + 1),
    );
    // Each place names the one owner that claimed it.
    for (let n = 0; n < 40; n++) assert.equal((await stores.lines.slot(chatId, claimed[n]!))?.message_id, `msg_${n}`);
  });

  test('a claim made after another one returned gets a later place, even from a process that never saw the chat', async () => {
    const chatId = newChat();
    const first = createChatLine({ lines: stores.lines, workflows: recordingWorkflows().workflows });
    const second = createChatLine({ lines: stores.lines, workflows: recordingWorkflows().workflows });
    const places: number[] = [];
    for (let n = 0; n < 12; n++) places.push(await (n % 3 === 0 ? second : first).claim(chatId, owner(n)));
    assert.deepEqual(
      places,
      Array.from({ length: 12 }, (_, n) => n + 1),
    );
  });

  test('a message goes at once when the place before it has finished, and waits while it has not; the one finishing wakes the next', async () => {
    const chatId = newChat();
    const { workflows, woken } = recordingWorkflows();
    const line = createChatLine({ lines: stores.lines, workflows });
    const [a, b] = [await line.claim(chatId, owner(1)), await line.claim(chatId, owner(2))];
    assert.deepEqual(await line.turn(chatId, a, 'wf-1'), { granted: true });
    assert.deepEqual(await line.turn(chatId, b, 'wf-2'), { granted: false, waitingFor: a });
    await line.end(chatId, a, { turnHeld: true });
    assert.deepEqual(woken, ['wf-2'], 'the finishing owner wakes the one waiting for it');
    assert.deepEqual(await line.turn(chatId, b, 'wf-2'), { granted: true });
    await line.end(chatId, b, { turnHeld: true });
    assert.deepEqual(woken, ['wf-2'], 'nobody waits behind the last place');
  });

  test('finishing and asking for the next turn at the same moment never loses the turn (200 races)', async () => {
    let lost = 0;
    for (let round = 0; round < 200; round++) {
      const chatId = newChat();
      const { workflows, woken } = recordingWorkflows();
      const line = createChatLine({ lines: stores.lines, workflows });
      const a = await line.claim(chatId, owner(1));
      const b = await line.claim(chatId, owner(2));
      await line.turn(chatId, a, 'wf-1');
      const [, turn] = await Promise.all([line.end(chatId, a, { turnHeld: true }), line.turn(chatId, b, 'wf-2')]);
      if (!turn.granted && !woken.includes('wf-2')) lost += 1;
    }
    assert.equal(lost, 0, 'every next message was either granted its turn or woken');
  });

  test('a duplicate POST abandons its place: whoever waits for it is woken and steps over it', async () => {
    const chatId = newChat();
    const { workflows, woken } = recordingWorkflows();
    const line = createChatLine({ lines: stores.lines, workflows });
    const [a, dup, c] = [
      await line.claim(chatId, owner(1)),
      await line.claim(chatId, owner(2)),
      await line.claim(chatId, owner(3)),
    ];
    await line.end(chatId, a, { turnHeld: true });
    assert.deepEqual(await line.turn(chatId, c, 'wf-3'), { granted: false, waitingFor: dup });
    await line.abandon(chatId, dup);
    // The first owner's end woke the next place (the duplicate's: nobody there); the abandon wakes the one behind it.
    assert.deepEqual(woken, ['wf-2', 'wf-3']);
    assert.deepEqual(await line.turn(chatId, c, 'wf-3'), { granted: true });
  });

  test("a message never waits for its own earlier place (its first POST's claim, whose start never happened)", async () => {
    const chatId = newChat();
    const { workflows } = recordingWorkflows({ 'wf-1': 'running' });
    const line = createChatLine({ lines: stores.lines, workflows });
    const orphan = await line.claim(chatId, owner(1));
    const retried = await line.claim(chatId, owner(1));
    assert.deepEqual(await line.turn(chatId, retried, 'wf-1'), { granted: true });
    assert.equal((await stores.lines.end(chatId, orphan)) === 'void', true);
  });

  test('two retried messages whose first POSTs both left places behind do not wait for each other: a place whose workflow runs elsewhere is voided', async () => {
    const chatId = newChat();
    const { workflows, statuses } = recordingWorkflows();
    const line = createChatLine({ lines: stores.lines, workflows });
    // First POSTs of messages 1 and 2 claimed places 1 and 2, and the API died before starting them.
    const [orphanOf1, orphanOf2] = [await line.claim(chatId, owner(1)), await line.claim(chatId, owner(2))];
    // Their retries were started with places 3 and 4.
    const [retryOf1, retryOf2] = [await line.claim(chatId, owner(1)), await line.claim(chatId, owner(2))];
    statuses['wf-1'] = { state: 'running', lineSeq: retryOf1 };
    statuses['wf-2'] = { state: 'running', lineSeq: retryOf2 };
    // Message 1 steps over its own place, then finds message 2's first place: a workflow that holds another place.
    assert.deepEqual(await line.turn(chatId, retryOf1, 'wf-1'), { granted: false, waitingFor: orphanOf2 });
    assert.deepEqual(await line.turn(chatId, retryOf1, 'wf-1', true), { granted: true });
    assert.equal((await stores.lines.end(chatId, orphanOf1)) === 'void', true);
    assert.equal((await stores.lines.end(chatId, orphanOf2)) === 'void', true);
    // Message 2 waits for message 1's retry, which runs in its own place.
    assert.deepEqual(await line.turn(chatId, retryOf2, 'wf-2', true), { granted: false, waitingFor: retryOf1 });
  });

  test('looking deeper, a place whose workflow never started (long after its claim) or ended without finishing is voided; a running one is waited for', async () => {
    const chatId = newChat();
    let clock = Date.now();
    const { workflows, statuses } = recordingWorkflows({ 'wf-1': 'closed', 'wf-2': 'missing', 'wf-3': 'running' });
    const line = createChatLine({ lines: stores.lines, workflows, abandonedAfterMs: 30_000, now: () => clock });
    const places = [
      await line.claim(chatId, owner(1)),
      await line.claim(chatId, owner(2)),
      await line.claim(chatId, owner(3)),
      await line.claim(chatId, owner(4)),
    ];
    // Place 3 runs: the fourth waits for it, however deep it looks.
    assert.deepEqual(await line.turn(chatId, places[3]!, 'wf-4', true), { granted: false, waitingFor: 3 });
    statuses['wf-3'] = 'closed';
    // Place 2's start is still within the API's deadline: not yet abandoned.
    assert.deepEqual(await line.turn(chatId, places[3]!, 'wf-4', true), { granted: false, waitingFor: 2 });
    clock += 31_000;
    assert.deepEqual(await line.turn(chatId, places[3]!, 'wf-4', true), { granted: true });
    for (const seq of [1, 2, 3])
      assert.equal((await stores.lines.end(chatId, seq)) === 'void', true, `place ${seq} voided`);
  });
});
