import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { createMessageStarter } from '../../src/api/message-starter.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { fromHistory, historyEventTypes, scheduledActivityType } from '../helpers/temporal.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

/** The history's event types, by name, without the common prefix. */
async function eventTypes(handle: WorkflowHandle): Promise<string[]> {
  return (await historyEventTypes(handle)).map((type) => type.replace('EVENT_TYPE_', ''));
}

// The common case (a text message, one part, no delay, nobody ahead in its chat) is the cost that
// matters most (issue 11); its history is the budget docs/architecture.md gives, event for event.
// One workflow type, `messageWorkflow`; where its model step runs is in its input (`modelStep`,
// which the API sets from MODEL_STEP).
describe('the history of a message in the common case (time-skipping server)', () => {
  let h: WorkflowHarness;
  before(async () => {
    h = await startWorkflowHarness();
  });
  after(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.fake.reset();
    h.receiver.reset();
  });

  test('MODEL_STEP=local (the default): one workflow task and 7 events; the step is a local activity', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const handle = await h.startMessage(envelopeFor(channel));
    assert.deepEqual(await handle.result(), { status: 'delivered', partsDelivered: 1 });
    assert.equal((await handle.describe()).type, 'messageWorkflow');
    assert.deepEqual(await fromHistory(handle, scheduledActivityType), ['answerMessage'], 'its marker');
    assert.deepEqual(await eventTypes(handle), [
      'WORKFLOW_EXECUTION_STARTED',
      'WORKFLOW_TASK_SCHEDULED',
      'WORKFLOW_TASK_STARTED',
      'WORKFLOW_TASK_COMPLETED',
      'MARKER_RECORDED',
      'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
      'WORKFLOW_EXECUTION_COMPLETED',
    ]);
    assert.equal(h.receiver.posts.length, 1, 'the reply was delivered once');
    // The capacity table of docs/architecture.md starts from this history (test/replay/capacity.test.ts).
    await h.record('text-common-case', handle);
  });

  test('MODEL_STEP=activity: the same message through a regular activity, two workflow tasks and 12 events', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const starter = createMessageStarter(h.env.client, h.taskQueue, h.line, { modelStep: 'activity' });
    const { workflowId } = await starter.start(envelopeFor(channel));
    const handle = h.env.client.workflow.getHandle(workflowId);
    assert.deepEqual(await handle.result(), { status: 'delivered', partsDelivered: 1 });
    assert.equal((await handle.describe()).type, 'messageWorkflow');
    assert.deepEqual(await fromHistory(handle, scheduledActivityType), ['answerMessage']);
    assert.deepEqual(await eventTypes(handle), [
      'WORKFLOW_EXECUTION_STARTED',
      'WORKFLOW_TASK_SCHEDULED',
      'WORKFLOW_TASK_STARTED',
      'WORKFLOW_TASK_COMPLETED',
      'ACTIVITY_TASK_SCHEDULED',
      'ACTIVITY_TASK_STARTED',
      'ACTIVITY_TASK_COMPLETED',
      'WORKFLOW_TASK_SCHEDULED',
      'WORKFLOW_TASK_STARTED',
      'WORKFLOW_TASK_COMPLETED',
      'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
      'WORKFLOW_EXECUTION_COMPLETED',
    ]);
    assert.equal(h.receiver.posts.length, 1, 'the reply was delivered once');
    await h.record('model-step-activity', handle);
  });
});
