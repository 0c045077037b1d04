import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { createDelivery, createDeliveryActivities, type SendPartInput } from '../../src/activities/delivery.js';
import { deliveryId, messageWorkflowId } from '../../src/domain/ids.js';
import type { Channel } from '../../src/domain/models.js';
import { ErrorType } from '../../src/domain/errors.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { waitFor } from '../../src/lib/wait.js';
import { FakeWorld, runActivity, startActivity } from './fakes.js';

describe('delivery activities: what a receiver’s answer becomes', () => {
  let receiver: Receiver;
  let silent: Receiver;
  before(async () => {
    [receiver, silent] = await Promise.all([startReceiver(), startReceiver()]);
    silent.setMode({ kind: 'hold' });
  });
  after(async () => {
    await Promise.all([receiver.close(), silent.close()]);
  });
  beforeEach(() => receiver.reset());

  /** A world with a channel posting to a fresh receiver endpoint and a stored reply of `parts` parts. */
  function arrange(options: { parts?: number; signed?: boolean; channel?: Partial<Channel>; timeoutMs?: number } = {}) {
    const world = new FakeWorld();
    const endpoint = receiver.endpoint();
    const channel = world.addChannel({
      replyUrl: endpoint.url,
      ...(options.signed !== undefined ? { signed: options.signed } : {}),
      ...(options.channel ? { channel: options.channel } : {}),
    });
    const messageId = `msg_delivery_${Math.random().toString(36).slice(2, 10)}`;
    const partCount = options.parts ?? 1;
    world.replies.set(messageId, {
      _id: messageId,
      parts: Array.from({ length: partCount }, (_, index) => ({
        index,
        text: `part ${index + 1}`,
        images: [],
        delivery_id: deliveryId(messageId, index),
      })),
      at: new Date(),
    });
    const deps = world.deps(
      options.timeoutMs !== undefined ? { settings: { deliveryTimeoutMs: options.timeoutMs } } : {},
    );
    const delivery = createDelivery(deps);
    const activities = createDeliveryActivities(deps, delivery);
    const input: SendPartInput = {
      messageId,
      chatId: 'chat-1',
      channelId: channel.id,
      url: channel.reply_webhook_url,
      partIndex: 0,
      partCount,
      attempt: 1,
      retryWaitSeconds: 5,
    };
    const send = (patch: Partial<SendPartInput> = {}, attempt = 1) =>
      runActivity(() => activities.sendReplyPart({ ...input, ...patch }), {
        attempt,
        workflowId: messageWorkflowId(messageId),
      });
    /** A reply's first attempts at once, as the answer step asks for them (to the channel's URL unless patched). */
    const atOnce = (patch: Partial<Parameters<typeof delivery.deliverAtOnce>[0]> = {}) =>
      delivery.deliverAtOnce({
        messageId,
        chatId: 'chat-1',
        channelId: channel.id,
        url: channel.reply_webhook_url,
        partCount,
        retryScheduleSeconds: [7],
        finish: { status: 'delivered', lineSeq: 1 },
        ...patch,
      });
    return { world, channel, endpoint, messageId, input, delivery, activities, send, atOnce };
  }

  test('2xx: delivered, the attempt recorded, signed; on the last part the message ends and its turn is handed on', async () => {
    const { world, endpoint, messageId, send } = arrange();
    const result = await send({ finish: { status: 'delivered', partsDelivered: 1, lineSeq: 4 } });
    assert.deepEqual(result, { outcome: 'delivered', status: 200 });
    const [post] = receiver.delivered(endpoint.path);
    assert.equal(post?.fields.text, 'part 1');
    assert.equal(post?.headers['webhook-id'], deliveryId(messageId, 0));
    assert.match(String(post?.headers['webhook-signature']), /^v1,/);
    assert.equal(post?.headers['x-chatrelay-part'], '1/1');
    assert.deepEqual(
      world.attempts.map((a) => [a.part_index, a.attempt, a.result, a.http_status]),
      [[0, 1, 'delivered', 200]],
    );
    assert.equal(world.outcomes.get(messageId)?.status, 'delivered');
    assert.deepEqual(world.released, ['chat-1#4']);
    assert.deepEqual(world.deliveryResults, ['delivered']);
    assert.deepEqual(world.finished, ['delivered']);
  });

  test('2xx on a part that is not the last: delivered, and the message does not end', async () => {
    const { world, messageId, send } = arrange({ parts: 2 });
    assert.equal((await send()).outcome, 'delivered');
    assert.equal(world.outcomes.get(messageId), undefined);
    assert.deepEqual(world.released, []);
  });

  test('410: gone, the channel is paused with the reason and the reply parked; the next part is held without a POST', async () => {
    const { world, channel, endpoint, messageId, send } = arrange({ parts: 2 });
    receiver.answerNext({ status: 410 });
    const gone = await send();
    assert.equal(gone.outcome, 'gone');
    assert.equal(gone.status, 410);
    const paused = world.channels.get(channel.id);
    assert.equal(paused?.delivery_paused, true);
    assert.match(paused?.paused_reason ?? '', /410 Gone/);
    assert.deepEqual(world.parked, [{ workflowId: messageWorkflowId(messageId), channelId: channel.id, messageId }]);
    assert.deepEqual(
      world.attempts.map((a) => [a.result, a.http_status]),
      [['rejected', 410]],
    );

    const held = await send({ partIndex: 1 });
    assert.equal(held.outcome, 'paused');
    assert.match(held.error ?? '', /410 Gone/);
    assert.equal(receiver.posts.filter((post) => post.path === endpoint.path).length, 1, 'no POST while paused');
    assert.deepEqual(world.deliveryResults, ['gone', 'paused']);
  });

  test('4xx other than 408, 410 and 429: rejected for good, no retry offered, the message does not end', async () => {
    const { world, messageId, send } = arrange();
    receiver.answerNext({ status: 400 });
    const result = await send({ finish: { status: 'delivered', partsDelivered: 1, lineSeq: 1 } });
    assert.deepEqual(result, { outcome: 'rejected', status: 400, error: 'receiver answered 400' });
    assert.equal(world.outcomes.get(messageId), undefined);
    assert.deepEqual(world.released, []);
  });

  test('5xx: retry after the schedule’s wait, stretched by a longer Retry-After, never shortened by a shorter one', async () => {
    const { send } = arrange();
    receiver.answerNext(
      { status: 503 },
      { status: 500, headers: { 'retry-after': '30' } },
      { status: 429, headers: { 'retry-after': '1' } },
    );
    assert.deepEqual(await send(), {
      outcome: 'retry',
      status: 503,
      error: 'receiver answered 503',
      retryInSeconds: 5,
    });
    assert.equal((await send({ attempt: 2 })).retryInSeconds, 30);
    assert.equal((await send({ attempt: 3 })).retryInSeconds, 5);
  });

  test('5xx with the retry schedule spent: retry without a wait, which tells the workflow to give up', async () => {
    const { input, activities } = arrange();
    receiver.answerNext({ status: 502 });
    const { retryWaitSeconds: _spent, ...lastAttempt } = input;
    const result = await runActivity(() => activities.sendReplyPart(lastAttempt));
    assert.deepEqual(result, { outcome: 'retry', status: 502, error: 'receiver answered 502' });
  });

  test('no answer within the delivery timeout: retry, with no status', async () => {
    const { world, channel, send } = arrange({ timeoutMs: 300 });
    const endpoint = silent.endpoint();
    world.channels.set(channel.id, { ...channel, reply_webhook_url: endpoint.url });
    const result = await send({ url: endpoint.url });
    assert.equal(result.outcome, 'retry');
    assert.equal(result.status, undefined);
    assert.match(result.error ?? '', /no answer within 300 ms/);
    assert.equal(result.retryInSeconds, 5);
    assert.equal(silent.postsTo(endpoint.path).length, 1, 'the POST reached the receiver, which held its answer');
  });

  test('a channel without a signing secret: nothing is sent unsigned; the attempt is held on the retry schedule', async () => {
    const { world, endpoint, send } = arrange({ signed: false });
    const result = await send();
    assert.equal(result.outcome, 'retry');
    assert.match(result.error ?? '', /no signing secret/);
    assert.equal(result.retryInSeconds, 5);
    assert.equal(receiver.posts.filter((post) => post.path === endpoint.path).length, 0);
    assert.deepEqual(
      world.attempts.map((a) => [a.result, a.http_status]),
      [['retry', undefined]],
    );
    assert.deepEqual(world.deliveryResults, ['retry']);
  });

  test('a channel deleted meanwhile: rejected, nothing sent', async () => {
    const { world, channel, endpoint, send } = arrange();
    world.channels.delete(channel.id);
    assert.deepEqual(await send(), { outcome: 'rejected', error: 'the channel no longer exists' });
    assert.equal(receiver.posts.filter((post) => post.path === endpoint.path).length, 0);
  });

  test('a part that is not stored: a non-retryable ReplyPartMissing failure', async () => {
    const { send } = arrange();
    await assert.rejects(send({ partIndex: 3 }), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, ErrorType.ReplyPartMissing);
      assert.equal(error.nonRetryable, true);
      return true;
    });
  });

  test('a retry of the step after an attempt that was delivered does not post again, and still ends the message', async () => {
    const { world, endpoint, messageId, send } = arrange();
    const finish = { status: 'delivered' as const, partsDelivered: 1, lineSeq: 2 };
    assert.equal((await send()).outcome, 'delivered'); // its result was lost: the step runs again
    assert.deepEqual(await send({ finish }, 2), { outcome: 'delivered' });
    assert.equal(receiver.posts.filter((post) => post.path === endpoint.path).length, 1);
    assert.equal(world.outcomes.get(messageId)?.status, 'delivered');
  });

  test('our own failure (the store throws) is reported as an error and rethrown, for the step to be retried', async () => {
    const world = new FakeWorld();
    const deps = world.deps();
    deps.stores.messages.reply = () => Promise.reject(new Error('MongoDB is away'));
    const activities = createDeliveryActivities(deps, createDelivery(deps));
    const channel = world.addChannel();
    const input = {
      messageId: 'msg_x',
      chatId: 'chat-1',
      channelId: channel.id,
      partIndex: 0,
      partCount: 1,
      attempt: 1,
    };
    await assert.rejects(
      runActivity(() => activities.sendReplyPart(input)),
      /MongoDB is away/,
    );
    assert.deepEqual(world.deliveryResults, ['error']);
  });

  test('first attempts at once: every part in order, stopping at the first not delivered', async () => {
    const { world, endpoint, messageId, atOnce } = arrange({ parts: 3 });
    receiver.answerNext({ status: 200 }, { status: 503 });
    const result = await runActivity(() => atOnce());
    assert.deepEqual(result, {
      delivered: 1,
      finished: false,
      stopped: {
        partIndex: 1,
        result: { outcome: 'retry', status: 503, error: 'receiver answered 503', retryInSeconds: 7 },
      },
    });
    assert.deepEqual(
      receiver.posts.filter((post) => post.path === endpoint.path).map((post) => post.fields.text),
      ['part 1', 'part 2'],
    );
    assert.equal(world.outcomes.get(messageId), undefined);
  });

  test('a step cancelled while its POST is in flight (a local activity past its timeout): the POST is cut off, nothing more is posted or recorded', async () => {
    const { world, channel, messageId, atOnce } = arrange({ parts: 3, timeoutMs: 5_000 });
    // A slow receiver: each part would be answered 200 after a second, so a step that went on
    // after its cancellation would post parts 2 and 3 before it returned.
    const slow = silent.endpoint();
    silent.setMode({ kind: 'delay', ms: 1_000 }, slow.path);
    world.channels.set(channel.id, { ...channel, reply_webhook_url: slow.url });
    const step = startActivity(() => atOnce({ url: slow.url }));
    await waitFor(() => silent.postsTo(slow.path).length === 1, { timeoutMs: 5_000, what: 'the first POST' });
    step.cancel();
    await assert.rejects(step.result, (error: unknown) => error instanceof CancelledFailure);
    // The receiver saw the connection close before it could answer.
    const [first] = await waitFor(
      () => {
        const posts = silent.postsTo(slow.path);
        return posts[0]?.outcome === 'lost' ? posts : undefined;
      },
      { timeoutMs: 2_000, what: 'the receiver to see the connection closed' },
    );
    assert.equal(first?.webhookId, deliveryId(messageId, 0));
    // The step has returned: whatever it posted is there. One POST, nothing recorded (the part is its retry's).
    assert.equal(silent.postsTo(slow.path).length, 1);
    assert.deepEqual(world.attempts, []);
    assert.equal(world.outcomes.get(messageId), undefined);
  });

  test('first attempts at once within a time budget: no part is started after it, the rest is left to the workflow', async () => {
    const { endpoint, atOnce } = arrange({ parts: 3 });
    const result = await runActivity(() => atOnce({ until: Date.now() - 1 }));
    assert.deepEqual(result, { delivered: 0, finished: false });
    assert.equal(receiver.posts.filter((post) => post.path === endpoint.path).length, 0);
  });

  test('checkChannelPaused reads the channel afresh', async () => {
    const { world, channel, activities } = arrange();
    assert.equal(await runActivity(() => activities.checkChannelPaused({ channelId: channel.id })), false);
    world.channels.set(channel.id, { ...channel, delivery_paused: true });
    assert.equal(await runActivity(() => activities.checkChannelPaused({ channelId: channel.id })), true);
  });
});
