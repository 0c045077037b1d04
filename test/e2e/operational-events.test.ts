import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { waitFor } from '../../src/lib/wait.js';
import type { ReceivedPost } from '../helpers/receiver.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';

/** The event's body, after its Standard Webhooks signature is verified with the channel's secret (throws if not). */
function verifiedEvent(post: ReceivedPost, secret: string): { type: string; timestamp: string; data: unknown } {
  return new Webhook(secret).verify(post.rawBody, {
    'webhook-id': String(post.headers['webhook-id']),
    'webhook-timestamp': String(post.headers['webhook-timestamp']),
    'webhook-signature': String(post.headers['webhook-signature']),
  }) as { type: string; timestamp: string; data: unknown };
}

describe('end to end: operational events reach the events URL, signed', () => {
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

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${s.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${s.config.ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    }).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
    }));

  let pages = 0;
  /** A channel made through the admin API with an events URL; its API token and signing secret as shown once. */
  async function channelWithEvents() {
    const agent = await admin('POST', '/v1/agents', { name: 'events agent', system_prompt: 'Be brief.' });
    assert.equal(agent.status, 201);
    const replies = s.receiver.endpoint();
    const events = s.receiver.endpoint();
    const created = await admin('POST', '/v1/channels', {
      agent_id: agent.body.id,
      page_id: `events-e2e-${(pages += 1)}`,
      reply_webhook_url: replies.url,
      events_url: events.url,
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.events_url, events.url);
    return {
      channelId: String(created.body.id),
      pageId: String(created.body.page_id),
      token: String(created.body.api_token),
      secret: String(created.body.signing_secret),
      replies,
      events,
    };
  }

  /** Sends a message to the channel, then waits for the first event at its events URL (verified). */
  async function sendAndAwaitEvent(channel: Awaited<ReturnType<typeof channelWithEvents>>, clientId: string) {
    const response = await postMessage(s.baseUrl, channel.token, {
      client_id: clientId,
      page_id: channel.pageId,
      platform: 'CustomApp',
      text: 'Hello?',
    });
    assert.equal(response.status, 200);
    const [post] = await s.receiver.waitForDelivered(1, { path: channel.events.path });
    assert.ok(post);
    return { messageId: String(response.body.message_id), post, event: verifiedEvent(post, channel.secret) };
  }

  test('a message the model refuses ends failed; the events URL gets message.failed, signed with the channel secret', async () => {
    const channel = await channelWithEvents();
    s.fake.failNext('chat', 1, 400); // non-retryable: the fallback reply goes out and the message fails
    const { messageId, post, event } = await sendAndAwaitEvent(channel, 'user-42');
    const outcome = await waitFor(async () => (await s.stores.messages.outcome(messageId)) ?? undefined);
    assert.equal(outcome.status, 'failed');
    const stored = await s.stores.messages.get(messageId);
    assert.equal(event.type, 'message.failed');
    assert.deepEqual(event.data, {
      message_id: messageId,
      chat_id: stored?.chat_id,
      client_id: 'user-42',
      reason: outcome.reason,
    });
    assert.equal(post.headers['webhook-id'], `message.failed:${messageId}`);
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal(s.receiver.delivered(channel.replies.path).length, 1, 'the user still got the fallback reply');
    const status = await admin('GET', `/v1/messages/${messageId}`);
    assert.equal(status.body.status, 'failed');
  });

  test('a receiver answering 410 pauses delivery and the events URL gets channel.delivery_paused; the resume delivers', async () => {
    const channel = await channelWithEvents();
    s.receiver.answerNext({ status: 410 }); // the reply's first POST
    const { messageId, event } = await sendAndAwaitEvent(channel, 'user-43');
    assert.equal(event.type, 'channel.delivery_paused');
    assert.deepEqual(event.data, { channel_id: channel.channelId, message_id: messageId });
    assert.equal((await admin('GET', `/v1/channels/${channel.channelId}`)).body.delivery_paused, true);
    await waitFor(async () => (await admin('GET', `/v1/messages/${messageId}`)).body.stage === 'paused');
    assert.equal((await admin('POST', `/v1/channels/${channel.channelId}/resume`)).status, 200);
    await s.receiver.waitForDelivered(1, { path: channel.replies.path });
    const outcome = await waitFor(async () => (await s.stores.messages.outcome(messageId)) ?? undefined);
    assert.equal(outcome.status, 'delivered');
    assert.equal(s.receiver.delivered(channel.events.path).length, 1, 'one event for the one 410');
  });
});
