import { Router } from 'express';
import { cachedReadiness, loggingHealthObserver, type HealthChecks } from '../../lib/health-checks.js';
import type { Logger } from '../../lib/logger.js';

export type { HealthChecks } from '../../lib/health-checks.js';

/**
 * `/healthz` (alive) and `/readyz` (every dependency answers). `/readyz` is open to anyone who
 * reaches the port, so a failing check is answered `{ ok: false, error: "unavailable" }` only: a
 * driver's error text names hosts, ports and addresses. The text goes to the log, once per change.
 * Its answer is reused for a second (`cachedReadiness`): anyone may call it, as often as they like.
 */
export function healthRouter(checks: HealthChecks, logger?: Logger, options: { now?: () => number } = {}): Router {
  const router = Router();
  const readiness = cachedReadiness(checks, { observe: loggingHealthObserver(logger), ...options });
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, body } = await readiness();
    res.status(ready ? 200 : 503).json(body);
  });
  return router;
}
