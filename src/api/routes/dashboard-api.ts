import { Router } from 'express';
import { channelResponseSchema } from '../contracts/admin.js';
import {
  AVATAR_MAX_BYTES,
  avatarMediaTypes,
  chatHistoryQuerySchema,
  chatHistoryResponseSchema,
  chatListResponseSchema,
  listChatsQuerySchema,
  overviewResponseSchema,
  testMessageResponseSchema,
  testMessageSchema,
} from '../contracts/dashboard.js';
import type { Logger } from '../../lib/logger.js';
import { AVATAR_CACHE_MS, type Avatars } from '../avatars.js';
import type { ChannelStore } from '../../stores/channels.js';
import type { ChannelAuthenticator } from '../channel-auth.js';
import type { Conversations } from '../conversations.js';
import { notFound } from '../errors.js';
import type { Overview } from '../overview.js';
import type { RateLimiter } from '../rate-limit.js';
import { mountRoutes, requireAdminToken, type RouteSpec } from '../route-spec.js';
import { inboundEnvelope, type MessageStarter } from './webhook.js';
import { toChannelResponse } from './channels.js';

/** The platform name test messages carry, so they stand out in a channel's chats. */
export const TEST_PLATFORM = 'chatrelay-dashboard';

/** What the dashboard reads and does besides agents, channels and messages; documented from this table. */
export const dashboardApiRoutes = [
  {
    method: 'get',
    path: '/v1/channels/:id/chats',
    operationId: 'listChannelChats',
    tag: 'Conversations',
    summary: "A channel's chats (its end users), most recently active first",
    query: listChatsQuerySchema,
    success: { status: 200, description: 'A page of chats; page with `before`.', schema: chatListResponseSchema },
    errors: [400, 401, 404],
  },
  {
    method: 'get',
    path: '/v1/channels/:id/chats/:chat_id',
    operationId: 'getChannelChat',
    tag: 'Conversations',
    summary: "One chat's history: each user message and the assistant's reply parts",
    query: chatHistoryQuerySchema,
    success: { status: 200, description: 'The chat and its latest messages.', schema: chatHistoryResponseSchema },
    errors: [400, 401, 404],
  },
  {
    method: 'get',
    path: '/v1/channels/:id/chats/:chat_id/avatar',
    operationId: 'getChatAvatar',
    tag: 'Conversations',
    summary: "The chat's avatar, fetched by the API",
    description: `The image at the chat's \`client_avatar\` URL, fetched by this API under the voice notes' address policy (FETCH_ALLOW_PRIVATE, FETCH_ALLOW_HOSTS): PNG, JPEG, GIF, WebP or AVIF (never SVG), at most ${AVATAR_MAX_BYTES} bytes, within 5 s, kept ${AVATAR_CACHE_MS / 1000} s. The dashboard shows avatars only through it, so an end user's URL is never requested by an admin's browser.`,
    success: {
      status: 200,
      description: 'The image, with `X-Content-Type-Options: nosniff`.',
      media: avatarMediaTypes,
    },
    errors: [404, 422],
    errorDescriptions: {
      404: 'No such channel, no such chat on it, or the chat has no avatar.',
      422: '`avatar_unavailable`: the avatar could not be fetched, or was refused (a private or metadata address, not a PNG/JPEG/GIF/WebP/AVIF image, too large, too slow); the message says which.',
    },
  },
  {
    method: 'post',
    path: '/v1/channels/:id/test-message',
    operationId: 'sendTestMessage',
    tag: 'Conversations',
    summary: 'Send a message to the channel as a test user ("Try it")',
    description:
      'Accepted exactly as a message the platform POSTs to /webhook/mychatbot is (same chat line, same workflow), with platform "chatrelay-dashboard": its reply goes to the channel\'s Reply Webhook URL.',
    body: testMessageSchema,
    success: {
      status: 202,
      description: 'Accepted; follow it with GET /v1/messages/{id}.',
      schema: testMessageResponseSchema,
    },
    errors: [400, 401, 404, 413, 415],
  },
  {
    method: 'post',
    path: '/v1/channels/:id/pause',
    operationId: 'pauseChannel',
    tag: 'Delivery',
    summary: "Pause delivery of a channel's replies",
    description:
      'Messages are still accepted and answered; their reply parts wait, in order, until POST /v1/channels/{id}/resume.',
    success: { status: 200, description: 'The channel, paused.', schema: channelResponseSchema },
    errors: [401, 404],
  },
  {
    method: 'get',
    path: '/v1/overview',
    operationId: 'getOverview',
    tag: 'Delivery',
    summary: 'The last hour across every channel',
    description:
      'Messages per minute, how many were delivered, failed or not answered, how fast receivers acknowledged reply parts, and the channels with failures or paused delivery.',
    success: { status: 200, description: 'The summary.', schema: overviewResponseSchema },
    errors: [401],
  },
] as const satisfies readonly RouteSpec[];

export interface DashboardApiDeps {
  adminToken: string;
  /** Failed admin authentications per source address (see requireBearerToken); absent: no limit. */
  authFailures?: RateLimiter;
  channels: Pick<ChannelStore, 'get' | 'update'>;
  /** The webhook's own starter: a test message takes exactly the path of an inbound one. */
  starter: MessageStarter;
  auth: Pick<ChannelAuthenticator, 'invalidate'>;
  conversations: Conversations;
  avatars: Avatars;
  overview: Overview;
  logger: Logger;
}

export function dashboardApiRouter(deps: DashboardApiDeps): Router {
  const router = Router();
  router.use('/v1', requireAdminToken(deps.adminToken, deps.authFailures));
  mountRoutes(router, dashboardApiRoutes, {
    listChannelChats: async ({ params, query }) => ({
      status: 200,
      body: await deps.conversations.list(params.id ?? '', {
        limit: query.limit,
        ...(query.before ? { before: query.before } : {}),
      }),
    }),
    getChannelChat: async ({ params, query }) => ({
      status: 200,
      body: await deps.conversations.history(params.id ?? '', params.chat_id ?? '', query.limit),
    }),
    async getChatAvatar({ params }) {
      const avatar = await deps.avatars.get(params.id ?? '', params.chat_id ?? '');
      return {
        status: 200,
        binary: {
          data: avatar.data,
          mediaType: avatar.mediaType,
          headers: {
            // The type is checked against the allowed images; a browser must not guess another.
            'x-content-type-options': 'nosniff',
            'content-security-policy': "default-src 'none'; sandbox",
            'cache-control': `private, max-age=${AVATAR_CACHE_MS / 1000}`,
          },
        },
      };
    },
    async sendTestMessage({ params, body, requestId }) {
      const channel = await deps.channels.get(params.id ?? '');
      if (!channel) throw notFound('Channel');
      const envelope = inboundEnvelope(channel, {
        client_id: body.client_id,
        client_name: body.client_name,
        platform: TEST_PLATFORM,
        text: body.text,
      });
      const started = await deps.starter.start(envelope);
      deps.logger.info(
        { requestId, channelId: channel.id, messageId: envelope.messageId },
        'admin: test message accepted',
      );
      return {
        status: 202,
        body: {
          status: 'accepted',
          message_id: envelope.messageId,
          workflow_id: started.workflowId,
          chat_id: envelope.chatId,
          duplicate: started.duplicate,
        },
      };
    },
    async pauseChannel({ params, requestId }) {
      const channel = await deps.channels.update(params.id ?? '', {
        delivery_paused: true,
        paused_reason: `paused by an admin (${new Date().toISOString()})`,
      });
      if (!channel) throw notFound('Channel');
      deps.auth.invalidate(channel.page_id);
      deps.logger.info({ requestId, channelId: channel.id }, 'admin: channel delivery paused');
      return { status: 200, body: toChannelResponse(channel) };
    },
    getOverview: async () => ({ status: 200, body: await deps.overview.summary() }),
  });
  return router;
}
