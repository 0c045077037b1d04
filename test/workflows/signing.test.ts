import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { Channel } from '../../src/domain/models.js';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import type { ReceivedPost } from '../helpers/receiver.js';
import { startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';

describe('signed replies (Standard Webhooks)', () => {
  let h: WorkflowHarness;
  before(async () => {
    h = await startWorkflowHarness();
  });
  after(async () => {
    await h?.close();
  });

  async function deliverOne(channel: Channel, replyPath: string): Promise<ReceivedPost> {
    const handle = await h.startMessage(envelopeFor(channel, { text: 'sign this, ünïcode & all' }));
    await handle.result();
    const post = h.receiver.delivered(replyPath).at(-1);
    assert.ok(post, 'a reply was delivered');
    return post;
  }
  const headersOf = (post: ReceivedPost): Record<string, string> => ({
    'webhook-id': String(post.headers['webhook-id']),
    'webhook-timestamp': String(post.headers['webhook-timestamp']),
    'webhook-signature': String(post.headers['webhook-signature']),
  });

  test('a delivered reply verifies with the standardwebhooks library, and fails once one byte is changed', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel, signingSecret } = await createChannelWithAgent(h.stores, { replyUrl: endpoint.url });
    assert.match(signingSecret, /^whsec_/);
    const post = await deliverOne(channel, endpoint.path);
    const headers = headersOf(post);
    assert.match(headers['webhook-signature'] ?? '', /^v1,[A-Za-z0-9+/=]+$/);
    assert.ok(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000) < 300);
    const verifier = new Webhook(signingSecret);
    assert.doesNotThrow(() => verifier.verify(post.rawBody, headers, { jsonParse: false }));
    const tampered = post.rawBody.replace('sign', 'sigm');
    assert.notEqual(tampered, post.rawBody);
    assert.throws(() => verifier.verify(tampered, headers, { jsonParse: false }), /No matching signature found/);
    assert.throws(() =>
      verifier.verify(post.rawBody, { ...headers, 'webhook-id': `${headers['webhook-id']}x` }, { jsonParse: false }),
    );
  });

  test('during a rotation both the old and the new secret verify; after the grace period only the new one', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel, signingSecret: oldSecret } = await createChannelWithAgent(h.stores, { replyUrl: endpoint.url });
    const newSecret = await h.stores.signingSecrets.rotate(channel.id, 3600);
    const during = await deliverOne(channel, endpoint.path);
    assert.equal(String(during.headers['webhook-signature']).split(' ').length, 2);
    for (const secret of [oldSecret, newSecret]) {
      assert.doesNotThrow(() => new Webhook(secret).verify(during.rawBody, headersOf(during), { jsonParse: false }));
    }
    // A rotation with no grace period retires the previous secrets at once.
    const newest = await h.stores.signingSecrets.rotate(channel.id, 0);
    const afterRotation = await deliverOne(channel, endpoint.path);
    assert.equal(String(afterRotation.headers['webhook-signature']).split(' ').length, 1);
    assert.doesNotThrow(() =>
      new Webhook(newest).verify(afterRotation.rawBody, headersOf(afterRotation), { jsonParse: false }),
    );
    assert.throws(() =>
      new Webhook(oldSecret).verify(afterRotation.rawBody, headersOf(afterRotation), { jsonParse: false }),
    );
  });

  test('a channel left without a signing secret gets no unsigned reply: the part waits on the retry schedule and goes out signed once it has one', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: endpoint.url });
    await h.stores.signingSecrets.deleteForChannel(channel.id);
    const input = envelopeFor(channel, { text: 'sign me or keep me' });
    const handle = await h.startMessage(input);
    // Time does not skip while the test polls: the first attempt is held back, nothing is sent.
    const held = await waitFor(async () => {
      const attempts = await h.stores.messages.attempts(input.messageId);
      return attempts.length > 0 ? attempts : undefined;
    });
    assert.deepEqual(
      held.map((attempt) => [attempt.result, attempt.http_status]),
      [['retry', undefined]],
    );
    assert.match(held[0]?.error ?? '', /no signing secret/);
    assert.equal(h.receiver.delivered(endpoint.path).length, 0, 'nothing went out unsigned');
    const secret = await h.stores.signingSecrets.create(channel.id);
    assert.equal((await handle.result()).status, 'delivered');
    const [post] = h.receiver.delivered(endpoint.path);
    assert.ok(post, 'delivered once a secret exists');
    assert.doesNotThrow(() => new Webhook(secret).verify(post.rawBody, headersOf(post), { jsonParse: false }));
  });
});
