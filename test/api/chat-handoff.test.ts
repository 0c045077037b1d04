import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createApp } from '../../src/api/app.js';
import { createChannelAuthenticator } from '../../src/api/channel-auth.js';
import { createChatControls } from '../../src/api/chat-controls.js';
import { createAvatars } from '../../src/api/avatars.js';
import { createConversations } from '../../src/api/conversations.js';
import { createMessageStarter } from '../../src/api/message-starter.js';
import { createOverview } from '../../src/api/overview.js';
import { adminRouter } from '../../src/api/routes/admin.js';
import { chatControlsRouter } from '../../src/api/routes/chat-controls.js';
import { dashboardApiRouter } from '../../src/api/routes/dashboard-api.js';
import { agentResponseSchema } from '../../src/api/contracts/admin.js';
import { chatHistoryResponseSchema, chatListResponseSchema } from '../../src/api/contracts/dashboard.js';
import { HELD_FOR_PERSON_REASON } from '../../src/domain/handoff.js';
import { chatControlResponseSchema } from '../../src/api/contracts/handoff.js';
import { testMessageResponseSchema } from '../../src/api/contracts/dashboard.js';
import { ADMIN_TOKEN } from '../helpers/admin-app.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { quietLogger, startWorkflowHarness, type WorkflowHarness } from '../helpers/workflow-harness.js';
import { run } from '../helpers/run-cli.js';

/**
 * Human handoff through the admin API and the CLI: the real routers on a listening server, over the
 * time-skipping Temporal server and a real worker (the pause is a workflow in the chat's line), and
 * the real CLI (bin/chatrelay.js) against them.
 */
describe('chat pause and resume: admin API and CLI', () => {
  let h: WorkflowHarness;
  let server: Server;
  let base: string;

  before(async () => {
    h = await startWorkflowHarness();
    const app = createApp({
      logger: quietLogger,
      health: {},
      routers: [
        adminRouter({
          adminToken: ADMIN_TOKEN,
          agents: h.stores.agents,
          channels: h.stores.channels,
          signingSecrets: h.stores.signingSecrets,
          signingSecretGraceSeconds: 3_600,
          auth: createChannelAuthenticator(h.stores.channels, { ttlMs: 60_000 }),
          deliveryPolicy: { allowPrivate: true, allowHosts: [] },
          logger: quietLogger,
        }),
        chatControlsRouter({
          adminToken: ADMIN_TOKEN,
          controls: createChatControls({
            stores: h.stores,
            client: h.env.client,
            line: h.line,
            taskQueue: h.taskQueue,
          }),
          logger: quietLogger,
        }),
        dashboardApiRouter({
          adminToken: ADMIN_TOKEN,
          channels: h.stores.channels,
          // Test messages take the webhook's path: a place in the chat's line, then the real workflow.
          starter: createMessageStarter(h.env.client, h.taskQueue, h.line),
          auth: createChannelAuthenticator(h.stores.channels, { ttlMs: 60_000 }),
          conversations: createConversations({ stores: h.stores, publicBaseUrl: h.mediaBaseUrl }),
          avatars: createAvatars({ stores: h.stores, policy: { allowPrivate: false, allowHosts: [] } }),
          overview: createOverview({ stores: h.stores }),
          logger: quietLogger,
        }),
      ],
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await h?.close();
  });
  beforeEach(() => {
    h.fake.reset();
    h.receiver.reset();
  });

  const call = async (method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json: unknown = await response.json();
    return { status: response.status, body: json };
  };
  const cli = (...args: string[]) =>
    run(args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, CHATRELAY_URL: base, ADMIN_TOKEN } });

  /** A message of a test user, through the API, answered (or not) by the workflow: its outcome. */
  async function testMessage(channelId: string, clientId: string, text: string) {
    const sent = await call('POST', `/v1/channels/${channelId}/test-message`, { client_id: clientId, text });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const accepted = testMessageResponseSchema.parse(sent.body);
    await h.env.client.workflow.getHandle(accepted.workflow_id).result();
    return { chatId: accepted.chat_id, outcome: await h.stores.messages.outcome(accepted.message_id) };
  }

  test('POST pause and resume: a paused chat keeps its messages unanswered, and says so in the chat list', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const { chatId, outcome } = await testMessage(channel.id, 'api-user', 'Hello');
    assert.equal(outcome?.status, 'delivered');
    const chatPath = `/v1/channels/${channel.id}/chats/${chatId}`;

    assert.equal((await call('POST', `${chatPath}/pause`, undefined, null)).status, 401);
    assert.equal((await call('POST', `/v1/channels/${channel.id}/chats/cht_nope/pause`)).status, 404);
    assert.equal((await call('POST', `/v1/channels/chn_nope/chats/${chatId}/resume`)).status, 404);

    const paused = await call('POST', `${chatPath}/pause`);
    assert.equal(paused.status, 200);
    assert.deepEqual(
      { ...chatControlResponseSchema.parse(paused.body), workflow_id: 'x' },
      { chat_id: chatId, assistant_paused: true, applied: true, workflow_id: 'x' },
    );
    const listed = chatListResponseSchema.parse((await call('GET', `/v1/channels/${channel.id}/chats`)).body);
    assert.equal(listed.data[0]?.assistant_paused?.by, 'admin');

    const held = await testMessage(channel.id, 'api-user', 'Is anyone there?');
    assert.equal(held.outcome?.status, 'not_answered');
    assert.equal(held.outcome?.reason, HELD_FOR_PERSON_REASON);
    const history = chatHistoryResponseSchema.parse((await call('GET', chatPath)).body);
    assert.deepEqual(
      history.turns.map((turn) => [turn.user.text, turn.status, turn.assistant.length]),
      [
        ['Hello', 'delivered', 1],
        ['Is anyone there?', 'not_answered', 0],
      ],
    );

    const resumed = await call('POST', `${chatPath}/resume`);
    assert.equal(resumed.status, 200);
    assert.equal(chatControlResponseSchema.parse(resumed.body).applied, true);
    assert.equal(chatHistoryResponseSchema.parse((await call('GET', chatPath)).body).chat.assistant_paused, null);
    assert.equal((await testMessage(channel.id, 'api-user', 'Back?')).outcome?.status, 'delivered');
    assert.equal(h.receiver.delivered().at(-1)?.fields.text, 'Echo: Back?');
  });

  test('handoff_text: empty by default, set and shown through the admin API and the CLI', async () => {
    const created = await call('POST', '/v1/agents', { name: 'Support', system_prompt: '' });
    assert.equal(created.status, 201);
    const agent = agentResponseSchema.parse(created.body);
    assert.equal(agent.handoff_text, '');
    const updated = await cli('agents', 'update', agent.id, '--handoff-text', 'A person will answer you.', '--json');
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(agentResponseSchema.parse(JSON.parse(updated.stdout)).handoff_text, 'A person will answer you.');
    assert.equal((await h.stores.agents.get(agent.id))?.handoff_text, 'A person will answer you.');
    const shown = await cli('agents', 'get', agent.id);
    assert.match(shown.stdout, /handoff_text\s+A person will answer you\./);
    const tooLong = await call('PATCH', `/v1/agents/${agent.id}`, { handoff_text: 'x'.repeat(4001) });
    assert.equal(tooLong.status, 400);
    assert.match(JSON.stringify(tooLong.body), /handoff_text/);
  });

  test('chats pause and chats resume: the CLI pauses and resumes a chat; chats show says it is paused', async () => {
    const { channel } = await createChannelWithAgent(h.stores, { replyUrl: h.receiver.url });
    const { chatId } = await testMessage(channel.id, 'cli-user', 'Hi');

    const paused = await cli('chats', 'pause', chatId, '--channel', channel.id);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, new RegExp(`The assistant of chat ${chatId} is paused`));
    assert.equal((await h.stores.chats.get(chatId))?.handoff?.by, 'admin');
    const shown = await cli('chats', 'show', chatId, '--channel', channel.id);
    assert.match(shown.stdout, /Assistant paused since \S+ \(by admin\): a person has the chat\./);

    const resumed = await cli('chats', 'resume', chatId, '--channel', channel.id, '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(chatControlResponseSchema.parse(JSON.parse(resumed.stdout)).assistant_paused, false);
    assert.equal((await h.stores.chats.get(chatId))?.handoff, undefined);
    const again = await cli('chats', 'show', chatId, '--channel', channel.id);
    assert.doesNotMatch(again.stdout, /Assistant paused/);

    const missing = await cli('chats', 'pause', chatId);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--channel is required/);
    const unknown = await cli('chats', 'resume', 'cht_nope', '--channel', channel.id);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Chat not found/);
    const help = await cli('--help');
    for (const command of ['chats pause', 'chats resume']) assert.ok(help.stdout.includes(command), command);
  });
});
