import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { MessageStatusResponse, MessageSummary } from '../../src/api/contracts/message.js';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';

describe('end to end: bursts answered once, stale replies dropped', () => {
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

  const admin = () => ({ authorization: `Bearer ${s.config.ADMIN_TOKEN}`, 'content-type': 'application/json' });
  /** A channel with its settings changed through the admin API, as an operator would. */
  async function channelWith(settings: Record<string, unknown>) {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, { replyUrl: reply.url });
    const patched = await fetch(`${s.baseUrl}/v1/channels/${channel.id}`, {
      method: 'PATCH',
      headers: admin(),
      body: JSON.stringify(settings),
    });
    assert.equal(patched.status, 200);
    const shown = (await patched.json()) as Record<string, unknown>;
    assert.deepEqual(Object.fromEntries(Object.keys(settings).map((key) => [key, shown[key]])), settings);
    return { channel, token, reply };
  }
  async function send(token: string, pageId: string, clientId: string, text: string): Promise<string> {
    const response = await postMessage(s.baseUrl, token, {
      client_id: clientId,
      page_id: pageId,
      platform: 'App',
      text,
    });
    assert.equal(response.status, 200);
    return String(response.body.message_id);
  }
  const status = async (messageId: string): Promise<MessageStatusResponse> =>
    (await (
      await fetch(`${s.baseUrl}/v1/messages/${messageId}`, { headers: admin() })
    ).json()) as MessageStatusResponse;
  const settled = (messageId: string, expected: string) =>
    waitFor(
      async () => {
        const current = await status(messageId);
        return current.status === expected ? current : undefined;
      },
      { what: `${messageId} ${expected}`, timeoutMs: 60_000 },
    );
  const userTurns = (json: unknown) =>
    (json as { messages: Array<{ role: string; content: string }> }).messages
      .filter((message) => message.role !== 'system')
      .map((message) => [message.role, message.content]);

  test('three messages of one user within the window: one reply generated with all three, the first two coalesced into the third', async () => {
    const { channel, token, reply } = await channelWith({ coalesce_window_seconds: 8 });
    const texts = ['hi', 'I have a question', 'about my order'];
    const ids: string[] = [];
    for (const text of texts) ids.push(await send(token, channel.page_id, 'dana', text));
    const [first, second, third] = ids as [string, string, string];

    await settled(third, 'delivered');
    for (const absorbed of [first, second]) {
      const shown = await settled(absorbed, 'coalesced');
      assert.equal(shown.stage, 'coalesced');
      assert.equal(shown.answered_by, third, 'the message whose reply answered it');
      assert.equal(shown.parts_delivered, 0);
    }
    assert.deepEqual(
      s.receiver.delivered(reply.path).map((post) => post.fields.text),
      ['Echo: about my order'],
    );
    const calls = s.fake.requestsTo('chat');
    assert.equal(calls.length, 1, 'one model call for the burst');
    assert.deepEqual(
      userTurns(calls[0]?.json),
      texts.map((text) => ['user', text]),
    );
    const list = (await (
      await fetch(`${s.baseUrl}/v1/channels/${channel.id}/messages`, { headers: admin() })
    ).json()) as { data: MessageSummary[] };
    assert.deepEqual(
      Object.fromEntries(list.data.map((summary) => [summary.id, [summary.status, summary.answered_by]])),
      { [first]: ['coalesced', third], [second]: ['coalesced', third], [third]: ['delivered', null] },
    );
  });

  test('a newer message during the reply delay: the stale reply is never sent, the newer one answers both', async () => {
    const { channel, token, reply } = await channelWith({ supersede_stale_replies: true, reply_delay_seconds: 5 });
    const older = await send(token, channel.page_id, 'eli', 'Where is my order?');
    await waitFor(async () => (await status(older)).stage === 'waiting_reply_delay', {
      what: 'the older reply waiting out its delay',
    });
    const newer = await send(token, channel.page_id, 'eli', 'Never mind, I found it');

    await settled(newer, 'delivered');
    const dropped = await settled(older, 'superseded');
    assert.equal(dropped.answered_by, newer);
    assert.equal(dropped.part_count, 1);
    assert.equal(dropped.parts_delivered, 0);
    assert.deepEqual(dropped.attempts, [], 'nothing of the stale reply went out');
    assert.deepEqual(
      s.receiver.delivered(reply.path).map((post) => post.fields.text),
      ['Echo: Never mind, I found it'],
    );
    const calls = s.fake.requestsTo('chat');
    assert.equal(calls.length, 2);
    assert.deepEqual(userTurns(calls[1]?.json), [
      ['user', 'Where is my order?'],
      ['user', 'Never mind, I found it'],
    ]);
  });
});
