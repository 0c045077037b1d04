import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { createChatControls, type ChatControls } from '../../src/api/chat-controls.js';
import { fakeVoiceNote } from '../helpers/fake-model.js';
import { HANDOFF_REQUESTED_REASON, HANDOFF_TOOL_NAME, HELD_FOR_PERSON_REASON } from '../../src/domain/handoff.js';
import type { InboundEnvelope } from '../../src/domain/models.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { testDataConverter } from '../helpers/temporal.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

const HANDOFF_TEXT = 'A person from our team will take over shortly.';

describe('human handoff (time-skipping server)', () => {
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

  /**
   * The admin's pause and resume, as the API does them, on the harness's server; waits `waitMs` for
   * them to apply. With `realTime`, through a plain client, whose wait does not let the server skip
   * time (the API's wait is real time too).
   */
  const controls = (waitMs?: number, realTime = false): ChatControls =>
    createChatControls({
      stores: h.stores,
      client: realTime ? new Client({ connection: h.env.connection, dataConverter: testDataConverter }) : h.env.client,
      line: h.line,
      taskQueue: h.taskQueue,
      ...(waitMs !== undefined ? { waitMs } : {}),
    });

  async function run(input: InboundEnvelope) {
    const handle = await h.startMessage(input);
    return { handle, result: await handle.result() };
  }

  /** What the model was sent in its `index`th chat request: role and text of each message. */
  const promptOf = (index: number) =>
    ((h.fake.requestsTo('chat')[index]?.json?.['messages'] ?? []) as Array<{ role: string; content: unknown }>).map(
      (message) => [message.role, message.content],
    );

  test('without a handoff text the model is offered no tool: its request is as it always was', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const { handle, result } = await run(envelopeFor(channel, { text: '#call:handoff_to_human please' }));
    assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
    // Off costs nothing: the common case's 7 history events (docs/architecture.md), one local activity.
    assert.equal((await handle.fetchHistory()).events?.length, 7);
    const [request] = h.fake.requestsTo('chat');
    assert.ok(request?.json, 'the model was asked');
    assert.equal('tools' in request.json, false);
    assert.deepEqual(
      h.receiver.delivered().map((post) => post.fields.text),
      ['Echo: #call:handoff_to_human please'],
    );
  });

  test('the model hands off: the user gets the handoff text; the next message is kept unanswered; after a resume the model answers, seeing it', async () => {
    const events = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      channel: { events_url: events.url },
      agent: { handoff_text: HANDOFF_TEXT },
    });
    const clientId = 'handoff-user';
    h.fake.callToolNext(HANDOFF_TOOL_NAME);
    const first = envelopeFor(channel, { client_id: clientId, text: 'I want to talk to a human.' });
    const handedOff = await run(first);
    assert.deepEqual(handedOff.result, { status: 'delivered', partsDelivered: 1, reason: HANDOFF_REQUESTED_REASON });
    // The tool was offered, the model called it, and the user got the agent's handoff text, signed as any reply.
    const tools = h.fake.requestsTo('chat')[0]?.json?.['tools'] as Array<{ function: { name: string } }>;
    assert.deepEqual(
      tools.map((tool) => tool.function.name),
      [HANDOFF_TOOL_NAME],
    );
    const replies = new URL(h.receiver.url).pathname;
    const [post] = h.receiver.delivered(replies);
    assert.equal(post?.fields.text, HANDOFF_TEXT);
    assert.equal(post?.headers['webhook-id'], `${first.messageId}.0`);
    const chat = await h.stores.chats.get(first.chatId);
    assert.equal(chat?.handoff?.by, 'model');
    assert.equal(chat?.handoff?.message_id, first.messageId);
    const status = await h.messageAdmin.status(first.messageId);
    assert.equal(status.status, 'delivered');
    assert.equal(status.reason, HANDOFF_REQUESTED_REASON);
    // The channel's events URL was told, once, with the message that handed off.
    await h.receiver.waitForDelivered(1, { path: events.path });
    assert.deepEqual(
      h.receiver.delivered(events.path).map((event) => {
        const body = JSON.parse(event.rawBody) as { type: string; data: Record<string, string> };
        return [body.type, body.data.message_id, body.data.chat_id, body.data.client_id];
      }),
      [['chat.handoff_requested', first.messageId, first.chatId, clientId]],
    );
    await h.record('handoff-requested', handedOff.handle);

    const second = envelopeFor(channel, { client_id: clientId, text: 'Hello? Anyone there?' });
    const held = await run(second);
    assert.deepEqual(held.result, { status: 'not_answered', partsDelivered: 0, reason: HELD_FOR_PERSON_REASON });
    assert.equal(h.fake.requestsTo('chat').length, 1, 'the model is not asked while a person has the chat');
    assert.equal(h.receiver.posts.filter((p) => p.path === replies).length, 1, 'nothing is sent for the held message');
    const heldStatus = await h.messageAdmin.status(second.messageId);
    assert.equal(heldStatus.status, 'not_answered');
    assert.equal(heldStatus.reason, HELD_FOR_PERSON_REASON);
    assert.deepEqual(
      (await h.stores.chats.get(first.chatId))?.recent?.map((entry) => [entry.role, entry.content]),
      [
        ['user', 'I want to talk to a human.'],
        ['assistant', HANDOFF_TEXT],
        ['user', 'Hello? Anyone there?'],
      ],
    );
    await h.record('held-for-person', held.handle);

    const resumed = await controls().resume(channel.id, first.chatId);
    assert.deepEqual(
      { ...resumed, workflow_id: undefined },
      { chat_id: first.chatId, assistant_paused: false, applied: true, workflow_id: undefined },
    );
    assert.equal((await h.stores.chats.get(first.chatId))?.handoff, undefined);

    const third = envelopeFor(channel, { client_id: clientId, text: 'Are you back?' });
    const answered = await run(third);
    assert.deepEqual(answered.result, { status: 'delivered', partsDelivered: 1 });
    assert.equal(h.receiver.delivered(replies).at(-1)?.fields.text, 'Echo: Are you back?');
    // The model reads the whole conversation, the message kept while a person had the chat included.
    assert.deepEqual(promptOf(1).slice(1), [
      ['user', 'I want to talk to a human.'],
      ['assistant', HANDOFF_TEXT],
      ['user', 'Hello? Anyone there?'],
      ['user', 'Are you back?'],
    ]);
    assert.equal(h.receiver.delivered(events.path).length, 1, 'no further handoff event');
  });

  test("an admin's pause takes its place in the chat's line: the message being answered is answered, the next one is not", async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const clientId = 'paused-by-admin';
    // A chat exists once its first message is in: an admin pauses chats they can see.
    await run(envelopeFor(channel, { client_id: clientId, text: 'Hi' }));
    h.fake.delayNext('chat', 1_500);
    const first = envelopeFor(channel, { client_id: clientId, text: 'Question one' });
    const firstHandle = await h.startMessage(first);
    await h.fake.waitForRequests(1, 'chat');
    // The first message holds the chat's turn: the pause waits for it (the request does not wait long).
    const pause = await controls(200, true).pause(channel.id, first.chatId);
    assert.equal(pause.applied, false);
    assert.equal(pause.assistant_paused, true);
    assert.deepEqual(await firstHandle.result(), { status: 'delivered', partsDelivered: 1 });
    const pauseHandle = h.env.client.workflow.getHandle(pause.workflow_id);
    assert.deepEqual(await pauseHandle.result(), { applied: true });
    const chat = await h.stores.chats.get(first.chatId);
    assert.equal(chat?.handoff?.by, 'admin');
    assert.deepEqual(
      chat?.recent?.map((entry) => entry.content),
      ['Hi', 'Echo: Hi', 'Question one', 'Echo: Question one'],
      'the pause kept the window the message wrote',
    );
    await h.record('chat-control-pause-in-line', pauseHandle);

    const second = envelopeFor(channel, { client_id: clientId, text: 'Question two' });
    const { result } = await run(second);
    assert.deepEqual(result, { status: 'not_answered', partsDelivered: 0, reason: HELD_FOR_PERSON_REASON });
    assert.deepEqual(
      h.receiver.delivered().map((post) => post.fields.text),
      ['Echo: Hi', 'Echo: Question one'],
    );
  });

  test('a handoff with a reply delay: the handoff text waits the delay, then goes out; the outcome says a handoff was requested', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      agent: { handoff_text: HANDOFF_TEXT },
      channel: { reply_delay_seconds: 30 },
    });
    h.fake.callToolNext(HANDOFF_TOOL_NAME);
    const input = envelopeFor(channel, { text: 'Get me a manager' });
    const { result } = await run(input);
    assert.deepEqual(result, { status: 'delivered', partsDelivered: 1, reason: HANDOFF_REQUESTED_REASON });
    assert.deepEqual(
      h.receiver.delivered().map((post) => post.fields.text),
      [HANDOFF_TEXT],
    );
    const outcome = await h.stores.messages.outcome(input.messageId);
    assert.equal(outcome?.status, 'delivered');
    assert.equal(outcome?.reason, HANDOFF_REQUESTED_REASON);
    assert.equal((await h.stores.chats.get(input.chatId))?.handoff?.by, 'model');
  });

  test('a voice note to a paused chat is transcribed into the history and not answered', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const clientId = 'voice-while-paused';
    const first = envelopeFor(channel, { client_id: clientId, text: 'Hi' });
    await run(first);
    assert.equal((await controls().pause(channel.id, first.chatId)).applied, true);
    const audio = h.receiver.serve(`/voice-${first.messageId}.ogg`, 'audio/ogg', fakeVoiceNote('Call me back'));
    const voice = envelopeFor(channel, { client_id: clientId, text: undefined, audio });
    const { result } = await run(voice);
    assert.deepEqual(result, { status: 'not_answered', partsDelivered: 0, reason: HELD_FOR_PERSON_REASON });
    assert.equal(h.fake.requestsTo('chat').length, 1, 'only the first message was answered');
    assert.deepEqual(
      (await h.stores.chats.get(first.chatId))?.recent?.map((entry) => entry.content),
      ['Hi', 'Echo: Hi', '[Voice message] Call me back'],
    );
  });

  test('pausing a chat that has no record is a 404, and so is a chat of another channel', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const { channel: other } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const input = envelopeFor(channel, { text: 'Hi' });
    await run(input);
    await assert.rejects(controls().pause(channel.id, 'cht_unknown'), { status: 404, message: 'Chat not found.' });
    await assert.rejects(controls().pause(other.id, input.chatId), { status: 404, message: 'Chat not found.' });
    await assert.rejects(controls().resume('chn_unknown', input.chatId), {
      status: 404,
      message: 'Channel not found.',
    });
    assert.equal((await h.stores.chats.get(input.chatId))?.handoff, undefined);
  });
});
