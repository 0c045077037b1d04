import { pino, type Logger, type DestinationStream } from 'pino';
import { currentLogContext } from '../observability/log-context.js';

export type { Logger };

/**
 * Structured JSON logs. Secrets are redacted by path as a second line of defence: code must
 * not log them in the first place, and full message text is only logged at debug level.
 *
 * Every line also carries the fields of the request or message being handled (`requestId`;
 * `workflowId`, `messageId`, `pageId`), taken from the log context (src/observability/log-context.ts)
 * unless the line or its logger already has them.
 */
export function createLogger(options: { level: string; name: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      base: { service: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: contextFields,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-token"]',
          'headers.authorization',
          'headers["x-api-token"]',
          '*.api_token',
          '*.token',
          '*.signing_secret',
          '*.apiKey',
          '*.ADMIN_TOKEN',
          '*.OPENAI_API_KEY',
          '*.METRICS_TOKEN',
          'api_token',
          'token',
          'signing_secret',
          'apiKey',
          'authorization',
        ],
        censor: '[redacted]',
      },
    },
    options.destination,
  );
}

/** The log context's fields that neither the line nor its logger's bindings already set. */
function contextFields(mergeObject: object, _level: number, logger: Logger): object {
  const context = currentLogContext();
  if (!context) return {};
  let bindings: Record<string, unknown> | undefined;
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(context)) {
    if (value === undefined || key in mergeObject) continue;
    bindings ??= logger.bindings();
    if (key in bindings) continue;
    fields[key] = value;
  }
  return fields;
}

/**
 * A failure's words as a log line may carry them: every URL cut to its host (a voice note's or a
 * receiver's path and query may hold a token, and name the user's files), and a provider's answer
 * cut after its status (`... failed with HTTP 400`: the provider's text can quote the user's
 * input). The message record keeps the whole reason, for the admin who reads it.
 */
export function loggableReason(reason: string): string {
  return reason
    .replace(/\b[a-z][a-z\d+.-]*:\/\/[^\s"'<>]+/gi, (url) => (URL.canParse(url) ? new URL(url).host : '(a URL)'))
    .replace(/(HTTP \d{3}):[\s\S]*$/, '$1');
}
