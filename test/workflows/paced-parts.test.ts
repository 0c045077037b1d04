import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { Channel } from '../../src/domain/models.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { fromHistory, scheduledActivityType } from '../helpers/temporal.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

/** The durations, in milliseconds, of every timer the workflow started, in order. */
const startedTimersMs = (handle: WorkflowHandle): Promise<number[]> =>
  fromHistory(handle, (event) => {
    const timeout = event.timerStartedEventAttributes?.startToFireTimeout;
    return timeout ? Number(timeout.seconds ?? 0) * 1000 + Math.round((timeout.nanos ?? 0) / 1e6) : undefined;
  });

/** The workflow's own steps after its start, in order: timers, and activities (local or not) by type. */
const steps = (handle: WorkflowHandle): Promise<string[]> =>
  fromHistory(handle, (event) => (event.timerFiredEventAttributes ? 'timer' : scheduledActivityType(event)));

/**
 * Paced parts (issue 14, feature 6): with `typing_ms_per_char` on, each part of a reply after the
 * first waits min(length × ms, typing_max_seconds) on a durable timer, read here from the history.
 */
describe('paced parts (time-skipping server)', () => {
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

  // Three paragraphs, each too long to share a 100-character part with the next: three parts.
  const first = 'Let me look that up for you, it takes a moment only.'; // 52 characters
  const second = 'Your order left our warehouse yesterday, on the truck.'; // 54: 1620 ms
  const third = 'Anything else I can help you with today, or is that everything you needed?'; // 74: 2220 ms, over the cap
  const threeParts = [first, second, third].join('\n\n');

  async function pacedChannel(channel: Partial<Channel> = {}): Promise<Channel> {
    return (
      await createChannelWithAgent(h.stores, {
        replyUrl: h.receiver.url,
        channel: { max_message_length: 100, typing_ms_per_char: 30, typing_max_seconds: 2, ...channel },
      })
    ).channel;
  }

  /** The pauses the parts of the stored reply call for: none before the first, then length × 30 ms up to 2 s. */
  async function expectedPauses(messageId: string): Promise<number[]> {
    const reply = await h.stores.messages.reply(messageId);
    return (reply?.parts ?? []).slice(1).map((part) => Math.min(part.text.length * 30, 2000));
  }

  test('a three-part reply: the first part at once, each later part after its typing pause, in order', async () => {
    const channel = await pacedChannel();
    h.fake.replyNext(threeParts);
    const input = envelopeFor(channel, { text: 'Where is my order?' });
    const handle = await h.startMessage(input);
    assert.deepEqual(await handle.result(), { status: 'delivered', partsDelivered: 3 });
    assert.deepEqual(
      h.receiver.delivered().map((post) => [post.headers['webhook-id'], post.fields.text]),
      [
        [`${input.messageId}.0`, first],
        [`${input.messageId}.1`, second],
        [`${input.messageId}.2`, third],
      ],
    );
    const pauses = await expectedPauses(input.messageId);
    // The second part is short enough for its length to count; the third is long enough for the cap.
    assert.deepEqual(pauses, [second.length * 30, 2000]);
    assert.ok(second.length * 30 < 2000 && third.length * 30 > 2000, 'one pause by length, one at the cap');
    assert.deepEqual(await startedTimersMs(handle), pauses);
    // The first part went out within the one step; each later part after its own timer.
    assert.deepEqual(await steps(handle), ['answerMessage', 'timer', 'sendReplyPart', 'timer', 'sendReplyPart']);
    assert.equal((await h.stores.messages.outcome(input.messageId))?.parts_delivered, 3);
  });

  test('with a reply delay and a retried part: the delay, then the pauses; a retry does not pause again', async () => {
    const channel = await pacedChannel({ reply_delay_seconds: 10 });
    h.fake.replyNext(threeParts);
    // The first and second parts are accepted, the third is asked to come again (503), then accepted.
    h.receiver.answerNext({ status: 200 }, { status: 200 }, { status: 503 });
    const input = envelopeFor(channel, { text: 'Where is my order?' });
    const handle = await h.startMessage(input);
    assert.deepEqual(await handle.result(), { status: 'delivered', partsDelivered: 3 });
    assert.deepEqual(
      h.receiver.posts.map((post) => [post.headers['webhook-id'], post.status]),
      [
        [`${input.messageId}.0`, 200],
        [`${input.messageId}.1`, 200],
        [`${input.messageId}.2`, 503],
        [`${input.messageId}.2`, 200],
      ],
    );
    const [pause1, pause2] = await expectedPauses(input.messageId);
    // The delay, the two typing pauses, and the retry schedule's first wait (5 s): nothing more.
    assert.deepEqual(await startedTimersMs(handle), [10_000, pause1, pause2, 5000]);
  });

  test('a one-part reply on a paced channel costs what it costs without pacing: no timer, one step', async () => {
    const paced = await pacedChannel();
    const plain = await pacedChannel({ typing_ms_per_char: 0 });
    const histories: number[] = [];
    for (const channel of [paced, plain]) {
      const handle = await h.startMessage(envelopeFor(channel, { text: 'hi' }));
      assert.deepEqual(await handle.result(), { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(await steps(handle), ['answerMessage']);
      histories.push((await handle.fetchHistory()).events?.length ?? 0);
    }
    assert.equal(histories[0], histories[1]);
  });

  test('pacing off (0): a three-part reply goes out within the one step, with no timer', async () => {
    const channel = await pacedChannel({ typing_ms_per_char: 0 });
    h.fake.replyNext(threeParts);
    const handle = await h.startMessage(envelopeFor(channel, { text: 'Where is my order?' }));
    assert.deepEqual(await handle.result(), { status: 'delivered', partsDelivered: 3 });
    assert.deepEqual(await steps(handle), ['answerMessage']);
    assert.deepEqual(await startedTimersMs(handle), []);
    assert.equal(h.receiver.delivered().length, 3);
  });
});
