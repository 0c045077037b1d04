import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ProcessStack } from '../helpers/process-stack.js';
import { startStack } from '../helpers/stack.js';
import {
  accepted,
  assertAnsweredOnce,
  newChannel,
  readiness,
  report,
  sendOnceAcceptingAgain,
  sendUntilAnswered,
  sendWorkInFlight,
  type SentMessage,
} from './support.js';

/** How long the database stays away. */
const OUTAGE_MS = Number(process.env.FAULTS_OUTAGE_MS ?? 10_000);

/**
 * The MongoDB-compatible server goes away (a clean stop) while replies are being generated and
 * comes back on the same address with the same data. Activities fail meanwhile and are retried;
 * the API cannot check tokens, so it answers 503, except for a channel it has cached for a moment
 * (CHANNEL_CACHE_TTL_MS), whose messages are accepted and must be answered once it is back.
 */
describe('faults: the MongoDB-compatible server is stopped and started again', () => {
  let stack: ProcessStack;
  before(async () => {
    stack = await startStack({ processes: true });
  });
  after(async () => {
    await stack?.close();
  });

  test('messages accepted before are answered after it is back; new ones get 503 (or are accepted and answered)', async () => {
    const channel = await newChannel(stack);
    const beforeOutage = await sendWorkInFlight(stack, channel, 'mongo-before');

    const stoppedAt = Date.now();
    await stack.mongo.stop('SIGTERM');
    const stopMs = Date.now() - stoppedAt;

    // Down: messages until one is refused. Within the channel cache's TTL one may still be accepted
    // (then it is owed a reply like any other); after it, the token cannot be checked: 503.
    const duringOutage = await sendUntilAnswered(stack, channel, 503, {
      label: 'mongo-down',
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'a 503 while MongoDB is down',
    });
    const refusal = duringOutage.at(-1) as SentMessage;
    assert.equal((refusal.result.body.error as { code?: string } | undefined)?.code, 'unavailable');
    const ready = await readiness(stack);
    assert.equal(ready.status, 503);
    assert.equal(ready.checks.mongodb?.ok, false);
    assert.equal(ready.checks.temporal?.ok, true);
    // The outage lasts a while (its length is the fault, not a synchronisation).
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt)));
    assert.ok(stack.worker.running && stack.api.running, `API and worker survive the outage\n${stack.diagnostics()}`);
    const downFor = Date.now() - stoppedAt;

    const restartMs = await stack.mongo.start();
    const upAt = Date.now();
    const { probes, afterOutage, acceptingAfterMs } = await sendOnceAcceptingAgain(stack, channel, 'mongo', upAt);

    const all = [...beforeOutage, ...duringOutage, ...probes, ...afterOutage];
    const result = await assertAnsweredOnce(stack, channel, all, { timeoutMs: 180_000 });
    assert.equal(result.duplicates, 0);

    const refused = [...duringOutage, ...probes].filter((item) => item.result.status === 503);
    report('mongodb-outage', {
      mongoStopMs: stopMs,
      downForMs: downFor,
      acceptedWhileDown: accepted(duringOutage).length,
      refusedWith503: refused.length,
      max503Ms: Math.max(...refused.map((item) => item.result.ms)),
      mongoRestartMs: restartMs,
      apiAcceptingAfterRestartMs: acceptingAfterMs,
      allAnsweredAfterRestartMs: result.settledAt - upAt,
      modelCalls: stack.fake.requestsTo('chat').length,
      messages: accepted(all).length,
    });
  });
});
