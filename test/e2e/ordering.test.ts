import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
before(async () => {
  s = await startStack();
});
after(async () => {
  await s?.close();
});

test('five messages of one chat, 50 ms apart, get five replies in order, each generated with the earlier ones; another chat does not wait', async () => {
  const endpoint = s.receiver.endpoint();
  const { channel, token } = await createChannelWithAgent(s.stores, { replyUrl: endpoint.url });
  // A slow model makes the line visible: five replies of one chat take five model calls in a row.
  s.fake.setLatency(300);
  const texts = ['one', 'two', 'three', 'four', 'five'];
  for (const text of texts) {
    const response = await postMessage(s.baseUrl, token, {
      client_id: 'alice',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text,
    });
    assert.equal(response.status, 200);
    await delay(50); // the pacing under test, not synchronisation
  }
  const other = await postMessage(s.baseUrl, token, {
    client_id: 'bob',
    page_id: channel.page_id,
    platform: 'CustomApp',
    text: 'hello from bob',
  });
  assert.equal(other.status, 200);

  const replies = await s.receiver.waitForDelivered(6, { path: endpoint.path, timeoutMs: 60_000 });
  const aliceReplies = replies.map((post) => post.fields.text).filter((text) => text !== 'Echo: hello from bob');
  assert.deepEqual(
    aliceReplies,
    texts.map((text) => `Echo: ${text}`),
  );
  const bobAt = replies.findIndex((post) => post.fields.text === 'Echo: hello from bob');
  assert.ok(bobAt < 5, `bob's reply came before alice's last (position ${bobAt + 1} of 6)`);

  // Each of alice's model calls saw every earlier message of hers and its reply.
  const aliceCalls = s.fake
    .requestsTo('chat')
    .map((request) =>
      (request.json as { messages: Array<{ role: string; content: string }> }).messages.filter(
        (m) => m.role !== 'system',
      ),
    )
    .filter((messages) => messages.some((m) => texts.includes(m.content)));
  assert.equal(aliceCalls.length, 5);
  aliceCalls.forEach((messages, index) => {
    const expected = texts.slice(0, index + 1).flatMap((text, k) =>
      k < index
        ? [
            ['user', text],
            ['assistant', `Echo: ${text}`],
          ]
        : [['user', text]],
    );
    assert.deepEqual(
      messages.map((m) => [m.role, m.content]),
      expected,
    );
  });
});
