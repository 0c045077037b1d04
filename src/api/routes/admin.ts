import { Router } from 'express';
import { mountRoutes, requireAdminToken, type RouteSpec } from '../route-spec.js';
import type { AdminDeps } from './admin-deps.js';
import { agentHandlers, agentRoutes } from './agents.js';
import { channelHandlers, channelRoutes } from './channels.js';
import { secretHandlers, secretRoutes } from './secrets.js';

export type { AdminDeps } from './admin-deps.js';
export { toAgentResponse } from './agents.js';
export { toChannelResponse } from './channels.js';

/**
 * The agents, channels and secrets admin API, as route tables (see route-spec.ts): the router
 * below and the OpenAPI document are both built from them.
 */
export const adminRoutes: readonly RouteSpec[] = [...agentRoutes, ...channelRoutes, ...secretRoutes];

/** The admin API (`/v1`), authenticated with the admin token; a channel's API token never opens it. */
export function adminRouter(deps: AdminDeps): Router {
  const router = Router();
  router.use('/v1', requireAdminToken(deps.adminToken, deps.authFailures));
  mountRoutes(router, agentRoutes, agentHandlers(deps));
  mountRoutes(router, channelRoutes, channelHandlers(deps));
  mountRoutes(router, secretRoutes, secretHandlers(deps));
  return router;
}
