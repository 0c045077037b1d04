import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import type { MessageAdmin } from '../../src/api/message-admin.js';
import { messagesRouter } from '../../src/api/routes/messages.js';
import {
  messageListResponseSchema,
  messageStatusSchema,
  redeliverResponseSchema,
  resumeResponseSchema,
} from '../../src/api/contracts/message.js';
import { waitFor } from '../../src/lib/wait.js';
import { ADMIN_TOKEN } from '../helpers/admin-app.js';
import { createChannelWithAgent, envelopeFor } from '../helpers/fixtures.js';
import { quietLogger, startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';
import { parseJson, run } from '../helpers/run-cli.js';

describe('chatrelay messages and channels resume, against the message API on a real worker (time-skipping server)', () => {
  let h: WorkflowHarness;
  let admin: MessageAdmin;
  let api: Server;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => run(args, { env });

  before(async () => {
    h = await startWorkflowHarness();
    admin = h.messageAdmin;
    api = createApp({
      logger: quietLogger,
      health: {},
      routers: [messagesRouter({ adminToken: ADMIN_TOKEN, messages: admin })],
    }).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => api.once('listening', resolve));
    const base = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    env = { PATH: process.env.PATH, HOME: process.env.HOME, CHATRELAY_URL: base, ADMIN_TOKEN };
  });
  after(async () => {
    api?.closeAllConnections();
    await new Promise<void>((resolve) => (api ? api.close(() => resolve()) : resolve()));
    await h?.close();
  });

  test('messages list / get / redeliver --from-part: status, paging, and a redelivery of the stored parts', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, {
      replyUrl: endpoint.url,
      channel: { max_message_length: 30 },
    });
    const earlier = envelopeFor(channel, { text: 'earlier' });
    assert.equal((await (await h.startMessage(earlier)).result()).status, 'delivered');
    h.fake.replyNext('Part one is here.\n\nPart two is here.\n\nPart three is here.');
    const input = envelopeFor(channel, { text: 'three parts please' });
    assert.equal((await (await h.startMessage(input)).result()).partsDelivered, 3);

    const list = await cli('messages', 'list', channel.id);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+CLIENT\s+STATUS\s+STAGE\s+PARTS/);
    assert.match(list.stdout, new RegExp(`^${input.messageId}\\s+\\S+\\s+delivered\\s+delivered\\s+3/3`, 'm'));
    const listed = parseJson(messageListResponseSchema, await cli('messages', 'list', channel.id, '--json'));
    assert.deepEqual(
      listed.data.map((message) => message.id),
      [input.messageId, earlier.messageId],
      'newest first',
    );
    const firstPage = await cli('messages', 'list', channel.id, '--limit', '1');
    assert.match(firstPage.stdout, /More: add --before \S+ \(or --all\)/);
    const all = parseJson(
      messageListResponseSchema,
      await cli('messages', 'list', channel.id, '--limit', '1', '--all', '--json'),
    );
    assert.deepEqual(
      all.data.map((message) => message.id),
      [input.messageId, earlier.messageId],
    );
    assert.equal(all.next_before, null);

    const shown = await cli('messages', 'get', input.messageId);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^status\s+delivered$/m);
    assert.match(shown.stdout, /^parts_delivered\s+3 of 3$/m);
    assert.match(shown.stdout, /Delivery attempts:\nPART\s+ATTEMPT/);
    const status = parseJson(messageStatusSchema, await cli('messages', 'get', input.messageId, '--json'));
    assert.deepEqual(
      status.parts.map((part) => part.characters),
      ['Part one is here.', 'Part two is here.', 'Part three is here.'].map((text) => text.length),
    );

    const nothingToSend = await cli('messages', 'redeliver', input.messageId);
    assert.equal(nothingToSend.code, 1);
    assert.match(nothingToSend.stderr, /Every part was delivered.*HTTP 409 conflict/);
    const badPart = await cli('messages', 'redeliver', input.messageId, '--from-part', '0');
    assert.equal(badPart.code, 1);
    assert.match(badPart.stderr, /from_part \(--from-part\): must be at least 1/);

    const moved = h.receiver.endpoint();
    await h.stores.channels.update(channel.id, { reply_webhook_url: moved.url });
    const redelivered = await cli('messages', 'redeliver', input.messageId, '--from-part', '2');
    assert.equal(redelivered.code, 0, redelivered.stderr);
    assert.match(redelivered.stdout, new RegExp(`Redelivering message ${input.messageId}: parts 2 to 3`));
    const workflowId = /\(workflow (\S+)\)\./.exec(redelivered.stdout)?.[1];
    assert.ok(workflowId, redelivered.stdout);
    await h.env.client.workflow.getHandle(workflowId).result();
    assert.deepEqual(
      h.receiver.delivered(moved.path).map((post) => post.fields.text),
      ['Part two is here.', 'Part three is here.'],
    );
    const again = parseJson(
      redeliverResponseSchema,
      await cli('messages', 'redeliver', input.messageId, '--from-part', '3', '--json'),
    );
    assert.deepEqual([again.message_id, again.from_part, again.part_count], [input.messageId, 3, 3]);
    await h.env.client.workflow.getHandle(again.workflow_id).result();

    const missing = await cli('messages', 'get', 'msg_missing');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /HTTP 404 not_found/);
  });

  test('channels resume: a channel paused by a 410 Gone delivers the reply that waited', async () => {
    const endpoint = h.receiver.endpoint();
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: endpoint.url });
    h.receiver.answerNext({ status: 410 });
    const input = envelopeFor(channel, { text: 'while gone' });
    const handle = await h.startMessage(input);
    await waitFor(async () => (await admin.status(input.messageId)).stage === 'paused');
    const paused = await cli('messages', 'get', input.messageId);
    assert.match(paused.stdout, /^stage\s+paused$/m);

    const resumed = await cli('channels', 'resume', channel.id);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(
      resumed.stdout.trim(),
      `Resumed channel ${channel.id}: 1 waiting message(s) deliver now, each in its chat's order.`,
    );
    assert.equal((await handle.result()).status, 'delivered');
    assert.deepEqual(
      h.receiver.delivered(endpoint.path).map((post) => post.fields.text),
      ['Echo: while gone'],
    );
    const again = parseJson(resumeResponseSchema, await cli('channels', 'resume', channel.id, '--json'));
    assert.deepEqual(again, { channel_id: channel.id, resumed_messages: 0 });
    assert.equal((await cli('channels', 'resume', 'chn_missing')).code, 1);
  });
});
