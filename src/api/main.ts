import { ConfigError, loadConfig, loadConfigOrExit } from '../config.js';
import { createLogger } from '../lib/logger.js';
import { startTracing } from '../observability/tracing.js';
import { startApi } from './server.js';

const config = loadConfigOrExit(() => loadConfig(process.env, 'api'));
const logger = createLogger({ level: config.LOG_LEVEL, name: 'chatrelay-api' });
// Before the API builds its Temporal client: OTEL_* variables turn tracing on.
const tracing = await startTracing({ serviceName: 'chatrelay-api' });
if (tracing) logger.info({ serviceName: tracing.serviceName }, 'tracing on (OpenTelemetry, from OTEL_* variables)');
const api = await startApi(config, logger).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(78);
  }
  throw error;
});

/**
 * SIGTERM/SIGINT: stop accepting connections, let requests in flight finish (each answered
 * request that started a workflow gets its 200), then exit 0. Connections still open after
 * API_SHUTDOWN_TIMEOUT_MS are dropped; if closing hangs anyway (MongoDB, Temporal), the process
 * exits 1 a few seconds later rather than never.
 */
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    logger.info({ signal, timeoutMs: config.API_SHUTDOWN_TIMEOUT_MS }, 'API shutting down');
    setTimeout(() => {
      logger.error({ ms: Date.now() - started }, 'API shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.API_SHUTDOWN_TIMEOUT_MS + 5_000).unref();
    api.close().then(
      async () => {
        // Spans still buffered are exported before the process goes.
        await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'tracing shutdown failed'));
        logger.info({ ms: Date.now() - started }, 'API stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'API shutdown failed');
        process.exit(1);
      },
    );
  });
}
