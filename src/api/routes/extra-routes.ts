import type { RouteSpec } from '../route-spec.js';
import { chatControlRoutes } from './chat-controls.js';
import { codecRoutes } from './codec.js';
import { dashboardApiRoutes } from './dashboard-api.js';
import { erasureRoutes } from './erasure.js';
import { messageRoutes } from './messages.js';

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
