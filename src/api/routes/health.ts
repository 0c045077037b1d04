import { Router } from 'express';
import type { Logger } from '../../lib/logger.js';

/** Each check resolves when its dependency answers and rejects otherwise. */
export type HealthChecks = Record<string, () => Promise<void>>;

const withTimeout = (check: () => Promise<void>, ms: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    check().then(resolve, reject).finally(() => clearTimeout(timer));
  });

/**
 * `/healthz` (alive) and `/readyz` (every dependency answers). `/readyz` is open to anyone who
 * reaches the port, so a failing check is answered `{ ok: false, error: "unavailable" }` only: a
 * driver's error text names hosts, ports and addresses. The text goes to the log, once per change.
 */
export function healthRouter(checks: HealthChecks, logger?: Logger): Router {
  const router = Router();
  const lastError = new Map<string, string>();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check, 3_000);
          if (lastError.delete(name)) logger?.info({ check: name }, 'readiness check answers again');
          return [name, { ok: true }] as const;
        } catch (error) {
          const detail = error instanceof Error ? error.message : String(error);
          if (lastError.get(name) !== detail) logger?.warn({ check: name, err: detail }, 'readiness check failed');
          lastError.set(name, detail);
          return [name, { ok: false, error: 'unavailable' }] as const;
        }
      }),
    );
    const ready = results.every(([, result]) => result.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) });
  });
  return router;
}
