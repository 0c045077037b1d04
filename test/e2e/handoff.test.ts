import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { HANDOFF_REQUESTED_REASON, HANDOFF_TOOL_NAME, HELD_FOR_PERSON_REASON } from '../../src/domain/handoff.js';
import { chatControlResponseSchema } from '../../src/api/contracts/handoff.js';
import { messageListResponseSchema, messageStatusSchema } from '../../src/api/contracts/message.js';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';

const HANDOFF_TEXT = 'Let me get a colleague for you; a person will answer here shortly.';

describe('end to end: human handoff on the real stack', () => {
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

  const admin = (method: string, path: string) =>
    fetch(`${s.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${s.config.ADMIN_TOKEN}` } }).then(
      async (response) => {
        const body: unknown = await response.json();
        return { status: response.status, body };
      },
    );

  test('the model hands the chat to a person, the next message waits unanswered, and after a resume the assistant answers again', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, {
      replyUrl: reply.url,
      agent: { handoff_text: HANDOFF_TEXT },
    });
    const send = async (text: string) => {
      const response = await postMessage(s.baseUrl, token, {
        client_id: 'handoff-e2e',
        page_id: channel.page_id,
        platform: 'CustomApp',
        text,
      });
      assert.equal(response.status, 200);
      return String(response.body.message_id);
    };
    const ended = (messageId: string) =>
      waitFor(async () => (await s.stores.messages.outcome(messageId)) ?? undefined, { timeoutMs: 20_000 });
    const status = async (messageId: string) =>
      messageStatusSchema.parse((await admin('GET', `/v1/messages/${messageId}`)).body);

    // The fake model, as the demo model, calls a tool the request offers when the user's text asks for it.
    const first = await send(`I want to speak to a human #call:${HANDOFF_TOOL_NAME}`);
    const [handoff] = await s.receiver.waitForDelivered(1, { path: reply.path });
    assert.equal(handoff?.fields.text, HANDOFF_TEXT);
    assert.equal(handoff?.headers['webhook-id'], `${first}.0`);
    assert.equal((await ended(first)).status, 'delivered');
    const firstStatus = await status(first);
    assert.equal(firstStatus.status, 'delivered');
    assert.equal(firstStatus.reason, HANDOFF_REQUESTED_REASON);
    const chatId = (await s.stores.messages.get(first))?.chat_id ?? '';
    assert.equal((await s.stores.chats.get(chatId))?.handoff?.by, 'model');

    const second = await send('Hello? Is someone there?');
    assert.equal((await ended(second)).status, 'not_answered');
    const listed = messageListResponseSchema.parse((await admin('GET', `/v1/channels/${channel.id}/messages`)).body);
    assert.deepEqual(
      listed.data.map((message) => [message.id, message.status, message.reason]),
      [
        [second, 'not_answered', HELD_FOR_PERSON_REASON],
        [first, 'delivered', HANDOFF_REQUESTED_REASON],
      ],
    );
    assert.equal(s.fake.requestsTo('chat').length, 1, 'the model is not asked while a person has the chat');

    const resumed = await admin('POST', `/v1/channels/${channel.id}/chats/${chatId}/resume`);
    assert.equal(resumed.status, 200);
    assert.equal(chatControlResponseSchema.parse(resumed.body).applied, true);

    const third = await send('Thanks, all sorted');
    const replies = await s.receiver.waitForDelivered(2, { path: reply.path });
    assert.equal(replies[1]?.fields.text, 'Echo: Thanks, all sorted');
    assert.equal((await ended(third)).status, 'delivered');
    assert.equal(s.receiver.delivered(reply.path).length, 2, 'nothing was sent for the held message');
  });
});
