/**
 * No workflow history grows without bound (issue 12, item 10): a message that waits long for its
 * turn in the chat, or for its paused channel, continues as new with what it needs, and ends as it
 * would have. The threshold is lowered by the tests' workflow interceptor, for a workflow started
 * with its header (test/helpers/long-wait-checks.ts), so the time-skipping server passes it in
 * minutes of virtual time.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { MessageAdmin } from '../../src/api/message-admin.js';
import { messageWorkflowId } from '../../src/domain/ids.js';
import type { Channel, InboundEnvelope } from '../../src/domain/models.js';
import { waitFor } from '../../src/lib/wait.js';
import type { messageWorkflow } from '../../src/workflows/message.js';
import { startSearchAttributes } from '../../src/workflows/search-attributes.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { withLongWaitChecks } from '../helpers/long-wait-checks.js';
import { messageAdminFor, startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

const CONTINUED_AS_NEW = proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW;

describe('long waits continue as new (time-skipping server)', () => {
  let h: WorkflowHarness;
  let admin: MessageAdmin;
  before(async () => {
    h = await startWorkflowHarness();
    admin = messageAdminFor(h);
  });
  after(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.fake.reset();
    h.receiver.reset();
  });

  /**
   * Starts a message as the API does (its place, then its workflow with the place as memo and its
   * search attributes, the model step local), with a low threshold.
   */
  async function startWithThreshold(
    envelope: InboundEnvelope,
    checksBeforeContinue: number,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof messageWorkflow>> {
    const workflowId = messageWorkflowId(envelope.messageId);
    const lineSeq = await h.line.claim(envelope.chatId, { messageId: envelope.messageId, workflowId });
    return withLongWaitChecks(h.env.client, checksBeforeContinue).workflow.start<typeof messageWorkflow>(
      'messageWorkflow',
      {
        taskQueue: h.taskQueue,
        workflowId,
        args: [{ ...envelope, lineSeq, modelStep: 'local' }],
        memo: { lineSeq },
        typedSearchAttributes: startSearchAttributes(envelope),
      },
    );
  }

  /** How the first run ended, and the latest run's id and memo. */
  async function runs(handle: WorkflowHandleWithFirstExecutionRunId) {
    const first = await h.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
    const latest = await h.env.client.workflow.getHandle(handle.workflowId).describe();
    return { firstEnded: first.events?.at(-1)?.eventType, latestRunId: latest.runId, memo: latest.memo };
  }

  const continuedAsNew = async (
    handle: WorkflowHandleWithFirstExecutionRunId,
  ): Promise<Awaited<ReturnType<typeof runs>>> =>
    waitFor(
      async () => {
        const seen = await runs(handle);
        return seen.latestRunId !== handle.firstExecutionRunId ? seen : undefined;
      },
      { what: 'a new run' },
    );

  const envelope = (channel: Channel, clientId: string, text: string): InboundEnvelope =>
    envelopeFor(channel, { text, client_id: clientId });

  test('a reply waiting days for its paused channel goes on in a fresh run and is delivered on resume, attempt numbers going on', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: endpoint.url });
    h.receiver.answerNext({ status: 410 });
    const input = envelope(channel, 'pat', 'paused for long');
    const handle = await startWithThreshold(input, 2);
    await waitFor(async () => (await admin.status(input.messageId)).stage === 'paused', { what: 'paused' });
    // Two hourly rechecks of the pause, then the fresh run.
    await h.env.sleep('3 hours');
    const seen = await continuedAsNew(handle);
    assert.equal(seen.firstEnded, CONTINUED_AS_NEW);
    assert.equal(seen.memo?.lineSeq, 1, 'the place in the line goes along');
    assert.equal((await admin.status(input.messageId)).stage, 'paused');
    assert.equal(h.fake.requestsTo('chat').length, 1, 'the reply is not generated again');

    await admin.resumeChannel(channel.id);
    const latest = h.env.client.workflow.getHandle<typeof messageWorkflow>(handle.workflowId);
    const result = await latest.result();
    assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
    await h.record(
      'paused-long-continued-as-new',
      h.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId),
    );
    await h.record('paused-long-fresh-run-delivered', latest);
    // The part goes out with its one delivery id. (On this server a resumed part is now and then
    // POSTed twice, with or without a continue-as-new: at least once, which receivers dedupe by id.)
    const posts = h.receiver.delivered(endpoint.path);
    assert.ok(posts.length >= 1);
    assert.deepEqual(
      new Set(posts.map((post) => `${String(post.headers['webhook-id'])} ${post.fields.text}`)),
      new Set([`${input.messageId}.0 Echo: paused for long`]),
    );
    const status = await admin.status(input.messageId);
    assert.deepEqual(
      status.attempts.map((attempt) => [attempt.attempt, attempt.result]),
      [
        [1, 'rejected'],
        [2, 'delivered'],
      ],
      'attempt numbers go on across runs (the status lists attempts up to the first gap)',
    );
  });

  test('a message waiting long for its turn goes on in a fresh run and is answered once, in order', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: endpoint.url });
    h.receiver.answerNext({ status: 410 });
    // The first message holds the chat's turn while its channel is paused (default threshold).
    const first = envelope(channel, 'sam', 'first');
    const firstHandle = await h.startMessage(first);
    await waitFor(async () => (await admin.status(first.messageId)).stage === 'paused', { what: 'paused' });
    const second = envelope(channel, 'sam', 'second');
    const secondHandle = await startWithThreshold(second, 2);
    await waitFor(async () => (await admin.status(second.messageId)).stage === 'waiting_turn', { what: 'waiting' });
    // Turn checks at 35 s and 2 min, then the fresh run.
    await h.env.sleep('10 minutes');
    const seen = await continuedAsNew(secondHandle);
    assert.equal(seen.firstEnded, CONTINUED_AS_NEW);
    assert.equal(seen.memo?.lineSeq, 2);
    assert.equal((await admin.status(second.messageId)).stage, 'waiting_turn');

    await admin.resumeChannel(channel.id);
    assert.equal((await firstHandle.result()).status, 'delivered');
    const result = await h.env.client.workflow.getHandle<typeof messageWorkflow>(secondHandle.workflowId).result();
    assert.equal(result.status, 'delivered');
    assert.deepEqual(
      h.receiver.delivered(endpoint.path).map((post) => post.fields.text),
      ['Echo: first', 'Echo: second'],
    );
    const modelSaw = h.fake.requestsTo('chat').filter((request) => JSON.stringify(request.json).includes('second'));
    assert.equal(modelSaw.length, 1, 'the second message is answered once');
  });
});
