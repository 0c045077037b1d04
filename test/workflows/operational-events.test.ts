import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { WorkflowHandle } from '@temporalio/client';
import { operationalEventId, operationalEventWorkflowId } from '../../src/domain/ids.js';
import type { OperationalEvent, OperationalEventInput } from '../../src/domain/operational-events.js';
import { waitFor } from '../../src/lib/wait.js';
import { temporalEventStarter } from '../../src/temporal/event-starter.js';
import type { operationalEventWorkflow } from '../../src/workflows/operational-event.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import type { ReceivedPost } from '../helpers/receiver.js';
import { firedTimers } from '../helpers/temporal.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

const SCHEDULE = [5, 300, 1800];

const signatureHeadersOf = (headers: IncomingHttpHeaders): Record<string, string> => ({
  'webhook-id': String(headers['webhook-id']),
  'webhook-timestamp': String(headers['webhook-timestamp']),
  'webhook-signature': String(headers['webhook-signature']),
});

interface EventBody {
  type: string;
  timestamp: string;
  data: unknown;
}

const bodyOf = (post: ReceivedPost | undefined): EventBody => JSON.parse(post?.rawBody ?? '{}') as EventBody;

/** Throws unless the post is signed with `secret` (Standard Webhooks); returns its parsed body. */
function verified(post: ReceivedPost, secret: string): EventBody {
  new Webhook(secret).verify(post.rawBody, signatureHeadersOf(post.headers), { jsonParse: false });
  return bodyOf(post);
}

describe('operational events: the event workflow and its emitters (time-skipping server)', () => {
  let h: WorkflowHarness;
  /** The first event the receiver got at `path`, its signature verified. */
  async function firstEvent(path: string, secret: string): Promise<{ post: ReceivedPost; body: EventBody }> {
    const [post] = await h.receiver.waitForDelivered(1, { path });
    assert.ok(post, `an event at ${path}`);
    return { post, body: verified(post, secret) };
  }
  before(async () => {
    h = await startWorkflowHarness({ retryScheduleSeconds: SCHEDULE });
  });
  after(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.fake.reset();
    h.receiver.reset();
  });

  let events = 0;
  /** A channel with an events URL of its own, and an event for it (not yet started). */
  async function channelAndEvent(): Promise<{ input: OperationalEventInput; path: string; signingSecret: string }> {
    const endpoint = h.receiver.endpoint();
    const { channel, signingSecret } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.endpoint().url,
      channel: { events_url: endpoint.url },
    });
    events += 1;
    const event: OperationalEvent = {
      type: 'chat.handoff_requested',
      data: { chat_id: `${channel.page_id}:client-1`, client_id: 'client-1', message_id: `msg_evt${events}` },
    };
    const input: OperationalEventInput = {
      eventId: operationalEventId(event.type, event.data.message_id),
      channelId: channel.id,
      url: endpoint.url,
      event,
      timestamp: '2026-11-28T12:00:00.000Z',
      retryScheduleSeconds: SCHEDULE,
    };
    return { input, path: endpoint.path, signingSecret };
  }

  async function emitted(input: OperationalEventInput): Promise<WorkflowHandle<typeof operationalEventWorkflow>> {
    await temporalEventStarter(h.env.client, h.taskQueue).start(input);
    return h.env.client.workflow.getHandle<typeof operationalEventWorkflow>(operationalEventWorkflowId(input.eventId));
  }

  test('retries on the schedule with durable timers; a 2xx stops it; every attempt is signed with the same id and body', async () => {
    const { input, path, signingSecret } = await channelAndEvent();
    h.receiver.answerNext({ status: 503 }, { status: 500 });
    const handle = await emitted(input);
    const result = await handle.result();
    assert.equal(result.status, 'delivered');
    assert.deepEqual(
      result.attempts.map((attempt) => attempt.outcome),
      ['retry', 'retry', 'delivered'],
    );
    assert.deepEqual(await firedTimers(handle), [5, 300], 'the first two steps of the schedule, then no more');
    const posts = h.receiver.posts.filter((post) => post.path === path);
    assert.equal(posts.length, 3);
    for (const post of posts) {
      assert.equal(post.headers['webhook-id'], input.eventId, 'the webhook-id is stable across retries');
      assert.equal(post.headers['content-type'], 'application/json');
      assert.equal(post.rawBody, posts[0]?.rawBody, 'the same body on every attempt');
      assert.deepEqual(verified(post, signingSecret), {
        type: 'chat.handoff_requested',
        timestamp: input.timestamp,
        data: input.event.data,
      });
    }
    await h.record('operational-event-retried', handle);
  });

  test('gives up after the schedule, Retry-After stretching a step', async () => {
    const { input, path } = await channelAndEvent();
    h.receiver.answerNext({ status: 429, headers: { 'retry-after': '600' } });
    h.receiver.answerAlways({ status: 503 });
    const handle = await emitted(input);
    const result = await handle.result();
    assert.equal(result.status, 'failed');
    assert.match(result.error ?? '', /retries exhausted after 4 attempts \(receiver answered 503\)/);
    // The last step is cut to what is left of the schedule's total (2105 s) after the stretched first.
    assert.deepEqual(await firedTimers(handle), [600, 300, 1205], 'max(step, Retry-After), within the total');
    assert.equal(h.receiver.posts.filter((post) => post.path === path).length, 4);
  });

  test('a final answer (410 or 4xx) ends it at once, and never pauses the channel', async () => {
    const { input, path } = await channelAndEvent();
    h.receiver.answerNext({ status: 410 });
    const result = await (await emitted(input)).result();
    assert.equal(result.status, 'failed');
    assert.equal(result.attempts.length, 1);
    assert.equal(h.receiver.posts.filter((post) => post.path === path).length, 1);
    assert.notEqual((await h.stores.channels.get(input.channelId))?.delivery_paused, true);
  });

  test('the same event emitted again, running or done, is delivered once', async () => {
    const { input, path } = await channelAndEvent();
    h.receiver.answerNext({ status: 503 });
    const handle = await emitted(input);
    await emitted({ ...input, timestamp: '2026-11-28T12:00:01.000Z' }); // while it waits for its retry
    assert.equal((await handle.result()).status, 'delivered');
    const firstRun = (await handle.describe()).runId;
    const again = await emitted(input); // after it ended
    assert.equal((await again.describe()).runId, firstRun, 'no second run was started');
    await again.result();
    const delivered = h.receiver.delivered(path);
    assert.equal(delivered.length, 1);
    assert.equal(bodyOf(delivered[0]).timestamp, input.timestamp, 'the first emit stands');
  });

  test('a model that hands the chat to a person emits chat.handoff_requested, once, beside the handoff reply', async () => {
    const events = h.receiver.endpoint();
    const replies = h.receiver.endpoint();
    const { channel, signingSecret } = await createChannelWithAgent(h.stores, {
      replyUrl: replies.url,
      channel: { events_url: events.url },
      agent: { handoff_text: 'A person will answer you here.' },
    });
    const input = envelopeFor(channel, { text: '#call:handoff_to_human I want a person' });
    const result = await (await h.startMessage(input)).result();
    assert.equal(result.status, 'delivered');
    assert.deepEqual(
      h.receiver.delivered(replies.path).map((post) => post.fields.text),
      ['A person will answer you here.'],
    );
    const { post, body } = await firstEvent(events.path, signingSecret);
    assert.equal(body.type, 'chat.handoff_requested');
    assert.deepEqual(body.data, {
      chat_id: input.chatId,
      client_id: input.message.client_id,
      message_id: input.messageId,
    });
    assert.equal(post.headers['webhook-id'], operationalEventId('chat.handoff_requested', input.messageId));
  });

  test("a message that ends failed emits message.failed to its snapshot's events URL; without one, nothing starts", async () => {
    const events = h.receiver.endpoint();
    const { channel, signingSecret } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.endpoint().url,
      channel: { events_url: events.url },
    });
    h.fake.failNext('chat', 1, 400); // the model refuses: the fallback reply is delivered, and the message fails
    const input = envelopeFor(channel, { text: 'Hello' });
    const handle = await h.startMessage(input);
    const result = await handle.result();
    assert.equal(result.status, 'failed');
    const { post, body } = await firstEvent(events.path, signingSecret);
    assert.equal(body.type, 'message.failed');
    assert.deepEqual(body.data, {
      message_id: input.messageId,
      chat_id: input.chatId,
      client_id: input.message.client_id,
      reason: result.reason,
    });
    assert.equal(post.headers['webhook-id'], operationalEventId('message.failed', input.messageId));

    // The same failure on a channel without an events URL: no event workflow at all.
    const { channel: quiet } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.endpoint().url });
    h.fake.failNext('chat', 1, 400);
    const plain = envelopeFor(quiet, { text: 'Hello' });
    assert.equal((await (await h.startMessage(plain)).result()).status, 'failed');
    const eventWorkflow = h.env.client.workflow.getHandle(
      operationalEventWorkflowId(operationalEventId('message.failed', plain.messageId)),
    );
    await assert.rejects(eventWorkflow.describe(), /not found/i);
  });

  test('a reply the receiver refuses (a final 4xx) ends the message failed and emits message.failed', async () => {
    const events = h.receiver.endpoint();
    const { channel, signingSecret } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.endpoint().url,
      channel: { events_url: events.url },
    });
    h.receiver.answerNext({ status: 400 }); // the reply's POST; the event's then gets a 200
    const input = envelopeFor(channel, { text: 'Hello' });
    const result = await (await h.startMessage(input)).result();
    assert.equal(result.status, 'failed');
    const { body } = await firstEvent(events.path, signingSecret);
    assert.equal(body.type, 'message.failed');
    assert.deepEqual(body.data, {
      message_id: input.messageId,
      chat_id: input.chatId,
      client_id: input.message.client_id,
      reason: 'part 1 of 1: receiver answered 400',
    });
  });

  test('a message refused as failed at admission (its token rotated) emits message.failed too', async () => {
    const events = h.receiver.endpoint();
    const { channel, signingSecret } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.endpoint().url,
      channel: { events_url: events.url },
    });
    const input = { ...envelopeFor(channel, { text: 'Hello' }), tokenVersion: channel.token_version - 1 };
    const result = await (await h.startMessage(input)).result();
    assert.equal(result.status, 'failed');
    const [post] = await h.receiver.waitForDelivered(1, { path: events.path });
    assert.ok(post);
    assert.deepEqual(verified(post, signingSecret).data, {
      message_id: input.messageId,
      chat_id: input.chatId,
      client_id: input.message.client_id,
      reason: 'the API token the message was sent with has been rotated',
    });
  });

  test('a 410 from the reply URL emits channel.delivery_paused (with the channel read for the part: no read more)', async () => {
    const events = h.receiver.endpoint();
    const replies = h.receiver.endpoint();
    const { channel, signingSecret } = await createChannelWithAgent(h.stores, {
      replyUrl: replies.url,
      channel: { events_url: events.url },
    });
    h.receiver.answerNext({ status: 410 });
    const input = envelopeFor(channel, { text: 'Hello' });
    const handle = await h.startMessage(input);
    const { body } = await firstEvent(events.path, signingSecret);
    assert.equal(body.type, 'channel.delivery_paused');
    assert.deepEqual(body.data, { channel_id: channel.id, message_id: input.messageId });
    assert.ok(Date.parse(body.timestamp) > 0, 'an ISO timestamp');
    // The reply waits for the resume, then goes out.
    await waitFor(async () => ((await h.messageAdmin.status(input.messageId)).stage === 'paused' ? true : undefined));
    await h.messageAdmin.resumeChannel(channel.id);
    assert.equal((await handle.result()).status, 'delivered');
    assert.equal(h.receiver.delivered(events.path).length, 1, 'one event per 410');
  });
});
