import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../../src/lib/wait.js';
import { type ProcessStack } from '../helpers/process-stack.js';
import { startStack } from '../helpers/stack.js';
import type { MessageStatusResponse } from '../../src/api/contracts/message.js';
import {
  accepted,
  adminCall,
  assertAnsweredOnce,
  messageStatus,
  newChannel,
  readiness,
  report,
  sendMessages,
  sendOnceAcceptingAgain,
  sendWorkInFlight,
} from './support.js';

/**
 * The Temporal server goes away (a clean stop) while replies are being generated, and comes back on
 * the same address with the same state. Meanwhile the API must answer 503 (never 200 for a message
 * it could not start), and the worker must survive and reconnect by itself; afterwards every
 * message accepted before, and every one accepted after, is answered exactly once.
 */
/**
 * How long Temporal stays away: longer than the ~10 s for which the worker's core retries a report
 * (such as an activity's result) that Temporal cannot take, so that some reports are lost.
 */
const OUTAGE_MS = Number(process.env.FAULTS_OUTAGE_MS ?? 15_000);

/** What recovery takes once activities whose results were lost in the outage are retried promptly. */
// Heartbeats (10 s timeout) make this far shorter than the 2-minute start-to-close timeout it
// would otherwise take; the margin is for a loaded CI machine.
const PROMPT_RECOVERY_MS = 60_000;

describe('faults: the Temporal server is stopped and started again', () => {
  let stack: ProcessStack;
  let recoveredAfterRestartMs: number | undefined;
  before(async () => {
    stack = await startStack({ processes: true });
  });
  after(async () => {
    await stack?.close();
  });

  test('503 while it is down, every accepted message answered once after it is back; the worker reconnects', async () => {
    const channel = await newChannel(stack);
    const beforeOutage = await sendWorkInFlight(stack, channel, 'temporal-before');
    const workerPid = stack.worker.pid;

    const stoppedAt = Date.now();
    await stack.temporal.stop('SIGTERM');
    const stopMs = Date.now() - stoppedAt;

    // Down: new messages are refused with 503, promptly, and /readyz names Temporal.
    const duringOutage = await sendMessages(stack, channel, 3, { label: 'temporal-down' });
    for (const item of duringOutage) {
      assert.equal(item.result.status, 503, JSON.stringify(item.result));
      assert.equal((item.result.body.error as { code?: string } | undefined)?.code, 'unavailable');
    }
    const ready = await readiness(stack);
    assert.equal(ready.status, 503);
    assert.equal(ready.checks.temporal?.ok, false);
    assert.equal(ready.checks.mongodb?.ok, true);
    // The model calls that were in flight end while Temporal is away: their results cannot be reported yet.
    await waitFor(() => stack.fake.inFlight === 0, { timeoutMs: 30_000, what: 'the model calls in flight to end' });
    const refused = [...duringOutage];
    // The outage lasts a while (its length is the fault, not a synchronisation): the worker's polls
    // and the reports of finished activities fail meanwhile, and the API's connection backs off.
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt)));
    const lateRefusal = await sendMessages(stack, channel, 1, { label: 'temporal-down-late' });
    assert.equal(lateRefusal[0]?.result.status, 503, JSON.stringify(lateRefusal[0]?.result));
    refused.push(...lateRefusal);
    assert.ok(stack.worker.running, `the worker is still running during the outage\n${stack.diagnostics()}`);
    const downFor = Date.now() - stoppedAt;

    const restartMs = await stack.temporal.start();
    const upAt = Date.now();
    const { probes, afterOutage, acceptingAfterMs } = await sendOnceAcceptingAgain(stack, channel, 'temporal', upAt);

    const all = [...beforeOutage, ...refused, ...probes, ...afterOutage];
    const result = await assertAnsweredOnce(stack, channel, all, { timeoutMs: 180_000 });
    assert.equal(result.duplicates, 0);
    // The worker process lived through the outage: it reconnected rather than exited.
    assert.equal(stack.worker.pid, workerPid, 'the same worker process');
    assert.ok(stack.worker.running, `the worker is still running\n${stack.diagnostics()}`);

    recoveredAfterRestartMs = result.settledAt - upAt;
    report('temporal-outage', {
      temporalStopMs: stopMs,
      downForMs: downFor,
      refusedWith503: refused.length + probes.filter((probe) => probe.result.status === 503).length,
      max503Ms: Math.max(
        ...[...refused, ...probes].filter((item) => item.result.status === 503).map((item) => item.result.ms),
      ),
      temporalRestartMs: restartMs,
      apiAcceptingAfterRestartMs: acceptingAfterMs,
      allAnsweredAfterRestartMs: result.settledAt - upAt,
      workerSurvived: stack.worker.pid === workerPid ? 'yes' : 'no',
    });
  });

  test(`after the outage, every message is answered within ${PROMPT_RECOVERY_MS / 1000} s`, () => {
    assert.ok(
      recoveredAfterRestartMs !== undefined && recoveredAfterRestartMs < PROMPT_RECOVERY_MS,
      `recovered ${recoveredAfterRestartMs} ms after the restart`,
    );
  });

  // Issue 23, item 11. The real way to make a redelivery's start fail with something other than
  // "already started": Temporal stopped for the moment of the start (the claims before it are in
  // MongoDB, which stays up). Once Temporal is back, a later redelivery goes through.
  test('a redelivery asked while Temporal is down: 503, the message stays redeliverable, a later one is sent', async () => {
    const channel = await newChannel(stack);
    const sent = await sendMessages(stack, channel, 1, { label: 'redeliver-down' });
    await assertAnsweredOnce(stack, channel, sent, { timeoutMs: 30_000 });
    const messageId = accepted(sent)[0]?.messageId ?? assert.fail(JSON.stringify(sent));
    const redeliver = () => adminCall(stack, 'POST', `/v1/messages/${messageId}/redeliver`, { from_part: 1 });

    await stack.temporal.stop('SIGTERM');
    let refused: Awaited<ReturnType<typeof redeliver>>;
    let whileDown: MessageStatusResponse;
    try {
      refused = await redeliver();
      whileDown = await messageStatus(stack, messageId);
    } finally {
      await stack.temporal.start();
    }
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    const error = refused.body.error as { code?: string; message?: string } | undefined;
    assert.equal(error?.code, 'unavailable');
    // The admin gets the API's generic reason for a 503 (a dependency's error stays out of answers);
    // the log line its request id finds says what happened.
    assert.ok(
      stack.api.output.some((line) => line.includes('The redelivery could not be started')),
      stack.diagnostics(),
    );
    // Not left `processing`: the number claimed for the redelivery was given back.
    assert.equal(whileDown.status, 'delivered');

    // Temporal is back: a later redelivery is accepted (a 503 only while the API reconnects, never a 409).
    const accepted202 = await waitFor(
      async () => {
        const answer = await redeliver();
        assert.ok(answer.status === 202 || answer.status === 503, JSON.stringify(answer));
        return answer.status === 202 ? answer : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'a redelivery accepted once Temporal is back' },
    );
    assert.equal(accepted202.body.from_part, 1);
    // The part comes again with its webhook-id (after the place the refused one left is voided).
    const posts = await waitFor(
      () => {
        const delivered = stack.receiver.delivered(channel.replyPath);
        return delivered.length >= 2 ? delivered : undefined;
      },
      { timeoutMs: 90_000, what: 'the redelivered part' },
    );
    assert.deepEqual(
      posts.map((post) => post.webhookId),
      [`${messageId}.0`, `${messageId}.0`],
    );
    const ended = await waitFor(
      async () => {
        const status = await messageStatus(stack, messageId);
        return status.status !== 'processing' ? status : undefined;
      },
      { timeoutMs: 30_000, what: 'the redelivery to end' },
    );
    assert.equal(ended.status, 'delivered');
  });
});
