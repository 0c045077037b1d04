import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { loggableReason, type Logger } from '../lib/logger.js';

const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's Logger interface, writing to pino. It receives the worker's own lines, the
 * Rust core's (forwarded), and the workflow and activity context loggers' (`log` from
 * @temporalio/workflow reaches it through the SDK's built-in logger sink, not during replay).
 * Metadata become fields; an `error` becomes pino's `err`, so it is serialised with its stack.
 */
export class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly logger: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const method = levels[level] ?? 'info';
    if (!this.logger.isLevelEnabled(method)) return;
    const fields: Record<string, unknown> = {};
    // Symbol keys (the SDK's timestamp) are left out: pino stamps the line itself.
    for (const [key, value] of Object.entries(meta ?? {})) {
      if (key === 'error' && value instanceof Error) fields.err = loggableError(value);
      else fields[key] = value;
    }
    this.logger[method](fields, message);
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * An error as a log line may carry it: the SDK logs every failed activity attempt with its error,
 * whose message (a voice note's URL, a model provider's answer) is cut as `loggableReason` cuts a
 * message's reason; its type and stack frames are kept. The error itself, which Temporal records,
 * is not changed.
 */
function loggableError(error: Error): Error {
  const message = loggableReason(error.message);
  if (message === error.message) return error;
  // Its own class (the line's `type`: ApplicationFailure, APIError, ...) and failure type, nothing else of it.
  const frames = error.stack?.split('\n').filter((line) => /^\s+at /.test(line)) ?? [];
  const copy = Object.create(Object.getPrototypeOf(error) as object, {
    // Own properties: Temporal's failures define `name` as a getter on their prototype.
    name: { value: error.name },
    message: { value: message },
    stack: { value: [`${error.name}: ${message}`, ...frames].join('\n') },
  }) as Error;
  const failureType = (error as { type?: unknown }).type;
  if (typeof failureType === 'string')
    Object.defineProperty(copy, 'failureType', { value: failureType, enumerable: true });
  return copy;
}

export interface TemporalRuntimeOptions {
  logger: Logger;
  /**
   * `host:port` where the SDK's Rust core serves its own Prometheus metrics (temporal_*);
   * omit to turn them off. The worker binds it on loopback and merges it into its /metrics.
   */
  sdkMetricsBindAddress?: string;
}

/**
 * Installs the process-wide Temporal runtime: SDK, core, workflow and activity logs go to pino;
 * the SDK's metrics are exported for Prometheus; and no signal handlers are installed, because
 * the worker's entry point owns SIGTERM/SIGINT (it logs, calls worker.shutdown() and enforces a
 * deadline). Must run before the first NativeConnection of the process.
 */
export function installTemporalRuntime(options: TemporalRuntimeOptions): Runtime {
  return Runtime.install({
    logger: new PinoTemporalLogger(options.logger),
    shutdownSignals: [],
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(options.sdkMetricsBindAddress
        ? { metrics: { prometheus: { bindAddress: options.sdkMetricsBindAddress } } }
        : {}),
    },
  });
}
