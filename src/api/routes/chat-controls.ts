import { Router } from 'express';
import { chatControlResponseSchema } from '../contracts/handoff.js';
import type { Logger } from '../../lib/logger.js';
import type { ChatControls } from '../chat-controls.js';
import type { RateLimiter } from '../rate-limit.js';
import { mountRoutes, requireAdminToken, type RouteSpec } from '../route-spec.js';

/** Human handoff: an admin pauses a chat's assistant so a person can take over, and resumes it. */
export const chatControlRoutes = [
  {
    method: 'post',
    path: '/v1/channels/:id/chats/:chat_id/pause',
    operationId: 'pauseChatAssistant',
    tag: 'Conversations',
    summary: "Pause a chat's assistant: a person takes over",
    description:
      "From this point of the chat's line on, its messages are stored in the history and not answered (they end `not_answered`); messages accepted before are still answered. Resume with POST /v1/channels/{id}/chats/{chat_id}/resume.",
    success: {
      status: 200,
      description: 'The pause, applied or waiting for its turn.',
      schema: chatControlResponseSchema,
    },
    errors: [401, 404, 503],
  },
  {
    method: 'post',
    path: '/v1/channels/:id/chats/:chat_id/resume',
    operationId: 'resumeChatAssistant',
    tag: 'Conversations',
    summary: "Resume a chat's assistant after a person took over",
    description:
      "Messages accepted from this point of the chat's line on are answered again; the model sees the messages stored while it was paused in the history.",
    success: {
      status: 200,
      description: 'The resume, applied or waiting for its turn.',
      schema: chatControlResponseSchema,
    },
    errors: [401, 404, 503],
  },
] as const satisfies readonly RouteSpec[];

export function chatControlsRouter(deps: {
  adminToken: string;
  authFailures?: RateLimiter;
  controls: ChatControls;
  logger: Logger;
}): Router {
  const router = Router();
  router.use('/v1', requireAdminToken(deps.adminToken, deps.authFailures));
  mountRoutes(router, chatControlRoutes, {
    async pauseChatAssistant({ params, requestId }) {
      const body = await deps.controls.pause(params.id ?? '', params.chat_id ?? '');
      deps.logger.info({ requestId, chatId: body.chat_id, applied: body.applied }, 'admin: chat assistant paused');
      return { status: 200, body };
    },
    async resumeChatAssistant({ params, requestId }) {
      const body = await deps.controls.resume(params.id ?? '', params.chat_id ?? '');
      deps.logger.info({ requestId, chatId: body.chat_id, applied: body.applied }, 'admin: chat assistant resumed');
      return { status: 200, body };
    },
  });
  return router;
}
