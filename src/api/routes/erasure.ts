import { Router } from 'express';
import type { ChatErasure } from '../chat-erasure.js';
import { erasureRequestSchema, erasureResponseSchema } from '../contracts/erasure.js';
import type { Logger } from '../../lib/logger.js';
import type { RateLimiter } from '../rate-limit.js';
import { mountRoutes, requireAdminToken, type RouteSpec } from '../route-spec.js';

/** An end user's erasure request (privacy law's right to erasure): admin route, documented from this table. */
export const erasureRoutes = [
  {
    method: 'post',
    path: '/v1/erasures',
    operationId: 'eraseEndUser',
    tag: 'Privacy',
    summary: "Erase one end user's data",
    description:
      "Deletes the end user's chat on the channel that has the page id now (when no channel has it: every chat stored under that page id and client id, of a channel deleted and not swept yet or moved to another page since), and everything of it: every message, its transcript, reply, speech audio, delivery attempts, outcomes and redeliveries, and the chat's history. Done in the chat's turn: the erasure waits (up to `ERASURE_WAIT_MS`, 10 s by default) for the messages accepted before it, which are erased with the rest; messages sent after it wait for it, are kept and answered. When a message is still being answered after that wait, the answer is 409 and nothing is erased (of several chats, a 409 or 503 at one past the first names it: the chats before it were erased, and asking again erases the rest). Safe to repeat. In Temporal, every workflow of the user's messages (and their redeliveries, chat controls and operational events) is deleted with its history and search attributes, by a workflow the erasure starts before it deletes anything (a 503 when it cannot: nothing was erased). The erasure's own workflow history (workflow ids, encrypted) stays for the namespace's retention period.",
    body: erasureRequestSchema,
    success: { status: 200, description: 'Erased; the counts say what was deleted.', schema: erasureResponseSchema },
    errors: [400, 401, 409, 415, 503],
    errorDescriptions: {
      503: "Temporal did not record the deletion of the end user's workflows (or MongoDB is unreachable): nothing was erased. Ask again.",
      409: "A message of the end user's chat is still being answered (or waits for its channel) after the erasure's wait: nothing was erased and the chat goes on as before. Ask again once it has ended.",
    },
  },
] as const satisfies readonly RouteSpec[];

export function erasureRouter(deps: {
  adminToken: string;
  authFailures?: RateLimiter;
  erasure: ChatErasure;
  logger: Logger;
}): Router {
  const router = Router();
  router.use('/v1/erasures', requireAdminToken(deps.adminToken, deps.authFailures));
  mountRoutes(router, erasureRoutes, {
    eraseEndUser: async ({ body, requestId }) => {
      const { chatId, erased } = await deps.erasure.erase(body.page_id, body.client_id);
      // The chat id only: the end user's own ids are what was just erased.
      deps.logger.info({ requestId, chatId, erased }, 'end user erased');
      return { status: 200, body: { chat_id: chatId, erased } };
    },
  });
  return router;
}
