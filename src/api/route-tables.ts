import type { RouteSpec } from './route-table.js';
import { chatControlRoutes } from './routes/chat-controls.js';
import { codecRoutes } from './routes/codec.js';
import { dashboardApiRoutes } from './routes/dashboard-api.js';
import { erasureRoutes } from './routes/erasure.js';
import { messageRoutes } from './routes/messages.js';

/**
 * The route tables mounted besides the agents and channels admin API (which the OpenAPI document
 * always has): one list, so the API, its document and the dashboard's typed client (built from
 * that document by scripts/build-dashboard.ts) name the same routes.
 */
export const extraRoutes: readonly RouteSpec[] = [
  ...messageRoutes,
  ...erasureRoutes,
  ...codecRoutes,
  ...dashboardApiRoutes,
  ...chatControlRoutes,
];
