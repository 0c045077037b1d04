import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/api/app.js';
import { createChannelAuthenticator } from '../../src/api/channel-auth.js';
import type { ChannelDeletion } from '../../src/api/channel-deletion.js';
import { createChatControls } from '../../src/api/chat-controls.js';
import { createAvatars } from '../../src/api/avatars.js';
import { createConversations } from '../../src/api/conversations.js';
import { testMessageResponseSchema } from '../../src/api/contracts/dashboard.js';
import { createMessageStarter } from '../../src/api/message-starter.js';
import { createOverview } from '../../src/api/overview.js';
import { adminRouter } from '../../src/api/routes/admin.js';
import { chatControlsRouter } from '../../src/api/routes/chat-controls.js';
import { dashboardApiRouter } from '../../src/api/routes/dashboard-api.js';
import { ADMIN_TOKEN } from './admin-app.js';
import { quietLogger, type WorkflowHarness } from './workflow-harness.js';

export interface HarnessAdminApp {
  base: string;
  /** One admin call (the admin token unless `token` says otherwise, null: none), its JSON answer ({} when empty). */
  call: (
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
  ) => Promise<{ status: number; body: unknown }>;
  /** A message of a test user through the API, answered (or not) by the workflow: its ids and outcome. */
  testMessage: (
    channelId: string,
    clientId: string,
    text: string,
  ) => Promise<{
    chatId: string;
    messageId: string;
    outcome: Awaited<ReturnType<WorkflowHarness['stores']['messages']['outcome']>>;
  }>;
  close(): Promise<void>;
}

/**
 * The admin, chat control and dashboard routers on a listening server, over a workflow harness
 * (the time-skipping Temporal server and a real worker): test messages take the webhook's path, a
 * place in the chat's line, then the real workflow. Channel deletions sweep through
 * `channelDeletion` (none given: nothing is swept).
 */
export async function startHarnessAdminApp(
  h: WorkflowHarness,
  options: { channelDeletion?: Pick<ChannelDeletion, 'start'> } = {},
): Promise<HarnessAdminApp> {
  const auth = createChannelAuthenticator(h.stores.channels, { ttlMs: 60_000 });
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
        auth,
        deliveryPolicy: { allowPrivate: true, allowHosts: [] },
        channelDeletion: options.channelDeletion ?? { start: () => undefined },
        logger: quietLogger,
      }),
      chatControlsRouter({
        adminToken: ADMIN_TOKEN,
        controls: createChatControls({ stores: h.stores, client: h.env.client, line: h.line, taskQueue: h.taskQueue }),
        logger: quietLogger,
      }),
      dashboardApiRouter({
        adminToken: ADMIN_TOKEN,
        channels: h.stores.channels,
        starter: createMessageStarter(h.env.client, h.taskQueue, h.line),
        auth,
        conversations: createConversations({ stores: h.stores, publicBaseUrl: h.mediaBaseUrl }),
        avatars: createAvatars({ stores: h.stores, policy: { allowPrivate: false, allowHosts: [] } }),
        overview: createOverview({ stores: h.stores }),
        logger: quietLogger,
      }),
    ],
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const call: HarnessAdminApp['call'] = async (method, path, body, token = ADMIN_TOKEN) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as unknown) };
  };

  return {
    base,
    call,
    testMessage: async (channelId, clientId, text) => {
      const sent = await call('POST', `/v1/channels/${channelId}/test-message`, { client_id: clientId, text });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const accepted = testMessageResponseSchema.parse(sent.body);
      await h.env.client.workflow.getHandle(accepted.workflow_id).result();
      return {
        chatId: accepted.chat_id,
        messageId: accepted.message_id,
        outcome: await h.stores.messages.outcome(accepted.message_id),
      };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
