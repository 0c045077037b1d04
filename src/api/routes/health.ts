import { Router } from 'express';
import { runHealthChecks, type HealthChecks } from '../../lib/health-checks.js';

export type { HealthChecks } from '../../lib/health-checks.js';

export function healthRouter(checks: HealthChecks): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, body } = await runHealthChecks(checks);
    res.status(ready ? 200 : 503).json(body);
  });
  return router;
}
