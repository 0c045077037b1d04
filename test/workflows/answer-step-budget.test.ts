import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { channelReplyingTo, envelopeFor } from '../helpers/fixtures.js';
import { fromHistory, scheduledActivityType } from '../helpers/temporal.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

/**
 * The answer step's time budget (ANSWER_STEP_BUDGET_MS, issue 23 item 8) as the workflow sees it:
 * a step that starts no POST once its budget is spent leaves the parts to the workflow's own
 * delivery steps, which take them from where the step stopped. A budget of 0 is spent before the
 * first part, whatever the machine's speed; the end-to-end test (test/faults/slow-receiver.test.ts)
 * has a step that stops halfway.
 */
describe('the answer step out of time: the workflow delivers the rest (time-skipping server)', () => {
  let h: WorkflowHarness;
  before(async () => {
    h = await startWorkflowHarness({ settings: { answerStepBudgetMs: 0 } });
  });
  after(async () => {
    await h?.close();
  });

  test('every part once, in order, each a delivery step of its own, and the message delivered', async () => {
    const { channel, endpoint } = await channelReplyingTo(h.stores, h.receiver, { max_message_length: 40 });
    const paragraphs = ['The first part of the reply.', 'The second part of the reply.', 'The third part.'];
    h.fake.replyNext(paragraphs.join('\n\n'));
    const input = envelopeFor(channel, { text: 'Tell me three things' });
    const handle = await h.startMessage(input);
    const result = await handle.result();
    assert.deepEqual([result.status, result.partsDelivered], ['delivered', 3]);
    assert.deepEqual(
      h.receiver.posts
        .filter((post) => post.path === endpoint.path)
        .map((post) => [post.headers['webhook-id'], post.fields.text, post.status]),
      paragraphs.map((text, index) => [`${input.messageId}.${index}`, text, 200]),
    );
    assert.deepEqual(await fromHistory(handle, scheduledActivityType), [
      'answerMessage',
      'sendReplyPart',
      'sendReplyPart',
      'sendReplyPart',
    ]);
  });
});
