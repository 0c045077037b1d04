import { messageWorkflowId } from '../../src/domain/ids.js';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { FAKE_AUDIO_PREFIX, fakeVoiceNote } from '../helpers/fake-model.js';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';

describe('end to end: API, worker, Temporal dev server, MongoDB-compatible server, model API, receiver', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(async () => {
    await s?.close();
  });
  beforeEach(() => {
    s.fake.reset();
    s.receiver.reset();
  });

  test('a text message is acknowledged at once and its reply arrives form-encoded', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, { replyUrl: reply.url });
    const response = await postMessage(s.baseUrl, token, {
      client_id: 'u1',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text: 'Hello',
    });
    assert.equal(response.status, 200);
    assert.equal(response.body.status, 'accepted');
    assert.match(String(response.body.message_id), /^msg_/);
    assert.equal(response.body.workflow_id, messageWorkflowId(String(response.body.message_id)));
    const [delivered] = await s.receiver.waitForDelivered(1, { path: reply.path });
    assert.deepEqual(delivered?.fields, { text: 'Echo: Hello', images: '', file: '', audio: '' });
    const messageId = String(response.body.message_id);
    const outcome = await waitFor(async () => {
      const ended = await s.stores.messages.outcome(messageId);
      return ended?.status === 'delivered' ? ended : undefined;
    });
    assert.equal(outcome.parts_delivered, 1);
    const stored = await s.stores.messages.get(messageId);
    assert.equal(stored?.page_id, channel.page_id);
    const chat = await s.stores.chats.get(stored?.chat_id ?? '');
    assert.equal(chat?.platform, 'CustomApp');
  });

  test('a message accepted right after the assistant is disconnected through the API is not answered', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, { replyUrl: reply.url });
    const admin = { authorization: `Bearer ${s.config.ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const send = (text: string) =>
      postMessage(s.baseUrl, token, { client_id: 'u-off', page_id: channel.page_id, platform: 'CustomApp', text });
    // The first message puts the connected channel in the worker's cache...
    const first = await send('Are you there?');
    await s.receiver.waitForDelivered(1, { path: reply.path });
    // ...and the next, accepted at once after the disconnect, must not be answered from that cache.
    const patched = await fetch(`${s.baseUrl}/v1/channels/${channel.id}`, {
      method: 'PATCH',
      headers: admin,
      body: JSON.stringify({ assistant_connected: false }),
    });
    assert.equal(patched.status, 200);
    const second = await send('Still there?');
    assert.equal(second.status, 200);
    const outcome = await waitFor(
      async () => (await s.stores.messages.outcome(String(second.body.message_id))) ?? undefined,
    );
    assert.equal(outcome.status, 'not_answered');
    assert.equal((await s.stores.messages.outcome(String(first.body.message_id)))?.status, 'delivered');
    assert.equal(s.receiver.delivered(reply.path).length, 1, 'no reply to the second message');
  });

  test('a long reply arrives as several parts, in order, with its media', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, {
      replyUrl: reply.url,
      channel: { max_message_length: 160 },
    });
    const paragraphs = [
      'Here is the first part of a long answer, which talks about shipping times in some detail.',
      'The second part covers returns: you can send anything back within thirty days of delivery.',
      'Finally, here is our catalogue: https://example.com/files/catalogue.pdf and a photo ![shop](https://example.com/img/shop.jpg)',
    ];
    s.fake.replyNext(paragraphs.join('\n\n'));
    const response = await postMessage(s.baseUrl, token, {
      client_id: 'u2',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text: 'Tell me everything',
    });
    assert.equal(response.status, 200);
    const replies = await s.receiver.waitForDelivered(3, { path: reply.path });
    assert.equal(replies.length, 3);
    assert.deepEqual(
      replies.map((post) => post.fields.text),
      [paragraphs[0], paragraphs[1], 'Finally, here is our catalogue: and a photo'],
    );
    assert.equal(replies[2]?.fields.file, 'https://example.com/files/catalogue.pdf');
    assert.equal(replies[2]?.fields.images, 'https://example.com/img/shop.jpg');
    assert.deepEqual(
      replies.map((post) => post.headers['x-chatrelay-part']),
      ['1/3', '2/3', '3/3'],
    );
  });

  test('a voice message is transcribed and, with voice replies on, the reply audio downloads from the API', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, {
      replyUrl: reply.url,
      channel: { voice_replies: 'when_user_sent_voice' },
    });
    const audioUrl = s.receiver.serve('/notes/voice.ogg', 'audio/ogg', fakeVoiceNote('Do you ship to Canada?'));
    const response = await postMessage(s.baseUrl, token, {
      client_id: 'u3',
      page_id: channel.page_id,
      platform: 'CustomApp',
      audio: audioUrl,
    });
    assert.equal(response.status, 200);
    const [delivered] = await s.receiver.waitForDelivered(1, { path: reply.path });
    assert.equal(delivered?.fields.text, 'Echo: [Voice message] Do you ship to Canada?');
    const audio = delivered?.fields.audio ?? '';
    assert.ok(audio.startsWith(`${s.config.PUBLIC_BASE_URL}/media/`), audio);
    const download = await fetch(audio);
    assert.equal(download.status, 200);
    assert.equal(
      Buffer.from(await download.arrayBuffer()).toString(),
      `${FAKE_AUDIO_PREFIX}Echo: [Voice message] Do you ship to Canada?`,
    );
  });

  test('a retried POST with the same message_id is answered with the same ids and one reply', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, { replyUrl: reply.url });
    const body = {
      client_id: 'u4',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text: 'once',
      message_id: 'abc-1',
    };
    const first = await postMessage(s.baseUrl, token, body);
    const second = await postMessage(s.baseUrl, token, body);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(second.body.message_id, first.body.message_id);
    assert.equal(second.body.duplicate, true);
    await s.receiver.waitForDelivered(1, { path: reply.path });
    const outcome = await waitFor(async () => {
      const ended = await s.stores.messages.outcome(String(first.body.message_id));
      return ended?.status === 'delivered' ? ended : undefined;
    });
    assert.equal(outcome.parts_delivered, 1);
    // A third POST after the reply went out is still recognised.
    assert.equal((await postMessage(s.baseUrl, token, body)).body.duplicate, true);
    assert.equal(s.receiver.posts.filter((post) => post.path === reply.path).length, 1);
  });

  test('the admin API shows a message, lists the channel, redelivers from part 2 and resumes a paused channel', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, {
      replyUrl: reply.url,
      channel: { max_message_length: 40 },
    });
    const admin = { authorization: `Bearer ${s.config.ADMIN_TOKEN}`, 'content-type': 'application/json' };
    s.fake.replyNext('First part of the answer.\n\nSecond part of the answer.');
    const posted = await postMessage(s.baseUrl, token, {
      client_id: 'u5',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text: 'parts please',
    });
    const messageId = String(posted.body.message_id);
    await s.receiver.waitForDelivered(2, { path: reply.path });
    const status = await waitFor(async () => {
      const response = await fetch(`${s.baseUrl}/v1/messages/${messageId}`, { headers: admin });
      const body = (await response.json()) as {
        status: string;
        parts: unknown[];
        attempts: Array<{ part: number; result: string }>;
      };
      return body.status === 'delivered' ? body : undefined;
    });
    assert.equal(status.parts.length, 2);
    assert.deepEqual(
      status.attempts.map((a) => [a.part, a.result]),
      [
        [1, 'delivered'],
        [2, 'delivered'],
      ],
    );
    assert.equal(
      (await fetch(`${s.baseUrl}/v1/messages/${messageId}`, { headers: { authorization: `Bearer ${token}` } })).status,
      401,
      'a channel token opens no admin route',
    );
    assert.equal((await fetch(`${s.baseUrl}/v1/messages/msg_unknown`, { headers: admin })).status, 404);

    const list = (await (
      await fetch(`${s.baseUrl}/v1/channels/${channel.id}/messages?limit=5`, { headers: admin })
    ).json()) as { data: Array<{ id: string; status: string }> };
    assert.deepEqual(
      list.data.map((m) => [m.id, m.status]),
      [[messageId, 'delivered']],
    );

    const redeliver = await fetch(`${s.baseUrl}/v1/messages/${messageId}/redeliver`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ from_part: 2 }),
    });
    assert.equal(redeliver.status, 202);
    const again = await s.receiver.waitForDelivered(3, { path: reply.path });
    assert.equal(again[2]?.fields.text, 'Second part of the answer.');
    assert.equal(again[2]?.headers['webhook-id'], again[1]?.headers['webhook-id']);

    // A 410 pauses the channel; resume over HTTP delivers the parked reply.
    s.receiver.answerNext({ status: 410 });
    const parked = await postMessage(s.baseUrl, token, {
      client_id: 'u5',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text: 'after gone',
    });
    await waitFor(async () => {
      const body = (await (
        await fetch(`${s.baseUrl}/v1/messages/${String(parked.body.message_id)}`, { headers: admin })
      ).json()) as { stage: string };
      return body.stage === 'paused';
    });
    const resumed = await fetch(`${s.baseUrl}/v1/channels/${channel.id}/resume`, { method: 'POST', headers: admin });
    assert.deepEqual(await resumed.json(), { channel_id: channel.id, resumed_messages: 1 });
    const afterResume = await s.receiver.waitForDelivered(4, { path: reply.path });
    assert.equal(afterResume[3]?.fields.text, 'Echo: after gone');
  });
});
