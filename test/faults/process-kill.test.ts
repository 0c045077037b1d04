import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../src/lib/wait.js';
import { isAlive } from '../helpers/procs.js';
import { type PostResult, type ProcessStack } from '../helpers/process-stack.js';
import { startStack } from '../helpers/stack.js';
import { accepted, assertAnsweredOnce, lastUserText, newChannel, report, sendMessages } from './support.js';

/**
 * The worker process is killed with SIGKILL (no shutdown, no goodbye to Temporal) while it works,
 * then started again. Temporal hands the interrupted activities to the new worker once their
 * timeouts say the old one is gone; every accepted message must still be answered exactly once.
 *
 * One kill covers both cases at once, on two channels: replies being generated (the model is slow)
 * and replies being delivered (the receiver holds its answers), so that the file waits for the
 * activities' timeouts once rather than twice.
 */

/**
 * How long the recovery may take. An interrupted activity is retried only when Temporal declares it
 * timed out; without heartbeats that is its start-to-close timeout (2 minutes for a model call,
 * 1 minute for a delivery): see docs/reliability.md.
 */
const RECOVERY_DEADLINE_MS = 120_000;

/** What recovery takes once interrupted activities are retried promptly (heartbeats). */
// Heartbeats (10 s timeout) make this far shorter than the 2-minute start-to-close timeout it
// would otherwise take; the margin is for a loaded CI machine.
const PROMPT_RECOVERY_MS = 60_000;

describe('faults: the worker or the API is killed (SIGKILL) and restarted', () => {
  let stack: ProcessStack;
  let recoveredAfterKillMs: number | undefined;
  before(async () => {
    // Held deliveries must still be in flight at the kill, however slow the machine: no 10 s timeout.
    stack = await startStack({ processes: true, env: { DELIVERY_TIMEOUT_MS: '30000' } });
  });
  after(async () => {
    await stack?.close();
  });

  test('killed while replies are generated and others delivered: every message answered once after the restart', async () => {
    const generating = await newChannel(stack);
    const delivering = await newChannel(stack);

    // 1. Replies being delivered: the receiver takes the posts of this channel but holds its answers.
    stack.receiver.setMode({ kind: 'hold' }, delivering.replyPath);
    const toDeliver = await sendMessages(stack, delivering, 4, { label: 'deliver-kill' });
    assert.equal(accepted(toDeliver).length, 4, JSON.stringify(toDeliver.map((item) => item.result)));
    await waitFor(() => stack.receiver.postsTo(delivering.replyPath).length >= 4, {
      timeoutMs: 30_000,
      intervalMs: 10,
      what: 'four held deliveries',
    });

    // 2. Replies being generated: four chats, two messages each; the first of each chat is with the
    //    (slow) model at the kill, the second waits for its turn.
    stack.fake.setLatency(2_000);
    const toGenerate = await sendMessages(stack, generating, 8, { label: 'gen-kill', clients: 4 });
    assert.equal(accepted(toGenerate).length, 8, JSON.stringify(toGenerate.map((item) => item.result)));
    await waitFor(() => stack.fake.inFlight >= 4, {
      timeoutMs: 30_000,
      intervalMs: 10,
      what: 'four model calls in flight',
    });
    const inFlightAtKill = stack.fake.inFlight;
    assert.ok(
      stack.receiver.postsTo(delivering.replyPath).every((post) => post.outcome === 'held'),
      'the deliveries are still held',
    );

    const killedAt = Date.now();
    const workerPid = stack.worker.pid;
    await stack.worker.kill('SIGKILL');
    // The worker process itself was killed (its tying shell reports 128 + 9).
    const exit = await stack.worker.lastExit();
    assert.ok(exit === 137 || exit === 'SIGKILL', `the worker's exit: ${String(exit)}`);
    assert.ok(workerPid !== undefined && !isAlive(workerPid));
    // The receiver acts on the held posts and answers 200, but the sender is gone: the answers are lost.
    await waitFor(() => stack.receiver.postsTo(delivering.replyPath).every((post) => post.outcome !== 'held'), {
      timeoutMs: 5_000,
      what: 'the held connections to close',
    }).catch(() => undefined);
    stack.receiver.release(200);
    const held = stack.receiver.postsTo(delivering.replyPath);
    assert.ok(
      held.every((post) => post.outcome === 'lost'),
      JSON.stringify(held.map((post) => post.outcome)),
    );
    stack.receiver.setMode({ kind: 'ok' }, delivering.replyPath);
    stack.fake.setLatency(200);

    // 3. The API does not need the worker: messages are still accepted while it is down.
    const whileDown = await sendMessages(stack, generating, 2, { label: 'gen-kill-down' });
    assert.equal(accepted(whileDown).length, 2);

    const restartMs = await stack.worker.start();
    const restartedAt = Date.now();
    const generated = [...toGenerate, ...whileDown];
    const [gen, del] = await Promise.all([
      assertAnsweredOnce(stack, generating, generated, { timeoutMs: RECOVERY_DEADLINE_MS }),
      // At least once: each held post comes again with the same webhook-id, and its 2xx is seen once.
      assertAnsweredOnce(stack, delivering, toDeliver, { timeoutMs: RECOVERY_DEADLINE_MS, lostAnswersPossible: true }),
    ]);
    assert.equal(gen.duplicates, 0, 'no reply being generated at the kill was sent twice');
    assert.equal(del.duplicates, 4, 'each delivery whose answer was lost was made again, once');

    // The interrupted model calls were made again by the new worker, and only those.
    const chatRequests = stack.fake.requestsTo('chat');
    assert.equal(
      chatRequests.length,
      generated.length + toDeliver.length + inFlightAtKill,
      `model calls: one per message + ${inFlightAtKill} interrupted`,
    );
    const interruptedRetried = chatRequests.filter(
      (request) => request.receivedAt > restartedAt && toGenerate.some((item) => lastUserText(request) === item.text),
    );
    const redelivered = stack.receiver.delivered(delivering.replyPath);
    recoveredAfterKillMs = Math.max(gen.settledAt, del.settledAt) - killedAt;
    report('worker-sigkill', {
      generatingAtKill: inFlightAtKill,
      deliveringAtKill: held.length,
      workerRestartMs: restartMs,
      newMessagesAnsweredAfterKillMs:
        Math.max(
          ...stack.receiver
            .delivered(generating.replyPath)
            .filter((post) => whileDown.some((item) => post.fields.text === `Echo: ${item.text}`))
            .map((post) => post.receivedAt),
        ) - killedAt,
      interruptedModelCallsRetriedAfterKillMs:
        Math.min(...interruptedRetried.map((request) => request.receivedAt)) - killedAt,
      interruptedDeliveriesRetriedAfterKillMs: Math.min(...redelivered.map((post) => post.receivedAt)) - killedAt,
      allGeneratedAnsweredAfterKillMs: gen.settledAt - killedAt,
      allDeliveredAfterKillMs: del.settledAt - killedAt,
    });
  });

  test(`after a worker SIGKILL, every message is answered within ${PROMPT_RECOVERY_MS / 1000} s`, () => {
    assert.ok(
      recoveredAfterKillMs !== undefined && recoveredAfterKillMs < PROMPT_RECOVERY_MS,
      `recovered ${recoveredAfterKillMs} ms after the kill`,
    );
  });

  test('the API killed mid-request: the platform retries with the same message_id; every message accepted and answered once', async () => {
    const channel = await newChannel(stack);
    stack.fake.setLatency(0);
    // A platform sending a burst; each message keeps its message_id across retries.
    const bodies = Array.from({ length: 32 }, (_, index) => ({
      client_id: `api-kill-client-${index % 8}`,
      page_id: channel.pageId,
      platform: 'CustomApp',
      text: `api-kill message ${index + 1}`,
      message_id: `api-kill-${index + 1}`,
    }));
    const results = new Map<number, PostResult>();
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < bodies.length) {
        const index = next++;
        results.set(index, await stack.postMessage(channel.token, bodies[index] as Record<string, unknown>, 10_000));
      }
    };
    const burst = Promise.all(Array.from({ length: 8 }, () => sender()));
    await waitFor(() => [...results.values()].filter((result) => result.status === 200).length >= 8, {
      timeoutMs: 30_000,
      intervalMs: 5,
      what: 'the first acceptances',
    });
    await stack.api.kill('SIGKILL');
    await burst;
    const unanswered = bodies.map((_, index) => index).filter((index) => results.get(index)?.status !== 200);
    assert.ok(unanswered.length > 0, 'some requests were cut off by the kill');
    for (const index of unanswered) assert.equal(results.get(index)?.status, 0, JSON.stringify(results.get(index)));

    const restartMs = await stack.api.start();
    // The platform's retries: same body, same message_id.
    const retries = await Promise.all(
      unanswered.map((index) => stack.postMessage(channel.token, bodies[index] as Record<string, unknown>)),
    );
    for (const retry of retries) assert.equal(retry.status, 200, JSON.stringify(retry));
    const duplicates = retries.filter((retry) => retry.body.duplicate === true).length;
    const sent = bodies.map((body, index) => {
      const result =
        results.get(index)?.status === 200
          ? (results.get(index) as PostResult)
          : (retries[unanswered.indexOf(index)] as PostResult);
      return { text: body.text, clientId: body.client_id, result, messageId: String(result.body.message_id) };
    });
    const outcome = await assertAnsweredOnce(stack, channel, sent, { timeoutMs: 60_000 });
    assert.equal(outcome.duplicates, 0);
    report('api-sigkill', {
      messages: bodies.length,
      cutOffByKill: unanswered.length,
      startedBeforeKillSoRetryWasDuplicate: duplicates,
      apiRestartMs: restartMs,
    });
  });
});
