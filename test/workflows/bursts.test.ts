import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { fakeVoiceNote } from '../helpers/fake-model.js';
import type { Channel, InboundEnvelope } from '../../src/domain/models.js';
import { randomId } from '../../src/lib/secrets.js';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

/** The durations of the timers a workflow started, in ms. */
async function timersOf(handle: WorkflowHandle): Promise<number[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const timeout = event.timerStartedEventAttributes?.startToFireTimeout;
    return timeout ? [Number(timeout.seconds ?? 0) * 1000 + Math.round((timeout.nanos ?? 0) / 1e6)] : [];
  });
}

/** The non-system messages a model request carried, as [role, content]. */
function conversation(json: unknown): Array<[string, string]> {
  return (json as { messages: Array<{ role: string; content: unknown }> }).messages
    .filter((message) => message.role !== 'system')
    .map((message) => [message.role, String(message.content)]);
}

describe('bursts and stale replies (time-skipping server)', () => {
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

  /** Messages of one end user of `channel`, received at `receivedAt`. */
  const messagesOf = (channel: Channel, texts: string[], receivedAt: string): InboundEnvelope[] => {
    const clientId = `burst-${Math.random().toString(36).slice(2, 8)}`;
    return texts.map((text) => ({ ...envelopeFor(channel, { client_id: clientId, text }), receivedAt }));
  };
  const history = async (chatId: string) =>
    ((await h.stores.chats.get(chatId))?.recent ?? []).map((entry) => [entry.role, entry.content]);

  describe('burst coalescing', () => {
    test('an absorbed message whose answerer ended without a reply says so in its status (issue 23, item 7)', async () => {
      const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
      const [earlier, newer] = messagesOf(channel, ['hi', 'are you there?'], new Date().toISOString());
      for (const [index, message] of [earlier!, newer!].entries()) {
        await h.stores.messages.insert({
          _id: message.messageId,
          workflow_id: `chatrelay-message-${message.messageId}`,
          channel_id: channel.id,
          page_id: channel.page_id,
          client_id: message.message.client_id,
          chat_id: message.chatId,
          platform: message.message.platform,
          status: 'processing',
          stage: 'accepted',
          inbound: message.message,
          received_at: new Date(message.receivedAt),
          line_seq: index + 1,
        });
      }
      // The earlier one was absorbed into the newer one, which its channel then refused in its turn.
      await h.stores.messages.saveOutcome(earlier!.messageId, {
        status: 'coalesced',
        partsDelivered: 0,
        answeredBy: newer!.messageId,
      });
      await h.stores.messages.saveOutcome(newer!.messageId, {
        status: 'failed',
        partsDelivered: 0,
        reason: 'the channel no longer exists',
      });
      const status = await h.messageAdmin.status(earlier!.messageId);
      assert.equal(status.status, 'coalesced');
      assert.equal(status.answered_by, newer!.messageId);
      assert.equal(
        status.reason,
        `the message it was absorbed into (${newer!.messageId}) ended failed without a reply: the channel no longer exists`,
      );
    });

    test('three messages within the window get one reply, generated with all three; each absorbed one names the message that answered it', async () => {
      const { channel } = await createChannelWithAgent(h.stores, {
        replyUrl: h.receiver.url,
        channel: { coalesce_window_seconds: 30 },
      });
      // Received now by the server's clock, so the window is still open when the messages start.
      const now = new Date(await h.env.currentTimeMs()).toISOString();
      const [first, second, third] = messagesOf(channel, ['hi', 'I have a question', 'about my order'], now);
      const handles = [];
      for (const message of [first!, second!, third!]) handles.push(await h.startMessage(message));
      // One result awaited at a time: each wait lets the test server skip time, and concurrent
      // waits leave its clock locked for the tests after this one.
      const [a, b, c] = [await handles[0]!.result(), await handles[1]!.result(), await handles[2]!.result()];

      assert.deepEqual(a, { status: 'coalesced', partsDelivered: 0, answeredBy: second!.messageId });
      assert.deepEqual(b, { status: 'coalesced', partsDelivered: 0, answeredBy: third!.messageId });
      assert.deepEqual(c, { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(
        h.receiver.delivered().map((post) => post.fields.text),
        ['Echo: about my order'],
        'one reply for the burst',
      );
      const requests = h.fake.requestsTo('chat');
      assert.equal(requests.length, 1, 'one model call');
      assert.deepEqual(conversation(requests[0]?.json), [
        ['user', 'hi'],
        ['user', 'I have a question'],
        ['user', 'about my order'],
      ]);
      assert.deepEqual(await history(first!.chatId), [
        ['user', 'hi'],
        ['user', 'I have a question'],
        ['user', 'about my order'],
        ['assistant', 'Echo: about my order'],
      ]);
      // The status API follows the chain to the reply that answered the burst.
      for (const absorbed of [first!, second!]) {
        const status = await h.messageAdmin.status(absorbed.messageId);
        assert.equal(status.status, 'coalesced');
        assert.equal(status.stage, 'coalesced');
        assert.equal(status.answered_by, third!.messageId);
        assert.equal(status.parts_delivered, 0);
      }
      assert.equal((await h.messageAdmin.status(third!.messageId)).answered_by, null);
      const listed = await h.messageAdmin.listForChannel(channel.id, { limit: 10 });
      assert.deepEqual(
        listed.data.map((summary) => [summary.id, summary.status, summary.answered_by]).sort(),
        [
          [first!.messageId, 'coalesced', third!.messageId],
          [second!.messageId, 'coalesced', third!.messageId],
          [third!.messageId, 'delivered', null],
        ].sort(),
      );
      // One timer for the first message: its window. The others' windows were over by their turn.
      const firstTimers = await timersOf(handles[0]!);
      assert.equal(firstTimers.length, 1);
      assert.ok(firstTimers[0]! > 0 && firstTimers[0]! <= 30_000, `window timer ${firstTimers[0]} ms`);
      await h.record('coalesced-into-later', handles[0]!);
      await h.record('coalesced-burst-answered', handles[2]!);
    });

    test('a message arriving after the window of the previous one: each is answered on its own', async () => {
      const { channel } = await createChannelWithAgent(h.stores, {
        replyUrl: h.receiver.url,
        channel: { coalesce_window_seconds: 5 },
      });
      // The first was received 10 s before the second is claimed (now): its window is long over.
      const [first] = messagesOf(channel, ['first question'], new Date(Date.now() - 10_000).toISOString());
      const second = { ...envelopeFor(channel, { client_id: first!.message.client_id, text: 'second question' }) };
      const firstHandle = await h.startMessage(first!);
      const secondHandle = await h.startMessage(second);
      assert.deepEqual(await firstHandle.result(), { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(await secondHandle.result(), { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(
        h.receiver.delivered().map((post) => post.fields.text),
        ['Echo: first question', 'Echo: second question'],
      );
      assert.deepEqual(await timersOf(firstHandle), [], 'no timer: the window was over before the turn came');
      assert.deepEqual(await history(first!.chatId), [
        ['user', 'first question'],
        ['assistant', 'Echo: first question'],
        ['user', 'second question'],
        ['assistant', 'Echo: second question'],
      ]);
    });

    test('a voice note followed by a text within the window: transcribed, kept in the history, and answered by the text’s reply', async () => {
      const { channel } = await createChannelWithAgent(h.stores, {
        replyUrl: h.receiver.url,
        channel: { coalesce_window_seconds: 30 },
        agent: { voice_prefix: '[Voice] ' },
      });
      const now = new Date(await h.env.currentTimeMs()).toISOString();
      const audio = h.receiver.serve(`/voice-${randomId(4)}.mp3`, 'audio/mpeg', fakeVoiceNote('my parcel is late'));
      const [voice, text] = messagesOf(channel, ['', 'what can you do?'], now);
      delete voice!.message.text;
      voice!.message.audio = audio;
      const voiceHandle = await h.startMessage(voice!);
      const textHandle = await h.startMessage(text!);
      assert.deepEqual(await voiceHandle.result(), {
        status: 'coalesced',
        partsDelivered: 0,
        answeredBy: text!.messageId,
      });
      assert.deepEqual(await textHandle.result(), { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(conversation(h.fake.requestsTo('chat')[0]?.json), [
        ['user', '[Voice] my parcel is late'],
        ['user', 'what can you do?'],
      ]);
      assert.deepEqual(
        h.receiver.delivered().map((post) => post.fields.text),
        ['Echo: what can you do?'],
      );
    });
  });

  describe('stale replies', () => {
    test('a newer message during the reply delay: the stale reply is dropped, and the newer reply is generated with both messages', async () => {
      const { channel } = await createChannelWithAgent(h.stores, {
        replyUrl: h.receiver.url,
        channel: { supersede_stale_replies: true, reply_delay_seconds: 60 },
      });
      const [older, newer] = messagesOf(
        channel,
        ['Where is my order?', 'Actually, cancel it'],
        new Date().toISOString(),
      );
      const olderHandle = await h.startMessage(older!);
      // Its reply written: it waits out its delay (a query would hold the test server's clock still).
      await waitFor(() => h.stores.messages.reply(older!.messageId), { what: 'the older reply written' });
      const newerHandle = await h.startMessage(newer!);
      assert.deepEqual(await olderHandle.result(), {
        status: 'superseded',
        partsDelivered: 0,
        answeredBy: newer!.messageId,
      });
      assert.deepEqual(await newerHandle.result(), { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(
        h.receiver.delivered().map((post) => post.fields.text),
        ['Echo: Actually, cancel it'],
        'the stale reply is never sent',
      );
      const requests = h.fake.requestsTo('chat');
      assert.equal(requests.length, 2);
      assert.deepEqual(
        conversation(requests[1]?.json),
        [
          ['user', 'Where is my order?'],
          ['user', 'Actually, cancel it'],
        ],
        'the newer reply sees both messages, not the dropped reply',
      );
      assert.deepEqual(await history(older!.chatId), [
        ['user', 'Where is my order?'],
        ['user', 'Actually, cancel it'],
        ['assistant', 'Echo: Actually, cancel it'],
      ]);
      const status = await h.messageAdmin.status(older!.messageId);
      assert.equal(status.status, 'superseded');
      assert.equal(status.stage, 'superseded');
      assert.equal(status.answered_by, newer!.messageId);
      assert.equal(status.part_count, 1, 'the dropped reply is kept in the record');
      assert.equal(status.parts_delivered, 0);
      assert.deepEqual(status.attempts, []);
      await h.record('superseded-during-delay', olderHandle);
    });

    test('a newer message while the reply is being delivered: the reply is finished, then the newer one is answered, in order', async () => {
      const { channel } = await createChannelWithAgent(h.stores, {
        replyUrl: h.receiver.url,
        channel: { supersede_stale_replies: true, max_message_length: 100 },
      });
      const paragraphs = [
        'A first paragraph of the older reply, long enough to be a part of its own.',
        'And a second paragraph of it, which goes out as the second part.',
      ];
      h.fake.replyNext(paragraphs.join('\n\n'));
      // The first part goes out, the second waits for a retry: the reply's delivery has started.
      h.receiver.answerNext({ status: 200 }, { status: 503 });
      const [older, newer] = messagesOf(
        channel,
        ['tell me everything', 'and one more thing'],
        new Date().toISOString(),
      );
      const olderHandle = await h.startMessage(older!);
      await waitFor(() => h.receiver.delivered().length >= 1, { what: 'the first part delivered' });
      const newerHandle = await h.startMessage(newer!);
      assert.deepEqual(await olderHandle.result(), { status: 'delivered', partsDelivered: 2 });
      assert.deepEqual(await newerHandle.result(), { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(
        h.receiver.delivered().map((post) => post.fields.text),
        [...paragraphs, 'Echo: and one more thing'],
      );
      assert.deepEqual(conversation(h.fake.requestsTo('chat')[1]?.json), [
        ['user', 'tell me everything'],
        ['assistant', paragraphs.join('\n\n')],
        ['user', 'and one more thing'],
      ]);
    });
  });
});
