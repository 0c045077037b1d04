/**
 * Rotating a channel's API token on the real stack (issue 24, item 16): what was accepted before
 * the rotation is answered; what an API process accepted with the old token after it (its channel
 * cache had not seen the rotation yet) is refused.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { generateApiToken } from '../../src/lib/secrets.js';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { postMessage, postText, startStack, type Stack } from '../helpers/stack.js';

const textFrom = (pageId: string, clientId: string, text: string) => ({
  client_id: clientId,
  page_id: pageId,
  platform: 'CustomApp',
  text,
});

describe('end to end: rotating a channel token', () => {
  let s: Stack;
  before(async () => {
    // A long channel cache, so that "an API process that has not seen the rotation yet" lasts the
    // whole test rather than a second that a loaded machine might let pass.
    s = await startStack({ env: { CHANNEL_CACHE_TTL_MS: '60000' } });
  });
  after(async () => {
    await s?.close();
  });
  beforeEach(() => {
    s.fake.reset();
    s.receiver.reset();
  });

  const ended = (messageId: string) =>
    waitFor(async () => (await s.stores.messages.outcome(messageId)) ?? undefined, {
      timeoutMs: 30_000,
      what: `message ${messageId} to end`,
    });

  test('messages accepted before the rotation, one waiting for the model and one queued behind it, are answered', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, { replyUrl: reply.url });
    const sender = { token, pageId: channel.page_id };
    // The model is slow: the first message is admitted and waiting for it when the token changes.
    s.fake.delayNext('chat', 3_000, 2);
    const first = await postText(s.baseUrl, sender, 'rotation-e2e', 'first, before the rotation');
    const second = await postText(s.baseUrl, sender, 'rotation-e2e', 'second, queued behind it');
    await s.fake.waitForRequests(1, 'chat', 20_000);

    const rotated = await fetch(`${s.baseUrl}/v1/channels/${channel.id}/rotate-token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.config.ADMIN_TOKEN}` },
    });
    assert.equal(rotated.status, 200);

    const outcomes = [await ended(first), await ended(second)];
    assert.deepEqual(
      outcomes.map((outcome) => [outcome.status, outcome.reason ?? null]),
      [
        ['delivered', null],
        ['delivered', null],
      ],
    );
    assert.equal((await s.receiver.waitForDelivered(2, { path: reply.path })).length, 2);
    // And the old token no longer gets in at this process, which made the rotation.
    const refused = await postMessage(s.baseUrl, token, textFrom(channel.page_id, 'rotation-e2e', 'old token'));
    assert.equal(refused.status, 401);
  });

  test('a message accepted with the old token after the rotation, by a process whose cache had not seen it, is refused', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token: oldToken } = await createChannelWithAgent(s.stores, { replyUrl: reply.url });
    const sender = { token: oldToken, pageId: channel.page_id };
    // This process caches the channel with its current token.
    const before = await postText(s.baseUrl, sender, 'stale-e2e', 'before the rotation');
    assert.equal((await ended(before)).status, 'delivered');
    const modelCalls = s.fake.requestsTo('chat').length;

    // Another API process (here: the store it would write through) rotates the token; this one
    // does not hear of it and still holds the old token for CHANNEL_CACHE_TTL_MS.
    const newToken = generateApiToken();
    await s.stores.channels.rotateToken(channel.id, newToken);

    const stale = await postMessage(
      s.baseUrl,
      oldToken,
      textFrom(channel.page_id, 'stale-e2e', 'after the rotation, with the old token'),
    );
    if (stale.status === 200) {
      const outcome = await ended(String(stale.body.message_id));
      assert.equal(outcome.status, 'failed');
      assert.match(outcome.reason ?? '', /has been rotated/);
    } else {
      assert.equal(stale.status, 401, 'refused at the door once the cache has seen the rotation');
    }
    assert.equal(s.fake.requestsTo('chat').length, modelCalls, 'the model is not asked for it');

    assert.equal(s.receiver.delivered(reply.path).length, 1, 'only the message from before the rotation got a reply');
  });
});
