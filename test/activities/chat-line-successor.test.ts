import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createChatLine, type LineWorkflows } from '../../src/chat-line/line.js';
import { messageWorkflowId, redeliveryWorkflowId } from '../../src/domain/ids.js';
import { randomId } from '../../src/lib/secrets.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

type Status = Awaited<ReturnType<LineWorkflows['status']>>;

/**
 * Which later place counts as a newer message of the chat, for burst coalescing and stale replies
 * (src/chat-line/line.ts `successor`), against the MongoDB-compatible server we run.
 * Temporal's side (whether a workflow runs, and at which place) is given per workflow.
 */
describe('the newer message of a chat: the place after one’s own', () => {
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

  /** A chat whose first place is `msg_a`'s, and a line whose workflows are in the states given. */
  async function chatWithFirst(statuses: Record<string, Status> = {}) {
    const chatId = `cht_${randomId(8)}`;
    const line = createChatLine({
      lines: stores.lines,
      workflows: {
        wake: () => Promise.resolve(),
        status: (workflowId) => Promise.resolve(statuses[workflowId] ?? { state: 'missing' }),
      },
    });
    const first = `msg_a${randomId(6)}`;
    assert.equal(await line.claim(chatId, { messageId: first, workflowId: messageWorkflowId(first) }), 1);
    return { chatId, line, first, statuses };
  }
  const claimMessage = (line: ReturnType<typeof createChatLine>, chatId: string, messageId: string) =>
    line.claim(chatId, { messageId, workflowId: messageWorkflowId(messageId) });

  test('no place after it: none (one read)', async () => {
    const { chatId, line, first } = await chatWithFirst();
    assert.equal(await line.successor(chatId, 1, first), undefined);
  });

  test('a newer message whose workflow runs at the next place: that message, with when it was claimed', async () => {
    const { chatId, line, first, statuses } = await chatWithFirst();
    const before = Date.now();
    assert.equal(await claimMessage(line, chatId, 'msg_newer'), 2);
    statuses[messageWorkflowId('msg_newer')] = { state: 'running', lineSeq: 2 };
    const found = await line.successor(chatId, 1, first);
    assert.equal(found?.messageId, 'msg_newer');
    assert.ok(found.claimedAt.getTime() >= before - 1_000 && found.claimedAt.getTime() <= Date.now() + 1_000);
  });

  test('a newer message claimed after the time given (a burst window): not counted, and Temporal is not asked', async () => {
    const { chatId, line, first, statuses } = await chatWithFirst();
    const before = new Date(Date.now() - 60_000);
    await claimMessage(line, chatId, 'msg_late');
    let asked = 0;
    statuses[messageWorkflowId('msg_late')] = { state: 'running', lineSeq: 2 };
    const counting = createChatLine({
      lines: stores.lines,
      workflows: {
        wake: () => Promise.resolve(),
        status: (workflowId) => {
          asked += 1;
          return Promise.resolve(statuses[workflowId] ?? { state: 'missing' });
        },
      },
    });
    assert.equal(await counting.successor(chatId, 1, first, { claimedBy: before }), undefined);
    assert.equal(asked, 0);
    assert.equal((await counting.successor(chatId, 1, first, { claimedBy: new Date() }))?.messageId, 'msg_late');
  });

  test('a newer message whose start is still in flight: not counted yet (the earlier one is answered on its own)', async () => {
    const { chatId, line, first } = await chatWithFirst();
    await claimMessage(line, chatId, 'msg_starting');
    assert.equal(await line.successor(chatId, 1, first), undefined);
  });

  test('an admin’s redelivery at the next place: not a newer message', async () => {
    const { chatId, line, first, statuses } = await chatWithFirst();
    const workflowId = redeliveryWorkflowId('msg_old', 1);
    await line.claim(chatId, { messageId: 'msg_old', workflowId });
    statuses[workflowId] = { state: 'running', lineSeq: 2 };
    assert.equal(await line.successor(chatId, 1, first), undefined);
  });

  test('the same message again (the platform retried its POST): not a newer message', async () => {
    const { chatId, line, first, statuses } = await chatWithFirst();
    await claimMessage(line, chatId, first);
    statuses[messageWorkflowId(first)] = { state: 'running', lineSeq: 1 };
    assert.equal(await line.successor(chatId, 1, first), undefined);
  });

  test('a retried POST of an older message (its workflow ended, or runs at its own place), voided or not yet: not counted', async () => {
    const { chatId, line, first, statuses } = await chatWithFirst();
    await claimMessage(line, chatId, 'msg_older');
    statuses[messageWorkflowId('msg_older')] = { state: 'closed' };
    assert.equal(await line.successor(chatId, 1, first), undefined, 'its workflow has ended');
    statuses[messageWorkflowId('msg_older')] = { state: 'running', lineSeq: 7 };
    assert.equal(await line.successor(chatId, 1, first), undefined, 'its workflow holds another place');
    statuses[messageWorkflowId('msg_older')] = { state: 'running', lineSeq: 2 };
    await line.abandon(chatId, 2);
    assert.equal(await line.successor(chatId, 1, first), undefined, 'its place is void');
  });
});
