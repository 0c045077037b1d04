import { Router } from 'express';
import {
  listMessagesQuerySchema,
  messageListResponseSchema,
  messageStatusSchema,
  redeliverResponseSchema,
  redeliverSchema,
  resumeResponseSchema,
} from '../contracts/message.js';
import type { MessageAdmin } from '../message-admin.js';
import type { RateLimiter } from '../rate-limit.js';
import { mountRoutes, requireAdminToken, type RouteSpec } from '../route-spec.js';

/** Message status, redelivery and channel resume: admin routes, documented from this table. */
export const messageRoutes = [
  {
    method: 'get',
    path: '/v1/messages/:id',
    operationId: 'getMessage',
    tag: 'Delivery',
    summary: 'Where a message is and what happened to it',
    description:
      'Stage (accepted … delivering part k of n, retry_pending with the next retry time, paused), every part and every delivery attempt. While the workflow runs the stage is read from it by query; afterwards from MongoDB.',
    success: { status: 200, description: 'The message status.', schema: messageStatusSchema },
    errors: [401, 404],
  },
  {
    method: 'post',
    path: '/v1/messages/:id/redeliver',
    operationId: 'redeliverMessage',
    tag: 'Delivery',
    summary: 'Send stored reply parts again',
    description:
      "Sends the stored parts again from `from_part` (default: the first part not delivered) to the channel's current Reply Webhook URL, with the same `webhook-id`s, without generating a new reply. It waits for its turn in the chat like any message.",
    body: redeliverSchema,
    bodyRequired: false,
    success: { status: 202, description: 'The redelivery has started.', schema: redeliverResponseSchema },
    errors: [400, 401, 404, 409, 415],
    errorDescriptions: {
      409: 'The message is still being processed (or another redelivery of it has just started), has no stored reply, or `from_part` is past its parts.',
    },
  },
  {
    method: 'get',
    path: '/v1/channels/:id/messages',
    operationId: 'listChannelMessages',
    tag: 'Delivery',
    summary: "A channel's recent messages with their status",
    query: listMessagesQuerySchema,
    success: { status: 200, description: 'Newest first; page with `before`.', schema: messageListResponseSchema },
    errors: [400, 401, 404],
  },
  {
    method: 'post',
    path: '/v1/channels/:id/resume',
    operationId: 'resumeChannel',
    tag: 'Delivery',
    summary: 'Resume a channel paused by a 410 Gone',
    description: 'Lifts the pause and wakes every reply that was waiting; each is delivered in its chat’s order.',
    success: { status: 200, description: 'The channel delivers again.', schema: resumeResponseSchema },
    errors: [401, 404],
  },
] as const satisfies readonly RouteSpec[];

export function messagesRouter(deps: {
  adminToken: string;
  authFailures?: RateLimiter;
  messages: MessageAdmin;
}): Router {
  const router = Router();
  router.use('/v1', requireAdminToken(deps.adminToken, deps.authFailures));
  mountRoutes(router, messageRoutes, {
    getMessage: async ({ params }) => ({ status: 200, body: await deps.messages.status(params.id ?? '') }),
    redeliverMessage: async ({ params, body }) => ({
      status: 202,
      body: await deps.messages.redeliver(params.id ?? '', body.from_part),
    }),
    listChannelMessages: async ({ params, query }) => ({
      status: 200,
      body: await deps.messages.listForChannel(params.id ?? '', {
        limit: query.limit,
        ...(query.before ? { before: query.before } : {}),
      }),
    }),
    resumeChannel: async ({ params }) => ({ status: 200, body: await deps.messages.resumeChannel(params.id ?? '') }),
  });
  return router;
}
