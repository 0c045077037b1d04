import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from '../lib/logger.js';
import { metricsHandler, observeRequests, traceRequests } from '../observability/http.js';
import type { ApiMetrics } from '../observability/metrics.js';
import { HttpError, type ErrorBody } from './errors.js';
import { healthRouter, type HealthChecks } from './routes/health.js';
import { isDatabaseUnavailable } from '../stores/unavailable.js';

declare module 'express-serve-static-core' {
  interface Request {
    requestId: string;
  }
}

export interface AppDeps {
  logger: Logger;
  health: HealthChecks;
  /** Feature routers mounted at the root, in order. */
  routers?: Router[];
  /** Request metrics, served at GET /metrics when given. */
  metrics?: ApiMetrics;
  /** When set, GET /metrics requires `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
}

/** Builds the HTTP app from its dependencies; no I/O happens here. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  const requestId: RequestHandler = (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.requestId = incoming && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', req.requestId);
    next();
  };
  app.use(requestId);
  app.use(traceRequests());
  app.use(observeRequests({ logger: deps.logger, ...(deps.metrics ? { metrics: deps.metrics } : {}) }));
  if (deps.metrics) app.get('/metrics', metricsHandler(deps.metrics, deps.metricsToken));
  app.use(healthRouter(deps.health, deps.logger));
  for (const router of deps.routers ?? []) app.use(router);

  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `No route for ${req.method} ${req.path}.`)));

  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    const status = errorStatus(error);
    // A load-gate refusal names no dependency, so its reason is answered as it is; and it is not a
    // failure to log per request (the gate logs when shedding starts and ends).
    const shed = error instanceof HttpError && error.code === 'overloaded';
    const body: ErrorBody = {
      error: { code: 'internal', message: 'Internal server error.', request_id: req.requestId },
    };
    if (error instanceof HttpError) {
      body.error.code = error.code;
      // A 5xx message may quote a dependency's error (hosts, addresses): it goes to the log below,
      // the client gets the generic reason and the request id that finds it there.
      body.error.message = status >= 500 && !shed ? genericReason(status) : error.message;
      if (error.details && status < 500) body.error.details = error.details;
      for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    } else if (status === 503) {
      body.error = { code: 'unavailable', message: genericReason(503), request_id: req.requestId };
    } else if (status < 500) {
      body.error = { ...clientError(error, status), request_id: req.requestId };
    }
    if (status >= 500 && !shed)
      deps.logger.error({ err: error, requestId: req.requestId, route: req.path }, 'request failed');
    res.status(status).json(body);
  };
  app.use(onError);
  return app;
}

/**
 * The code and message of a 4xx that express or body-parser raised (not one of ours): each names
 * what is wrong, so a client never gets `internal` for its own mistake, nor `invalid_json` for a
 * body that was never parsed.
 */
function clientError(error: unknown, status: number): { code: string; message: string } {
  const { type, charset, encoding } = error as { type?: unknown; charset?: unknown; encoding?: unknown };
  // The router's decoding of a path parameter (a `%` not followed by two hex digits, or bytes that are not UTF-8).
  if (error instanceof URIError) return { code: 'invalid_path', message: 'The request path has a malformed % escape.' };
  switch (type) {
    case 'entity.parse.failed':
      return { code: 'invalid_json', message: 'The request body is not valid JSON.' };
    case 'charset.unsupported':
      return {
        code: 'unsupported_charset',
        message: `The request body's charset ${JSON.stringify(String(charset))} is not supported; send UTF-8.`,
      };
    case 'encoding.unsupported':
      return {
        code: 'unsupported_encoding',
        message: `The request body's content encoding ${JSON.stringify(String(encoding))} is not supported.`,
      };
    default:
      return status === 413
        ? { code: 'payload_too_large', message: 'The request body is too large.' }
        : { code: 'bad_request', message: 'The request could not be read.' };
  }
}

function genericReason(status: number): string {
  return status === 503 ? 'A service this API depends on is unavailable; try again shortly.' : 'Internal server error.';
}

function errorStatus(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (isDatabaseUnavailable(error)) return 503;
  // body-parser marks its own errors with a status (400 for bad JSON, 413 for size).
  const candidate = (error as { status?: unknown; type?: unknown }).status;
  if (typeof candidate === 'number' && candidate >= 400 && candidate < 500) return candidate;
  return 500;
}
