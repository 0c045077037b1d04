import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createMessageStarter } from '../../src/api/message-starter.js';
import { messageIdFor } from '../../src/api/routes/webhook.js';
import { fakeVoiceNote, FAKE_AUDIO_PREFIX } from '../helpers/fake-model.js';
import { historyEntryId } from '../../src/domain/ids.js';
import type { InboundEnvelope } from '../../src/domain/models.js';
import { randomId } from '../../src/lib/secrets.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

describe('message workflow (time-skipping server)', () => {
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

  const envelope = envelopeFor;

  async function run(input: InboundEnvelope) {
    const handle = await h.startMessage(input);
    return { handle, result: await handle.result() };
  }

  test('happy path: a 60-second reply delay passes without waiting a minute and the reply is form-encoded', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      channel: { reply_delay_seconds: 60 },
    });
    const input = envelope(channel, { text: 'What time is it?' });
    const startedAt = Date.now();
    const { handle, result } = await run(input);
    assert.ok(Date.now() - startedAt < 30_000, 'the reply delay is skipped, not waited');
    assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
    const [post] = h.receiver.delivered();
    assert.equal(post?.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.deepEqual(post?.fields, { text: 'Echo: What time is it?', images: '', file: '', audio: '' });
    assert.equal(post?.headers['webhook-id'], `${input.messageId}.0`);
    const outcome = await h.stores.messages.outcome(input.messageId);
    assert.equal(outcome?.status, 'delivered');
    assert.equal(outcome?.parts_delivered, 1);
    const history = (await h.stores.chats.get(input.chatId))?.recent ?? [];
    assert.deepEqual(
      history.map((entry) => [entry.role, entry.content]),
      [
        ['user', 'What time is it?'],
        ['assistant', 'Echo: What time is it?'],
      ],
    );
    await h.record('happy-path-with-delay', handle);
  });

  test('a receiver that fails three times then accepts gets each part exactly once, in order', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      channel: { max_message_length: 40 },
    });
    const paragraphs = [
      'First paragraph of the reply.',
      'Second paragraph of the reply.',
      'Third paragraph of the reply.',
    ];
    h.fake.replyNext(paragraphs.join('\n\n'));
    h.receiver.answerNext({ status: 503 }, { status: 500 }, { status: 429, headers: { 'retry-after': '7' } });
    const input = envelope(channel);
    const { handle, result } = await run(input);
    assert.equal(result.status, 'delivered');
    assert.equal(result.partsDelivered, 3);
    assert.deepEqual(
      h.receiver.posts.map((post) => post.status),
      [503, 500, 429, 200, 200, 200],
    );
    assert.deepEqual(
      h.receiver.delivered().map((post) => post.fields.text),
      paragraphs,
    );
    // Every attempt for a part carries the same delivery id, so a receiver can drop duplicates.
    assert.deepEqual(
      new Set(h.receiver.posts.slice(0, 4).map((post) => post.headers['webhook-id'])),
      new Set([`${input.messageId}.0`]),
    );
    const attempts = await h.stores.messages.attempts(input.messageId);
    assert.deepEqual(
      attempts.map((a) => [a.part_index, a.attempt, a.result, a.http_status]),
      [
        [0, 1, 'retry', 503],
        [0, 2, 'retry', 500],
        [0, 3, 'retry', 429],
        [0, 4, 'delivered', 200],
        [1, 1, 'delivered', 200],
        [2, 1, 'delivered', 200],
      ],
    );
    await h.record('receiver-fails-three-times', handle);
  });

  test('a receiver answering 400 gets one attempt, no retry storm, and the message is failed with the reason', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    h.receiver.answerAlways({ status: 400 });
    const input = envelope(channel);
    const { handle, result } = await run(input);
    assert.equal(result.status, 'failed');
    assert.match(result.reason ?? '', /receiver answered 400/);
    assert.equal(h.receiver.posts.length, 1);
    const stored = await h.stores.messages.outcome(input.messageId);
    assert.equal(stored?.status, 'failed');
    assert.match(stored?.reason ?? '', /part 1 of 1: receiver answered 400/);
    await h.record('receiver-rejects', handle);
  });

  test('a model that fails with 500 once is retried and the reply is delivered', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    h.fake.failNext('chat', 1, 500);
    const { handle, result } = await run(envelope(channel, { text: 'retry me' }));
    assert.equal(result.status, 'delivered');
    assert.equal(h.fake.requestsTo('chat').length, 2);
    assert.deepEqual(
      h.receiver.delivered().map((post) => post.fields.text),
      ['Echo: retry me'],
    );
    await h.record('model-fails-once', handle);
  });

  test('a model that fails permanently gives the fallback reply and records the failure', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      agent: { fallback_reply: 'We will get back to you shortly.' },
    });
    h.fake.failNext('chat', 1, 400, { message: 'model not found' });
    const input = envelope(channel);
    const { handle, result } = await run(input);
    assert.equal(result.status, 'failed');
    assert.match(result.reason ?? '', /HTTP 400/);
    assert.equal(h.fake.requestsTo('chat').length, 1, 'a permanent model error is not retried');
    assert.deepEqual(
      h.receiver.delivered().map((post) => post.fields.text),
      ['We will get back to you shortly.'],
    );
    const stored = await h.stores.messages.outcome(input.messageId);
    assert.equal(stored?.status, 'failed');
    assert.match(stored?.reason ?? '', /chat completion failed with HTTP 400/);
    await h.record('model-fails-permanently', handle);
  });

  test('voice in: the prefixed transcript is what the model sees', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      agent: { voice_prefix: '[Voice] ' },
    });
    const audioUrl = h.receiver.serve(`/voice-${randomId(4)}.mp3`, 'audio/mpeg', fakeVoiceNote('Where is my order?'));
    const input = envelope(channel, { text: undefined, audio: audioUrl });
    delete input.message.text;
    const { handle, result } = await run(input);
    assert.equal(result.status, 'delivered');
    const chat = h.fake.requestsTo('chat')[0];
    const messages = (chat?.json as { messages: Array<{ role: string; content: unknown }> }).messages;
    assert.deepEqual(messages.at(-1), { role: 'user', content: '[Voice] Where is my order?' });
    assert.equal(h.fake.requestsTo('transcriptions').length, 1);
    assert.deepEqual(
      h.receiver.delivered().map((post) => post.fields.text),
      ['Echo: [Voice] Where is my order?'],
    );
    await h.record('voice-in', handle);
  });

  test('voice out: the reply carries an audio URL that serves the stored speech', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      channel: { voice_replies: 'always' },
    });
    const { handle, result } = await run(envelope(channel, { text: 'say it' }));
    assert.equal(result.status, 'delivered');
    const [post] = h.receiver.delivered();
    assert.equal(post?.fields.text, 'Echo: say it');
    const audioUrl = post?.fields.audio ?? '';
    assert.ok(audioUrl.startsWith(`${h.mediaBaseUrl}/media/`), audioUrl);
    const audio = await fetch(audioUrl);
    assert.equal(audio.status, 200);
    assert.equal(audio.headers.get('content-type'), 'audio/mpeg');
    assert.equal(Buffer.from(await audio.arrayBuffer()).toString('utf8'), `${FAKE_AUDIO_PREFIX}Echo: say it`);
    await h.record('voice-out', handle);
  });

  test('a disconnected assistant stores the message in the history and sends nothing', async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      channel: { assistant_connected: false },
    });
    const input = envelope(channel, { text: 'anyone there?' });
    const { handle, result } = await run(input);
    assert.equal(result.status, 'not_answered');
    assert.equal(h.receiver.posts.length, 0);
    assert.equal(h.fake.requests.length, 0);
    const stored = await h.stores.messages.outcome(input.messageId);
    assert.equal(stored?.status, 'not_answered');
    const history = (await h.stores.chats.get(input.chatId))?.recent ?? [];
    assert.deepEqual(
      history.map((entry) => [entry.id, entry.content]),
      [[historyEntryId(input.messageId, 'user'), 'anyone there?']],
    );
    await h.record('assistant-disconnected', handle);
  });

  test("a voice message to a disconnected assistant is kept in the history with the agent's voice prefix", async () => {
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: h.receiver.url,
      agent: { voice_prefix: '[Spoken] ' },
      channel: { assistant_connected: false },
    });
    const audioUrl = h.receiver.serve(`/voice-${randomId(4)}.mp3`, 'audio/mpeg', Buffer.from('unheard'));
    const input = envelope(channel, { audio: audioUrl });
    delete input.message.text;
    const { result } = await run(input);
    assert.equal(result.status, 'not_answered');
    assert.equal(h.fake.requests.length, 0, 'nothing is transcribed or answered');
    const history = (await h.stores.chats.get(input.chatId))?.recent ?? [];
    assert.deepEqual(
      history.map((entry) => entry.content),
      [`[Spoken] (not transcribed) ${audioUrl}`],
    );
  });

  test('the same message_id posted twice produces one workflow and one reply', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const starter = createMessageStarter(h.env.client, h.taskQueue, h.line);
    const messageId = messageIdFor(channel.id, 'client-dup', 'client-message-1');
    const input = { ...envelope(channel, { client_id: 'client-dup', message_id: 'client-message-1' }), messageId };
    const first = await starter.start(input);
    const second = await starter.start({ ...input, receivedAt: new Date().toISOString() });
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(second.workflowId, first.workflowId);
    await h.env.client.workflow.getHandle(first.workflowId).result();
    // After completion too, the id stays taken.
    assert.equal((await starter.start(input)).duplicate, true);
    assert.equal(h.receiver.delivered().length, 1);
  });
});
