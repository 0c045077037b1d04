import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { messageWorkflowId } from '../../src/domain/ids.js';
import { createPayloadCodec, temporalDataConverter } from '../../src/temporal/data-converter.js';
import { waitFor } from '../../src/lib/wait.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';
import { fromHistory } from '../helpers/temporal.js';

/**
 * Paced parts on the real stack (issue 14, feature 6): the setting turned on through the admin
 * API, a message through the webhook, and the pauses read from the workflow's history on the
 * Temporal dev server, where they are real durable timers.
 */
describe('end to end: paced parts', () => {
  let s: Stack;
  let connection: Connection;
  before(async () => {
    s = await startStack();
    connection = await Connection.connect({ address: s.config.TEMPORAL_ADDRESS });
  });
  after(async () => {
    await connection?.close();
    await s?.close();
  });

  test('turned on through the admin API, a three-part reply arrives in order, each later part after its typing pause', async () => {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, {
      replyUrl: reply.url,
      channel: { max_message_length: 100 },
    });
    const patched = await fetch(`${s.baseUrl}/v1/channels/${channel.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${s.config.ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ typing_ms_per_char: 15, typing_max_seconds: 1 }),
    });
    assert.equal(patched.status, 200);
    const paragraphs = [
      'Let me look that up for you, it takes a moment only.',
      'Your order left our warehouse yesterday, on the truck.', // 54 characters: 810 ms
      'Anything else I can help you with today, or is that everything you needed?', // 74: 1110 ms, over the 1 s cap
    ];
    s.fake.replyNext(paragraphs.join('\n\n'));
    const response = await postMessage(s.baseUrl, token, {
      client_id: 'paced',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text: 'Where is my order?',
    });
    assert.equal(response.status, 200);
    const messageId = String(response.body.message_id);
    const delivered = await s.receiver.waitForDelivered(3, { path: reply.path });
    assert.deepEqual(
      delivered.map((post) => [post.headers['webhook-id'], post.fields.text]),
      paragraphs.map((text, index) => [`${messageId}.${index}`, text]),
    );
    const outcome = await waitFor(async () => (await s.stores.messages.outcome(messageId)) ?? undefined);
    assert.deepEqual([outcome.status, outcome.parts_delivered], ['delivered', 3]);

    const client = new Client({
      connection,
      namespace: s.config.TEMPORAL_NAMESPACE,
      dataConverter: temporalDataConverter(createPayloadCodec(s.config)),
    });
    const handle = client.workflow.getHandle(messageWorkflowId(messageId));
    await waitFor(async () => (await handle.describe()).status.name === 'COMPLETED', {
      what: 'the workflow completed',
    });
    const timersMs = await fromHistory(handle, (event) => {
      const timeout = event.timerStartedEventAttributes?.startToFireTimeout;
      return timeout ? Number(timeout.seconds ?? 0) * 1000 + Math.round((timeout.nanos ?? 0) / 1e6) : undefined;
    });
    assert.deepEqual(timersMs, [54 * 15, 1000]);
  });
});
