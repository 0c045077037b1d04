import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { messageWorkflowId } from '../../src/domain/ids.js';
import { channelIdAttribute, chatIdAttribute, statusAttribute } from '../../src/workflows/search-attributes.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { historyEventTypes } from '../helpers/temporal.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

/** Markers of patched() (local activities record markers of their own). */
async function patchMarkers(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_patch')
    .length;
}

describe('search attributes of a message workflow (time-skipping server)', () => {
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

  test('set at start (channel, chat, accepted) and the final status once, in the task that completes it', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const input = envelopeFor(channel);
    const handle = await h.startMessage(input);

    const started = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
    assert.deepEqual(
      Object.keys(started?.searchAttributes?.indexedFields ?? {}).sort(),
      ['ChatRelayChannelId', 'ChatRelayChatId', 'ChatRelayStatus'],
      'they ride on the start event',
    );
    assert.equal((await handle.result()).status, 'delivered');

    const attributes = (await handle.describe()).typedSearchAttributes;
    assert.equal(attributes.get(channelIdAttribute), channel.id);
    assert.equal(attributes.get(chatIdAttribute), input.chatId);
    assert.equal(attributes.get(statusAttribute), 'delivered');

    // The feature's whole cost in history: one upsert event, in the last task (after its local
    // activity's marker), just before the workflow's completion; no patch marker.
    const types = await historyEventTypes(handle);
    assert.equal(types.filter((type) => type === 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES').length, 1);
    assert.equal(await patchMarkers(handle), 0);
    assert.deepEqual(types.slice(-2), [
      'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
      'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
    ]);
    assert.ok(types.lastIndexOf('EVENT_TYPE_WORKFLOW_TASK_COMPLETED') < types.length - 2, 'in the last task');
  });

  test('a failed message ends with ChatRelayStatus failed', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    h.receiver.answerAlways({ status: 400 });
    const handle = await h.startMessage(envelopeFor(channel));
    assert.equal((await handle.result()).status, 'failed');
    assert.equal((await handle.describe()).typedSearchAttributes.get(statusAttribute), 'failed');
  });

  test('a redelivery carries them too: the chat, the channel, and its own outcome', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: endpoint.url,
      channel: { max_message_length: 30 },
    });
    h.fake.replyNext('Part one is here.\n\nPart two is here.');
    const input = envelopeFor(channel);
    assert.equal((await (await h.startMessage(input)).result()).status, 'delivered');
    const handle = h.env.client.workflow.getHandle((await h.messageAdmin.redeliver(input.messageId, 2)).workflow_id);
    await handle.result();
    const attributes = (await handle.describe()).typedSearchAttributes;
    assert.equal(attributes.get(chatIdAttribute), input.chatId);
    assert.equal(attributes.get(channelIdAttribute), channel.id);
    assert.equal(attributes.get(statusAttribute), 'delivered');
    assert.equal((await historyEventTypes(handle)).at(-2), 'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES');
  });

  test('a workflow started without them (before the feature) ends without an upsert, as its history was recorded', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const input = envelopeFor(channel);
    const lineSeq = await h.line.claim(input.chatId, {
      messageId: input.messageId,
      workflowId: messageWorkflowId(input.messageId),
    });
    const handle = await h.env.client.workflow.start('messageWorkflow', {
      taskQueue: h.taskQueue,
      workflowId: messageWorkflowId(input.messageId),
      args: [{ ...input, lineSeq, modelStep: 'local' }],
    });
    assert.equal(((await handle.result()) as { status: string }).status, 'delivered');
    const types = await historyEventTypes(handle);
    assert.ok(!types.includes('EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES'), types.join(' '));
    assert.equal((await handle.describe()).typedSearchAttributes.get(statusAttribute), undefined);
  });
});
