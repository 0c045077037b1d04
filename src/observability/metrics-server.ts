import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { cachedReadiness, loggingHealthObserver, type HealthChecks } from '../lib/health-checks.js';
import type { Logger } from '../lib/logger.js';
import { metricsAuthorized } from './metrics.js';
import { gracefulServer } from './shutdown.js';

export interface MetricsServerOptions {
  host: string;
  /** 0 lets the kernel choose (tests); the worker's entry point does not start the server for METRICS_PORT=0. */
  port: number;
  registry: Registry;
  /** When set, scrapes need `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Another Prometheus endpoint whose text is appended to ours (the Temporal SDK's own metrics,
   * served on loopback by its Rust core). `up` is told whether it answered before each scrape.
   */
  merge?: { url: string; up(ok: boolean): void };
  /**
   * What `GET /readyz` checks (the worker: Temporal, MongoDB, and the worker polling); 200 when all
   * pass, else 503 naming the failed ones (the cause is logged, not answered). Without it, /readyz is not served.
   */
  readiness?: HealthChecks;
  logger: Logger;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * A small HTTP server for the worker: `GET /metrics` (Prometheus text), and for container
 * orchestrators `GET /healthz` (the process is alive) and `GET /readyz` (its dependencies answer),
 * both open like the API's.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const readiness = options.readiness
    ? cachedReadiness(options.readiness, { observe: loggingHealthObserver(options.logger) })
    : undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method === 'GET' && path === '/readyz' && readiness) {
      void readiness().then(({ ready, body }) =>
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify(body)),
      );
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found"}}');
      return;
    }
    if (!metricsAuthorized(req.headers.authorization, options.token)) {
      res
        .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' })
        .end('{"error":{"code":"unauthorized"}}');
      return;
    }
    void scrape(options).then(
      (body) =>
        res.writeHead(200, { 'content-type': options.registry.contentType, 'cache-control': 'no-store' }).end(body),
      (error: unknown) => {
        options.logger.error({ err: error }, 'metrics scrape failed');
        res.writeHead(500).end();
      },
    );
  });
  const graceful = gracefulServer(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    async close() {
      await graceful.close(2_000);
    },
  };
}

async function scrape(options: MetricsServerOptions): Promise<string> {
  let merged = '';
  if (options.merge) {
    try {
      const response = await fetch(options.merge.url, { signal: AbortSignal.timeout(2_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      merged = await response.text();
      options.merge.up(true);
    } catch {
      options.merge.up(false);
    }
  }
  const own = await options.registry.metrics();
  return merged.length > 0 ? `${own.trimEnd()}\n${merged}` : own;
}
