import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { waitFor } from '../../src/lib/wait.js';
import { type ProcessStack } from '../helpers/process-stack.js';
import { startStack } from '../helpers/stack.js';
import { MAX_RETRY_AFTER_SECONDS } from '../../src/domain/retry-wait.js';
import { accepted, assertAnsweredOnce, messageStatus, newChannel, report, sendMessages } from './support.js';

/**
 * The outside world misbehaves for a while and then recovers: the channel's receiver (errors, then
 * down entirely) and the model API (rate limits and server errors). A short delivery retry
 * schedule keeps the file quick: 1, 1, 2, 2 and 5 seconds between attempts.
 */
describe('faults: the receiver and the model API fail for a while', () => {
  let stack: ProcessStack;
  before(async () => {
    stack = await startStack({ processes: true, env: { DELIVERY_RETRY_SCHEDULE: '1,1,2,2,5' } });
  });
  after(async () => {
    await stack?.close();
  });
  beforeEach(() => {
    stack.fake.reset();
    stack.receiver.setMode({ kind: 'ok' });
  });

  test('the receiver answers 503 for a while: every part delivered once when it recovers', async () => {
    const channel = await newChannel(stack);
    stack.receiver.setMode({ kind: 'status', status: 503 }, channel.replyPath);
    const sent = await sendMessages(stack, channel, 4, { label: 'receiver-503' });
    const ids = accepted(sent).map((item) => item.messageId);
    assert.equal(ids.length, 4);
    // Each message's part is refused twice (the first try and one retry), then the receiver recovers.
    await waitFor(
      () =>
        ids.every(
          (id) =>
            stack.receiver
              .postsTo(channel.replyPath)
              .filter((post) => post.webhookId === `${id}.0` && post.status === 503).length >= 2,
        ),
      { timeoutMs: 30_000, what: 'two refused attempts per message' },
    );
    const recoveredAt = Date.now();
    stack.receiver.setMode({ kind: 'ok' }, channel.replyPath);
    const result = await assertAnsweredOnce(stack, channel, sent, { timeoutMs: 60_000 });
    assert.equal(result.duplicates, 0);
    // The record keeps every attempt: refused ones with the receiver's status, then the delivery.
    for (const id of ids) {
      const attempts = await stack.stores.messages.attempts(id);
      assert.ok(attempts.length >= 3, `${id}: ${attempts.length} attempts`);
      assert.deepEqual(
        attempts.slice(0, 2).map((attempt) => [attempt.result, attempt.http_status]),
        [
          ['retry', 503],
          ['retry', 503],
        ],
      );
      assert.deepEqual([attempts.at(-1)?.result, attempts.at(-1)?.http_status], ['delivered', 200]);
    }
    report('receiver-503', {
      messages: ids.length,
      refusedPosts: stack.receiver.postsTo(channel.replyPath).filter((post) => post.status === 503).length,
      allDeliveredAfterRecoveryMs: result.settledAt - recoveredAt,
    });
  });

  test('the receiver is down (connection refused) for a while: every part delivered once when it is back', async () => {
    const channel = await newChannel(stack);
    await stack.receiver.down();
    const downAt = Date.now();
    try {
      const sent = await sendMessages(stack, channel, 4, { label: 'receiver-down' });
      const ids = accepted(sent).map((item) => item.messageId);
      assert.equal(ids.length, 4);
      // Nothing reaches the receiver: the attempts are in the message records, with the network error.
      await waitFor(
        async () => {
          const attempts = await Promise.all(ids.map((id) => stack.stores.messages.attempts(id)));
          return attempts.every((list) => list.filter((attempt) => attempt.result === 'retry').length >= 2)
            ? attempts
            : undefined;
        },
        { timeoutMs: 30_000, what: 'two failed attempts per message' },
      ).then((attempts) => {
        for (const attempt of attempts.flat()) assert.match(attempt.error ?? '', /ECONNREFUSED/);
      });
      await stack.receiver.up();
      const upAt = Date.now();
      const result = await assertAnsweredOnce(stack, channel, sent, { timeoutMs: 60_000 });
      assert.equal(result.duplicates, 0);
      assert.equal(
        stack.receiver.postsTo(channel.replyPath).length,
        4,
        'one post each: none reached the receiver while it was down',
      );
      report('receiver-down', {
        messages: ids.length,
        downForMs: upAt - downAt,
        allDeliveredAfterUpMs: result.settledAt - upAt,
      });
    } finally {
      await stack.receiver.up();
    }
  });

  test('a 429 with Retry-After from the receiver stretches the retry schedule', async () => {
    const channel = await newChannel(stack);
    stack.receiver.setMode({ kind: 'status', status: 429, headers: { 'retry-after': '3' } }, channel.replyPath);
    const sent = await sendMessages(stack, channel, 1, { label: 'receiver-429' });
    await waitFor(() => stack.receiver.postsTo(channel.replyPath).length >= 1, {
      timeoutMs: 30_000,
      what: 'the first attempt',
    });
    stack.receiver.setMode({ kind: 'ok' }, channel.replyPath);
    await assertAnsweredOnce(stack, channel, sent, { timeoutMs: 30_000 });
    const [first, second] = stack.receiver.postsTo(channel.replyPath);
    const gap = (second?.receivedAt ?? 0) - (first?.receivedAt ?? 0);
    // The schedule's first step is 1 s; the receiver asked for 3.
    assert.ok(gap >= 3_000, `retried after ${gap} ms`);
    report('receiver-429-retry-after', { retryAfterS: 3, retriedAfterMs: gap });
  });

  // A receiver asking for a wait no date can hold (99999999999999 s) or one of 95 years
  // (3000000000 s). The wait is capped (an hour, and never past the schedule's total: 11 s here), so
  // the part is retried, not failed, and the chat's next message waits seconds, not years.
  for (const retryAfter of ['99999999999999', '3000000000']) {
    test(`a 429 with Retry-After: ${retryAfter}: retried within the schedule's total, the chat's next message not held`, async () => {
      const channel = await newChannel(stack);
      const label = `retry-after-${retryAfter.length}`;
      stack.receiver.setMode(
        { kind: 'status', status: 429, headers: { 'retry-after': retryAfter } },
        channel.replyPath,
      );
      const first = await sendMessages(stack, channel, 1, { label });
      const firstId = accepted(first)[0]?.messageId ?? assert.fail(JSON.stringify(first));
      const waiting = await waitFor(
        async () => {
          const status = await messageStatus(stack, firstId);
          return status.attempts.length > 0 && (status.stage === 'retry_pending' || status.status !== 'processing')
            ? status
            : undefined;
        },
        { timeoutMs: 30_000, what: 'the first attempt answered 429' },
      );
      assert.equal(waiting.status, 'processing', `not failed after one attempt: ${JSON.stringify(waiting)}`);
      assert.equal(waiting.stage, 'retry_pending');
      const attemptAt = Date.parse(waiting.attempts[0]?.at ?? '');
      const retryInMs = Date.parse(waiting.next_retry_at ?? '') - attemptAt;
      const scheduleTotalMs = 11_000;
      // Stretched by the receiver's wish up to the schedule's total, never beyond it.
      assert.ok(
        retryInMs >= scheduleTotalMs - 2_000 && retryInMs <= scheduleTotalMs + 2_000,
        `retry in ${retryInMs} ms`,
      );
      assert.ok(retryInMs <= MAX_RETRY_AFTER_SECONDS * 1000);

      // The chat's next message, sent while the first waits: answered after it, within seconds.
      const second = await sendMessages(stack, channel, 1, { label });
      stack.receiver.setMode({ kind: 'ok' }, channel.replyPath);
      const result = await assertAnsweredOnce(stack, channel, [...first, ...second], { timeoutMs: 40_000 });
      assert.equal(result.duplicates, 0);
      const delivered = stack.receiver.delivered(channel.replyPath).map((post) => post.webhookId);
      const secondId = accepted(second)[0]?.messageId;
      assert.deepEqual(delivered, [`${firstId}.0`, `${secondId}.0`], 'in the chat’s order');
      report(`receiver-429-retry-after-${retryAfter}`, {
        retryInMs,
        settledAfterFirstAttemptMs: result.settledAt - attemptAt,
      });
    });
  }

  test('the model API answers 429 and 500 for a while: every message answered by the model, none with the fallback', async () => {
    const channel = await newChannel(stack);
    // The next eight model calls fail: rate limited, then server errors. Every call takes the next
    // scripted failure, so with four messages retrying in parallel each sees about two.
    stack.fake.failNext('chat', 4, 429, { headers: { 'retry-after': '1' } });
    stack.fake.failNext('chat', 4, 500);
    const startedAt = Date.now();
    const sent = await sendMessages(stack, channel, 4, { label: 'model-errors' });
    assert.equal(accepted(sent).length, 4);
    const result = await assertAnsweredOnce(stack, channel, sent, { timeoutMs: 90_000 });
    assert.equal(result.duplicates, 0);
    assert.equal(stack.fake.pendingSteps('chat'), 0, 'every scripted failure was met');
    const requests = stack.fake.requestsTo('chat');
    assert.equal(requests.length, 4 + 8, 'each failure was retried, each success taken once');
    const lastFailure = requests[7]?.receivedAt ?? startedAt;
    report('model-429-500', {
      messages: 4,
      failedCalls: 8,
      modelCalls: requests.length,
      failuresForMs: lastFailure - startedAt,
      allAnsweredAfterLastFailureMs: result.settledAt - lastFailure,
      allAnsweredMs: result.settledAt - startedAt,
    });
  });
});
