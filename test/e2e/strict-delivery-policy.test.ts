import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';

/**
 * The reply path under production's address policy (DELIVERY_ALLOW_PRIVATE off), on the real
 * stack: the worker's POSTs go through the guard. Only 127.0.0.1 is allowed, by name, so the same
 * receiver is reachable as `127.0.0.1` and refused as `localhost` (a host name that resolves to a
 * loopback address, which the API cannot see when the URL is set: the worker checks at connect).
 */
describe('replies under the strict delivery policy', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ env: { DELIVERY_ALLOW_PRIVATE: 'false', DELIVERY_ALLOW_HOSTS: '127.0.0.1' } });
  });
  after(async () => {
    await s?.close();
  });

  const outcomeOf = (messageId: string) =>
    waitFor(async () => (await s.stores.messages.outcome(messageId)) ?? undefined, {
      timeoutMs: 60_000,
      what: `the outcome of ${messageId}`,
    });

  test('an allowed receiver gets its reply; a host name resolving to loopback is refused at connect, nothing sent', async () => {
    assert.equal(s.config.DELIVERY_ALLOW_PRIVATE, false);
    const allowed = s.receiver.endpoint();
    const refused = s.receiver.endpoint();
    const refusedUrl = refused.url.replace('//127.0.0.1:', '//localhost:');
    assert.notEqual(refusedUrl, refused.url);
    const open = await createChannelWithAgent(s.stores, { replyUrl: allowed.url });
    const guarded = await createChannelWithAgent(s.stores, { replyUrl: refusedUrl });
    const send = (channel: typeof open) =>
      postMessage(s.baseUrl, channel.token, {
        client_id: 'u1',
        page_id: channel.channel.page_id,
        platform: 'CustomApp',
        text: 'Hello',
      });
    const [sentOpen, sentGuarded] = await Promise.all([send(open), send(guarded)]);
    assert.equal(sentOpen.status, 200);
    assert.equal(sentGuarded.status, 200);

    const [delivered] = await s.receiver.waitForDelivered(1, { path: allowed.path });
    assert.equal(delivered?.fields.text, 'Echo: Hello');
    assert.equal((await outcomeOf(String(sentOpen.body.message_id))).status, 'delivered');

    const guardedId = String(sentGuarded.body.message_id);
    assert.equal((await outcomeOf(guardedId)).status, 'failed');
    const attempts = await s.stores.messages.attempts(guardedId);
    assert.ok(attempts.length > 0, 'the POST was tried');
    for (const attempt of attempts) {
      assert.equal(attempt.result, 'rejected', JSON.stringify(attempt));
      assert.match(attempt.error ?? '', /loopback, private, link-local or reserved/);
    }
    assert.deepEqual(s.receiver.delivered(refused.path), [], 'nothing reached the receiver');
  });
});
