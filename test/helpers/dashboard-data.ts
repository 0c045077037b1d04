import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/api/app.js';
import { createChannelAuthenticator } from '../../src/api/channel-auth.js';
import { createAvatars } from '../../src/api/avatars.js';
import { createConversations } from '../../src/api/conversations.js';
import { createOverview } from '../../src/api/overview.js';
import { dashboardApiRouter } from '../../src/api/routes/dashboard-api.js';
import { dashboardRouter } from '../../src/api/routes/dashboard.js';
import type { Channel } from '../../src/domain/models.js';
import type { AddressPolicy } from '../../src/lib/address-policy.js';
import { createLogger } from '../../src/lib/logger.js';
import { chatIdFor } from '../../src/stores/chats.js';
import type { Stores } from '../../src/stores/index.js';
import { ADMIN_TOKEN } from './admin-app.js';
import { RecordingStarter } from './recording-starter.js';

const quiet = createLogger({ level: 'silent', name: 'test' });

/** Stores one answered message of `clientId` on `channel`, as the API and the workflow record it. */
export async function storeAnsweredMessage(
  stores: Stores,
  channel: Channel,
  clientId: string,
  options: {
    /** Empty: a voice message (give `audio`). */
    text: string;
    audio?: string;
    /** The end user's avatar URL, as the platform sent it. */
    avatar?: string;
    reply: string[];
    status: 'delivered' | 'failed';
    ackMs?: number;
    at?: Date;
  },
): Promise<string> {
  const at = options.at ?? new Date();
  const id = `msg_${clientId}_${Math.random().toString(36).slice(2, 10)}`;
  const chatId = chatIdFor(channel.id, clientId);
  // Its place in the chat's line, as the API claims it on acceptance (the dashboard finds a chat's messages there).
  const seq = await stores.lines.claim(chatId, 0, { messageId: id, workflowId: `chatrelay-message-${id}` }, at);
  await stores.messages.insert(
    {
      _id: id,
      workflow_id: `chatrelay-message-${id}`,
      channel_id: channel.id,
      page_id: channel.page_id,
      client_id: clientId,
      chat_id: chatId,
      platform: 'CustomApp',
      status: 'accepted',
      stage: 'accepted',
      inbound: {
        client_id: clientId,
        platform: 'CustomApp',
        ...(options.text !== '' ? { text: options.text } : {}),
        ...(options.audio !== undefined ? { audio: options.audio } : {}),
        attachments: ['https://example.com/a.png'],
      },
      received_at: at,
      line_seq: seq,
    },
    at,
  );
  const chat = await stores.chats.get(chatId);
  await stores.chats.recordTurn(
    chatId,
    chat,
    {
      channelId: channel.id,
      pageId: channel.page_id,
      clientId,
      platform: 'CustomApp',
      clientName: `Name of ${clientId}`,
      ...(options.avatar !== undefined ? { clientAvatar: options.avatar } : {}),
      seenAt: at,
    },
    [
      { id: `${id}:u`, role: 'user', content: options.text, attachments: [] },
      { id: `${id}:a`, role: 'assistant', content: options.reply.join('\n'), attachments: [] },
    ],
    20,
  );
  await stores.messages.saveReply(
    id,
    options.reply.map((text, index) => ({ index, text, images: [], delivery_id: `${id}.${index}` })),
  );
  if (options.ackMs !== undefined) {
    await stores.messages.recordAttempt(id, {
      part_index: 0,
      attempt: 1,
      at,
      duration_ms: options.ackMs,
      result: 'delivered',
      http_status: 200,
    });
  }
  await stores.messages.saveOutcome(id, {
    status: options.status,
    partsDelivered: options.status === 'delivered' ? options.reply.length : 0,
  });
  return id;
}

/**
 * The dashboard's admin routes (and, given a folder, its files) as startApi mounts them, on the
 * real stores, listening on a free port; only the Temporal seam is a recorder. Avatars are fetched
 * under production's default address policy (no private addresses) unless `avatarPolicy` says.
 */
export async function startDashboardApiApp(
  stores: Stores,
  options: { dashboardDir?: string; avatarPolicy?: AddressPolicy } = {},
): Promise<{ base: string; starter: RecordingStarter; close(): Promise<void> }> {
  const starter = new RecordingStarter();
  const app = createApp({
    logger: quiet,
    health: {},
    routers: [
      dashboardApiRouter({
        adminToken: ADMIN_TOKEN,
        channels: stores.channels,
        starter,
        auth: createChannelAuthenticator(stores.channels, { ttlMs: 60_000 }),
        conversations: createConversations({ stores, publicBaseUrl: 'http://chatrelay.test' }),
        avatars: createAvatars({ stores, policy: options.avatarPolicy ?? { allowPrivate: false, allowHosts: [] } }),
        overview: createOverview({ stores }),
        logger: quiet,
      }),
      ...(options.dashboardDir ? [dashboardRouter({ dir: options.dashboardDir })] : []),
    ],
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    starter,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
