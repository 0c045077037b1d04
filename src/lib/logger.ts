import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Secrets are redacted by path as a second line of defence: code must
 * not log them in the first place, and full message text is only logged at debug level.
 */
export function createLogger(options: { level: string; name: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      base: { service: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
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
          'api_token',
          'token',
          'signing_secret',
        ],
        censor: '[redacted]',
      },
    },
    options.destination,
  );
}
