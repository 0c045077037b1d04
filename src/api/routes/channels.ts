/** The channels of the admin API: their route table, answers and handlers (mounted by admin.ts). */
import {
  channelListResponseSchema,
  channelResponseSchema,
  channelWithSigningSecretResponseSchema,
  channelWithTokenResponseSchema,
  createChannelSchema,
  createdChannelResponseSchema,
  listChannelsQuerySchema,
  rotateTokenSchema,
  updateChannelSchema,
  type ChannelResponse,
} from '../contracts/admin.js';
import { channelDefaults, type Channel } from '../../domain/models.js';
import { literalAddressProblem } from '../../lib/address-policy.js';
import { generateApiToken } from '../../lib/secrets.js';
import { isDuplicateKey } from '../../stores/collections.js';
import { conflict, HttpError, invalidRequest, notFound } from '../errors.js';
import type { HandlersFor, RouteSpec } from '../route-spec.js';
import { definedOnly, page, type AdminDeps } from './admin-deps.js';

export const channelRoutes = [
  {
    method: 'get',
    path: '/v1/channels',
    operationId: 'listChannels',
    tag: 'Channels',
    summary: 'List channels',
    query: listChannelsQuerySchema,
    success: {
      status: 200,
      description: 'A page of channels, ordered by id. Tokens are never included.',
      schema: channelListResponseSchema,
    },
    errors: [400, 401],
  },
  {
    method: 'post',
    path: '/v1/channels',
    operationId: 'createChannel',
    tag: 'Channels',
    summary: 'Create a channel',
    description:
      'The answer carries the API token (given or generated) and the signing secret of reply POSTs, this once. The webhook accepts the token at once in this API process and within CHANNEL_CACHE_TTL_MS in the others.',
    body: createChannelSchema,
    success: {
      status: 201,
      description: 'The channel, with its API token and signing secret (shown this once).',
      schema: createdChannelResponseSchema,
    },
    errors: [400, 401, 404, 409, 413, 415],
  },
  {
    method: 'get',
    path: '/v1/channels/:id',
    operationId: 'getChannel',
    tag: 'Channels',
    summary: 'Get a channel',
    success: { status: 200, description: 'The channel (without its token).', schema: channelResponseSchema },
    errors: [401, 404],
  },
  {
    method: 'patch',
    path: '/v1/channels/:id',
    operationId: 'updateChannel',
    tag: 'Channels',
    summary: 'Change a channel',
    description:
      'Applies at once in this API process and within CHANNEL_CACHE_TTL_MS in the others. A message keeps the settings read when its workflow validated it.',
    body: updateChannelSchema,
    success: { status: 200, description: 'The channel as changed.', schema: channelResponseSchema },
    errors: [400, 401, 404, 409, 413, 415],
  },
  {
    method: 'delete',
    path: '/v1/channels/:id',
    operationId: 'deleteChannel',
    tag: 'Channels',
    summary: 'Delete a channel',
    description:
      'Its token stops working at once in this API process; messages accepted before are not answered. Its chats (their history, handoff pauses and lines), messages and every record of them are deleted after the answer, in the background, each chat once the message it is answering has ended; a channel made later on the same page id starts with no chats.',
    success: { status: 204, description: 'Deleted.' },
    errors: [401, 404],
  },
  {
    method: 'post',
    path: '/v1/channels/:id/rotate-token',
    operationId: 'rotateChannelToken',
    tag: 'Channels',
    summary: "Replace a channel's API token",
    description:
      'The old token is refused at once by this API process and within CHANNEL_CACHE_TTL_MS by the others; a message accepted with the old token in that window is not answered (its workflow sees the token version changed).',
    body: rotateTokenSchema,
    bodyRequired: false,
    success: {
      status: 200,
      description: 'The channel, with its new API token (shown this once).',
      schema: channelWithTokenResponseSchema,
    },
    errors: [400, 401, 404, 413, 415],
  },
  {
    method: 'post',
    path: '/v1/channels/:id/rotate-signing-secret',
    operationId: 'rotateChannelSigningSecret',
    tag: 'Channels',
    summary: "Replace the secret that signs a channel's reply POSTs",
    description:
      'Replies are signed with the new secret from now on, and also with the previous one for SIGNING_SECRET_GRACE_SECONDS, so the receiver can switch without rejecting any.',
    success: {
      status: 200,
      description: 'The channel, with its new signing secret (shown this once).',
      schema: channelWithSigningSecretResponseSchema,
    },
    errors: [401, 404],
  },
] as const satisfies readonly RouteSpec[];

export const toChannelResponse = (channel: Channel): ChannelResponse => ({
  id: channel.id,
  agent_id: channel.agent_id,
  page_id: channel.page_id,
  api_token_last4: channel.token_last4,
  token_version: channel.token_version,
  reply_webhook_url: channel.reply_webhook_url,
  assistant_connected: channel.assistant_connected,
  reply_delay_seconds: channel.reply_delay_seconds,
  voice_replies: channel.voice_replies,
  max_message_length: channel.max_message_length,
  // Channels created before paced parts have neither field: they read as the defaults (off).
  typing_ms_per_char: channel.typing_ms_per_char ?? channelDefaults.typing_ms_per_char,
  typing_max_seconds: channel.typing_max_seconds ?? channelDefaults.typing_max_seconds,
  coalesce_window_seconds: channel.coalesce_window_seconds ?? channelDefaults.coalesce_window_seconds,
  supersede_stale_replies: channel.supersede_stale_replies ?? channelDefaults.supersede_stale_replies,
  delivery_paused: channel.delivery_paused === true,
  paused_reason: channel.delivery_paused === true ? channel.paused_reason || null : null,
  events_url: channel.events_url ?? '',
  created_at: channel.created_at.toISOString(),
  updated_at: channel.updated_at.toISOString(),
});

export function channelHandlers(deps: AdminDeps): HandlersFor<typeof channelRoutes> {
  const { agents, channels, signingSecrets, auth, logger } = deps;

  const requireAgentFor = async (agentId: string): Promise<void> => {
    // A well-formed reference to something that does not exist: 404 (the body itself is valid).
    if (!(await agents.get(agentId))) {
      throw new HttpError(404, 'not_found', 'Agent not found.', [
        { path: 'agent_id', message: `no agent has the id "${agentId}"` },
      ]);
    }
  };

  const pageTaken = (pageId: string, holderId?: string) =>
    conflict(`The page_id "${pageId}" is already used by ${holderId ? `channel ${holderId}` : 'another channel'}.`);

  /**
   * A reply URL (or events URL) that names a private address outright is refused when it is set,
   * with the way to allow it; a host name is judged when the worker connects (its DNS may change).
   */
  const checkDeliveryUrls = (urls: { reply_webhook_url?: string | undefined; events_url?: string | undefined }) => {
    const targets = [
      ['reply_webhook_url', 'replies are'],
      ['events_url', 'events are'],
    ] as const;
    const problems = targets.flatMap(([path, what]) => {
      const url = urls[path];
      const problem = url ? literalAddressProblem(url, deps.deliveryPolicy) : undefined;
      if (problem === undefined) return [];
      return [
        {
          path,
          // Where private addresses are allowed already, what is refused (link-local, metadata) is only ever allowed by name.
          message: deps.deliveryPolicy.allowPrivate
            ? `${problem}: ${what} not delivered there unless the host is in DELIVERY_ALLOW_HOSTS`
            : `${problem}: ${what} not delivered there unless DELIVERY_ALLOW_PRIVATE=true or the host is in DELIVERY_ALLOW_HOSTS`,
        },
      ];
    });
    if (problems.length > 0) throw invalidRequest(problems);
  };

  /** A friendly 409 naming the holder; the unique index still decides when two requests race. */
  const ensurePageFree = async (pageId: string, exceptChannelId?: string): Promise<void> => {
    const holder = await channels.getByPageId(pageId);
    if (holder && holder.id !== exceptChannelId) throw pageTaken(pageId, holder.id);
  };

  return {
    async listChannels({ query }) {
      const found = await channels.list({ limit: query.limit + 1, after: query.after, agentId: query.agent_id });
      const { items, next_after } = page(found, query.limit);
      return { status: 200, body: { data: items.map(toChannelResponse), next_after } };
    },
    async createChannel({ body, requestId }) {
      const { api_token: given, ...settings } = body;
      checkDeliveryUrls(settings);
      await requireAgentFor(settings.agent_id);
      await ensurePageFree(settings.page_id);
      const apiToken = given ?? generateApiToken();
      let channel: Channel;
      try {
        channel = await channels.create({ ...settings, api_token: apiToken });
      } catch (error) {
        if (isDuplicateKey(error)) throw pageTaken(settings.page_id);
        throw error;
      } finally {
        // This process may have cached "no such page" for it: drop that so the token works at once.
        auth.invalidate(settings.page_id);
      }
      let signingSecret: string;
      try {
        signingSecret = await signingSecrets.create(channel.id);
      } catch (error) {
        // No channel without a signing secret: undo, so that the create can simply be retried.
        await channels.delete(channel.id).catch(() => undefined);
        auth.invalidate(settings.page_id);
        throw error;
      }
      logger.info(
        { requestId, channelId: channel.id, pageId: channel.page_id, generatedToken: given === undefined },
        'admin: channel created',
      );
      return {
        status: 201,
        body: { ...toChannelResponse(channel), api_token: apiToken, signing_secret: signingSecret },
      };
    },
    async getChannel({ params }) {
      const channel = await channels.get(params.id ?? '');
      if (!channel) throw notFound(`Channel ${params.id}`);
      return { status: 200, body: toChannelResponse(channel) };
    },
    async updateChannel({ params, body, requestId }) {
      const channelId = params.id ?? '';
      checkDeliveryUrls(body);
      const current = await channels.get(channelId);
      if (!current) throw notFound(`Channel ${channelId}`);
      if (body.agent_id !== undefined && body.agent_id !== current.agent_id) await requireAgentFor(body.agent_id);
      if (body.page_id !== undefined && body.page_id !== current.page_id) await ensurePageFree(body.page_id, channelId);
      let channel: Channel | undefined;
      try {
        channel = await channels.update(channelId, definedOnly(body));
      } catch (error) {
        if (isDuplicateKey(error) && body.page_id !== undefined) throw pageTaken(body.page_id);
        throw error;
      } finally {
        auth.invalidate(current.page_id);
        if (body.page_id !== undefined) auth.invalidate(body.page_id);
      }
      if (!channel) throw notFound(`Channel ${channelId}`);
      logger.info({ requestId, channelId, fields: Object.keys(body) }, 'admin: channel changed');
      return { status: 200, body: toChannelResponse(channel) };
    },
    async deleteChannel({ params, requestId }) {
      const channelId = params.id ?? '';
      const current = await channels.get(channelId);
      if (!current) throw notFound(`Channel ${channelId}`);
      try {
        if (!(await channels.delete(channelId))) throw notFound(`Channel ${channelId}`);
      } finally {
        auth.invalidate(current.page_id);
      }
      await signingSecrets.deleteForChannel(channelId);
      // Its chats and messages go after the answer, in the background (src/api/channel-deletion.ts).
      deps.channelDeletion.start(channelId);
      logger.info({ requestId, channelId, pageId: current.page_id }, 'admin: channel deleted');
      return { status: 204 };
    },
    async rotateChannelToken({ params, body, requestId }) {
      const channelId = params.id ?? '';
      const current = await channels.get(channelId);
      if (!current) throw notFound(`Channel ${channelId}`);
      const apiToken = body.api_token ?? generateApiToken();
      let channel: Channel | undefined;
      try {
        channel = await channels.rotateToken(channelId, apiToken);
      } finally {
        // The old token must stop working here at once, even if the answer is lost.
        auth.invalidate(current.page_id);
      }
      if (!channel) throw notFound(`Channel ${channelId}`);
      logger.info({ requestId, channelId, tokenVersion: channel.token_version }, 'admin: channel token rotated');
      return { status: 200, body: { ...toChannelResponse(channel), api_token: apiToken } };
    },
    async rotateChannelSigningSecret({ params, requestId }) {
      const channelId = params.id ?? '';
      const channel = await channels.get(channelId);
      if (!channel) throw notFound(`Channel ${channelId}`);
      const now = new Date();
      const signingSecret = await signingSecrets.rotate(channelId, deps.signingSecretGraceSeconds, now);
      const validUntil = new Date(now.getTime() + deps.signingSecretGraceSeconds * 1000).toISOString();
      logger.info({ requestId, channelId, previousValidUntil: validUntil }, 'admin: channel signing secret rotated');
      return {
        status: 200,
        body: {
          ...toChannelResponse(channel),
          signing_secret: signingSecret,
          previous_secrets_valid_until: validUntil,
        },
      };
    },
  };
}
