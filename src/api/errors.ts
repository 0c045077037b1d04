import type { FieldError } from '../domain/inbound.js';

/** Every error response has this shape: `{ "error": { code, message, request_id, details? } }`. */
export interface ErrorBody {
  error: { code: string; message: string; request_id: string; details?: FieldError[] };
}

/** An error that maps to a specific HTTP answer; anything else becomes a 500. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const invalidRequest = (details: FieldError[]) =>
  new HttpError(400, 'invalid_request', 'The request body is invalid; see details.', details);
export const unauthorized = (message = 'Missing or invalid API token.') => new HttpError(401, 'unauthorized', message);
export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found.`);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);
export const unavailable = (message: string) => new HttpError(503, 'unavailable', message);
/** The load gate refused a message (src/api/load-gate.ts): nothing was accepted; retry after `Retry-After` seconds. */
export const overloaded = (retryAfterSeconds: number) =>
  new HttpError(
    503,
    'overloaded',
    `Too many accepted messages are still waiting to be answered; this one was not accepted. Retry after ${retryAfterSeconds} s.`,
    undefined,
    {
      'retry-after': String(retryAfterSeconds),
    },
  );
