import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { Webhook } from 'standardwebhooks';
import type { Agent } from '../../src/domain/models.js';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import type { ReceivedPost } from '../helpers/receiver.js';
import { firedTimers, fromHistory, scheduledActivityType } from '../helpers/temporal.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

/** The timer events of a workflow's history, in order. */
const timerEvents = (handle: WorkflowHandle): Promise<string[]> =>
  fromHistory(handle, (event) => {
    if (event.timerStartedEventAttributes) return 'started';
    if (event.timerFiredEventAttributes) return 'fired';
    return event.timerCanceledEventAttributes ? 'cancelled' : undefined;
  });

/** The activities (not local ones) a workflow scheduled, in order. */
/** The activities the workflow ran, local or not, by type, leaving out the reply's part POSTs. */
const activities = (handle: WorkflowHandle): Promise<string[]> =>
  fromHistory(handle, (event) => {
    const type = scheduledActivityType(event);
    return type === 'sendReplyPart' ? undefined : type;
  });

/**
 * The "one moment" part (issue 14, feature 3): when the agent's model has not answered after
 * `interim_after_seconds`, the agent's `interim_text` is delivered first, then the reply. The model
 * (the fake, a real HTTP server) is held until the test lets it answer, and the workflow's clock is
 * moved by the test server (env.sleep), so which comes first is set by the test: time skips only
 * while the test awaits through the client, never while it polls, and while an activity runs the
 * test server's clock goes at the wall clock's pace.
 */
describe('the "one moment" part (time-skipping server)', () => {
  let h: WorkflowHarness;
  before(async () => {
    h = await startWorkflowHarness();
  });
  after(async () => {
    await h?.close();
  });

  /** Lets the model answer `text`; until then every chat request waits. */
  let release: (text: string) => void = () => undefined;
  beforeEach(() => {
    h.fake.reset();
    h.receiver.reset();
    const answer = new Promise<string>((resolve) => {
      release = resolve;
    });
    h.fake.setReply(() => answer);
  });

  const interimAgent: Partial<Agent> = { interim_after_seconds: 5, interim_text: 'One moment, please…' };

  /** Waits (polling, so no time skips) until the workflow has closed, then gives its result. */
  async function closed(handle: WorkflowHandle) {
    await waitFor(async () => (await handle.describe()).status.name !== 'RUNNING', { what: 'the workflow closed' });
    return handle.result() as Promise<unknown>;
  }

  const headersOf = (post: ReceivedPost): Record<string, string> => ({
    'webhook-id': String(post.headers['webhook-id']),
    'webhook-timestamp': String(post.headers['webhook-timestamp']),
    'webhook-signature': String(post.headers['webhook-signature']),
  });

  test('a model slower than the threshold: the interim part, signed, then the reply, in order', async () => {
    const { channel, signingSecret } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      agent: interimAgent,
    });
    const input = envelopeFor(channel, { text: 'Where is my order?' });
    const handle = await h.startMessage(input);
    await h.fake.waitForRequests(1, 'chat');
    // The model is thinking; 5 s pass on the workflow's clock: the interim goes out meanwhile.
    await h.env.sleep(5000);
    const [interim] = await h.receiver.waitForDelivered(1);
    assert.equal(h.fake.requestsTo('chat').length, 1, 'the model is asked once');
    release('Your order ships tomorrow.');
    assert.deepEqual(await closed(handle), { status: 'delivered', partsDelivered: 1 });

    const posts = h.receiver.delivered();
    assert.deepEqual(
      posts.map((post) => [post.headers['webhook-id'], post.headers['x-chatrelay-part'], post.fields.text]),
      [
        [`${input.messageId}.interim`, 'interim', 'One moment, please…'],
        [`${input.messageId}.0`, '1/1', 'Your order ships tomorrow.'],
      ],
    );
    assert.equal(interim, posts[0]);
    const verifier = new Webhook(signingSecret);
    for (const post of posts)
      assert.doesNotThrow(() => verifier.verify(post.rawBody, headersOf(post), { jsonParse: false }));
    assert.deepEqual(await firedTimers(handle), [5]);
    // The model step ran as its own activity, raced against the timer.
    assert.deepEqual(await activities(handle), ['answerMessage', 'composeReply']);
    // The status shows the interim's attempt as part 0, before the reply's; the outcome counts the reply.
    const status = await h.messageAdmin.status(input.messageId);
    assert.deepEqual(
      status.attempts.map((attempt) => [attempt.part, attempt.result]),
      [
        [0, 'delivered'],
        [1, 'delivered'],
      ],
    );
    assert.equal(status.parts_delivered, 1);
    // The chat's history holds the message and its reply, not the interim.
    assert.deepEqual(
      ((await h.stores.chats.get(input.chatId))?.recent ?? []).map((entry) => entry.content),
      ['Where is my order?', 'Your order ships tomorrow.'],
    );
    await h.record('interim-sent', handle);
  });

  test('a model answering just before the threshold: no interim, the timer cancelled, the reply alone', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      agent: { ...interimAgent, interim_after_seconds: 120 },
    });
    const input = envelopeFor(channel, { text: 'Quick question' });
    const handle = await h.startMessage(input);
    await h.fake.waitForRequests(1, 'chat');
    // 6 of the 120 seconds pass on the workflow's clock, then the model answers. (While the model
    // step runs, the test server's clock goes at the pace of the wall clock: the rest of the
    // threshold, 114 s, is the margin a slow machine has to finish the reply.)
    await h.env.sleep(6000);
    assert.equal(h.receiver.posts.length, 0, 'nothing was sent before the threshold');
    release('Sure, ask away.');
    assert.deepEqual(await closed(handle), { status: 'delivered', partsDelivered: 1 });
    assert.deepEqual(
      h.receiver.posts.map((post) => [post.headers['webhook-id'], post.fields.text]),
      [[`${input.messageId}.0`, 'Sure, ask away.']],
    );
    assert.deepEqual(await timerEvents(handle), ['started', 'cancelled']);
    const status = await h.messageAdmin.status(input.messageId);
    assert.deepEqual(
      status.attempts.map((attempt) => attempt.part),
      [1],
    );
  });

  test('a receiver asking to retry the interim while the model answers: the interim is dropped, the reply goes', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url, agent: interimAgent });
    h.receiver.answerNext({ status: 503 });
    const input = envelopeFor(channel, { text: 'Still there?' });
    const handle = await h.startMessage(input);
    await h.fake.waitForRequests(1, 'chat');
    await h.env.sleep(5000);
    // The interim's first attempt was answered 503: it waits for its retry (5 s) when the model answers.
    await waitFor(() => h.receiver.posts.length === 1, { what: 'the interim’s first attempt' });
    release('Yes, here.');
    assert.deepEqual(await closed(handle), { status: 'delivered', partsDelivered: 1 });
    assert.deepEqual(
      h.receiver.posts.map((post) => [post.headers['webhook-id'], post.status]),
      [
        [`${input.messageId}.interim`, 503],
        [`${input.messageId}.0`, 200],
      ],
    );
  });

  test('off (0): the one step answers as before, with no timer and no other activity', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    release('Hello!');
    const handle = await h.startMessage(envelopeFor(channel, { text: 'hi' }));
    assert.deepEqual(await handle.result(), { status: 'delivered', partsDelivered: 1 });
    assert.deepEqual(await activities(handle), ['answerMessage']);
    assert.deepEqual(await timerEvents(handle), []);
  });
});
