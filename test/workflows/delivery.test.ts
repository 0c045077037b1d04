import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { HttpError } from '../../src/api/errors.js';
import { redeliveryWorkflowId } from '../../src/domain/ids.js';
import { createMessageAdmin, type MessageAdmin } from '../../src/api/message-admin.js';
import type { Channel, InboundEnvelope } from '../../src/domain/models.js';
import { waitFor } from '../../src/lib/wait.js';
import type { messageWorkflow } from '../../src/workflows/message.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { firedTimers } from '../helpers/temporal.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

const SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

describe('delivery: retry schedule, pause on 410, redelivery, status (time-skipping server)', () => {
  let h: WorkflowHarness;
  let admin: MessageAdmin;
  before(async () => {
    h = await startWorkflowHarness({ retryScheduleSeconds: SCHEDULE });
    admin = h.messageAdmin;
  });
  after(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.fake.reset();
    h.receiver.reset();
  });

  const envelope = (channel: Channel, clientId?: string, text = 'Hello'): InboundEnvelope =>
    envelopeFor(channel, { text, ...(clientId !== undefined ? { client_id: clientId } : {}) });
  const start = (input: InboundEnvelope): Promise<WorkflowHandle<typeof messageWorkflow>> => h.startMessage(input);
  test('the whole retry schedule is walked in seconds, then the part fails as exhausted', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: endpoint.url });
    h.receiver.answerAlways({ status: 503 });
    const input = envelope(channel);
    const handle = await start(input);
    const startedAt = Date.now();
    const result = await handle.result();
    assert.ok(Date.now() - startedAt < 60_000, 'about 27 hours of retries pass in well under a minute');
    assert.equal(result.status, 'failed');
    assert.match(result.reason ?? '', /part 1 of 1: retries exhausted after 8 attempts \(receiver answered 503\)/);
    assert.equal(h.receiver.posts.length, 8, 'the first attempt and seven retries');
    assert.deepEqual(await firedTimers(handle), SCHEDULE);
    const status = await admin.status(input.messageId);
    assert.equal(status.status, 'failed');
    assert.equal(status.attempts.length, 8);
    assert.ok(status.attempts.every((attempt) => attempt.result === 'retry' && attempt.http_status === 503));
    await h.record('retry-schedule-exhausted', handle);
  });

  test('Retry-After longer than the schedule step is honoured', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.endpoint().url });
    h.receiver.answerNext(
      { status: 429, headers: { 'retry-after': '600' } },
      { status: 503, headers: { 'retry-after': '1' } },
    );
    const handle = await start(envelope(channel));
    assert.equal((await handle.result()).status, 'delivered');
    assert.deepEqual(await firedTimers(handle), [600, 300], 'max(schedule step, Retry-After) for each retry');
  });

  test('a Retry-After of years is honoured for an hour at most, and the schedule keeps its total', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.endpoint().url });
    h.receiver.answerAlways({ status: 429, headers: { 'retry-after': '99999999999999' } });
    const handle = await start(envelope(channel));
    const result = await handle.result();
    assert.equal(result.status, 'failed');
    assert.match(result.reason ?? '', /retries exhausted after 8 attempts \(receiver answered 429\)/);
    // An hour where the step is shorter, the step where it is longer; the last wait is what is left
    // of the schedule's total (99305 s, 27.6 h), so the stretched waits never add up to more.
    const timers = await firedTimers(handle);
    assert.deepEqual(timers, [3600, 3600, 3600, 7200, 18000, 36000, 27305]);
    assert.equal(
      timers.reduce((sum, wait) => sum + wait, 0),
      SCHEDULE.reduce((sum, step) => sum + step, 0),
    );
  });

  test('status at each stage: waiting for the reply delay, then a pending retry with its time, then delivered', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.endpoint().url,
      channel: { reply_delay_seconds: 3600 },
    });
    const input = envelope(channel);
    h.receiver.answerNext({ status: 500 });
    const handle = await start(input);
    // Time does not skip while the test polls MongoDB and queries, so the workflow sits in its stages.
    const waiting = await waitFor(async () => {
      const status = await admin.status(input.messageId);
      return status.stage === 'waiting_reply_delay' ? status : undefined;
    });
    assert.equal(waiting.live, true);
    assert.equal(waiting.status, 'processing');
    assert.equal(waiting.part_count, 1);
    // Skip the hour: the first attempt fails and a retry is scheduled.
    await h.env.sleep('1 hour');
    const pending = await waitFor(async () => {
      const status = await admin.status(input.messageId);
      return status.stage === 'retry_pending' ? status : undefined;
    });
    assert.equal(pending.current_part, 1);
    assert.equal(pending.last_error, 'receiver answered 500');
    assert.ok(pending.next_retry_at !== null && Date.parse(pending.next_retry_at) > 0, 'the next retry time is shown');
    assert.deepEqual(
      pending.attempts.map((a) => [a.part, a.attempt, a.result, a.http_status]),
      [[1, 1, 'retry', 500]],
    );
    assert.equal((await handle.result()).status, 'delivered');
    const done = await admin.status(input.messageId);
    assert.equal(done.stage, 'delivered');
    assert.equal(done.live, false);
    assert.equal(done.parts_delivered, 1);
    assert.equal(done.next_retry_at, null);
    assert.ok(done.completed_at);
  });

  test('410 Gone pauses the channel; replies wait in order and resume delivers them all', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: endpoint.url });
    h.receiver.answerNext({ status: 410 });
    const first = envelope(channel, 'alice', 'first');
    const firstHandle = await start(first);
    await waitFor(async () => (await admin.status(first.messageId)).stage === 'paused');
    assert.equal((await h.stores.channels.get(channel.id))?.delivery_paused, true);
    // Later messages of the channel, in the same chat and in another, are kept, not dropped.
    const second = envelope(channel, 'alice', 'second');
    const other = envelope(channel, 'bob', 'other chat');
    const [secondHandle, otherHandle] = [await start(second), await start(other)];
    await waitFor(async () => (await admin.status(other.messageId)).stage === 'paused');
    assert.equal((await admin.status(second.messageId)).stage, 'waiting_turn');
    assert.equal(h.receiver.posts.length, 1, 'nothing more is sent while paused');

    const resumed = await admin.resumeChannel(channel.id);
    assert.equal(resumed.resumed_messages, 2);
    for (const handle of [firstHandle, secondHandle, otherHandle])
      assert.equal((await handle.result()).status, 'delivered');
    const delivered = h.receiver.delivered(endpoint.path).map((post) => post.fields.text);
    assert.equal(delivered.length, 3);
    assert.ok(
      delivered.indexOf('Echo: first') < delivered.indexOf('Echo: second'),
      `alice's replies stay in order: ${delivered.join(' | ')}`,
    );
    await h.record('paused-then-resumed', firstHandle);
  });

  test('redelivery from part 2 sends the stored parts again, same delivery ids, without a new reply', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: endpoint.url,
      channel: { max_message_length: 30 },
    });
    h.fake.replyNext('Part one is here.\n\nPart two is here.\n\nPart three is here.');
    const input = envelope(channel);
    const handle = await start(input);
    assert.equal((await handle.result()).partsDelivered, 3);
    const firstRound = h.receiver.delivered(endpoint.path);
    await assert.rejects(admin.redeliver(input.messageId, undefined), /Every part was delivered/);
    // The channel moved: a redelivery goes to its current URL.
    const moved = h.receiver.endpoint();
    await h.stores.channels.update(channel.id, { reply_webhook_url: moved.url });
    const redelivery = await admin.redeliver(input.messageId, 2);
    assert.equal(redelivery.from_part, 2);
    const redeliveryHandle = h.env.client.workflow.getHandle(redelivery.workflow_id);
    await redeliveryHandle.result();
    await h.record('redelivery-from-part-2', redeliveryHandle);
    const again = h.receiver.delivered(moved.path);
    assert.deepEqual(
      again.map((post) => post.fields.text),
      ['Part two is here.', 'Part three is here.'],
    );
    assert.deepEqual(
      again.map((post) => post.headers['webhook-id']),
      firstRound.slice(1).map((post) => post.headers['webhook-id']),
    );
    assert.equal(h.fake.requestsTo('chat').length, 1, 'no new reply was generated');
    const status = await admin.status(input.messageId);
    assert.equal(status.status, 'delivered');
    assert.deepEqual(
      status.attempts.filter((a) => a.redelivery === 1).map((a) => a.part),
      [2, 3],
    );
  });

  test('a redelivery whose start Temporal refuses: 503, its place and number given back, the chat not held', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: endpoint.url });
    const input = envelope(channel);
    assert.equal((await (await start(input)).result()).status, 'delivered');
    // Temporal answers the start with an error other than "already started" (as it does for a
    // search attribute it has no mapping for), while a describe still works: a client whose starts
    // alone fail. (On the real stack, test/faults/temporal-outage.test.ts stops Temporal instead.)
    const refusing = createMessageAdmin({
      stores: h.stores,
      client: refusingStarts(h.env.client),
      line: h.line,
      taskQueue: h.taskQueue,
      publicBaseUrl: h.mediaBaseUrl,
    });
    await assert.rejects(
      refusing.redeliver(input.messageId, 1),
      (error: unknown) => error instanceof HttpError && error.status === 503 && error.code === 'unavailable',
    );
    assert.equal((await admin.status(input.messageId)).status, 'delivered', 'not left processing');
    // Its place was abandoned (Temporal said the workflow did not exist): the chat's next message
    // does not wait for it (it would, with timers, until the line's inspection voided the place).
    const next = envelope(channel, input.message.client_id, 'Next');
    const nextHandle = await start(next);
    assert.equal((await nextHandle.result()).status, 'delivered');
    assert.deepEqual(await firedTimers(nextHandle), []);
    const redelivery = await admin.redeliver(input.messageId, 1);
    assert.equal(
      redelivery.workflow_id,
      redeliveryWorkflowId(input.messageId, 1),
      'the number given back, claimed again',
    );
    await h.env.client.workflow.getHandle(redelivery.workflow_id).result();
    assert.deepEqual(
      h.receiver.delivered(endpoint.path).map((post) => post.headers['webhook-id']),
      [`${input.messageId}.0`, `${next.messageId}.0`, `${input.messageId}.0`],
    );
    assert.equal((await admin.status(input.messageId)).status, 'delivered');
  });
});

/** The client with every workflow start refused by the server, everything else as it is. */
function refusingStarts(client: Client): Client {
  const refuse = (): Promise<never> =>
    Promise.reject(new Error('3 INVALID_ARGUMENT: no mapping defined for search attribute ChatRelayChatId'));
  const workflow = new Proxy(client.workflow, {
    get: (target, property, receiver): unknown =>
      property === 'start' ? refuse : Reflect.get(target, property, receiver),
  });
  return new Proxy(client, {
    get: (target, property, receiver): unknown =>
      property === 'workflow' ? workflow : Reflect.get(target, property, receiver),
  });
}
