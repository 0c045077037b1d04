import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../lib/logger.js';
import { runWithLogContext } from './log-context.js';
import { metricsAuthorized, type ApiMetrics } from './metrics.js';
import { activeTracing } from './tracing.js';

/** Requests that probes and scrapers make all day long: logged at debug, not info. */
const quietRoutes = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The route pattern a request matched (`/media/:id`), never its concrete path, so that metrics
 * labels and logs hold no ids; `(unmatched)` when no route matched (404s).
 */
export function routeLabel(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string' ? `${req.baseUrl}${route}` : '(unmatched)';
}

/**
 * Counts and times every request, writes one access line per request, and runs the rest of the
 * request in a log context carrying its request id. Mount right after the request-id middleware.
 */
export function observeRequests(deps: { logger: Logger; metrics?: ApiMetrics }): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let recorded = false;
    const record = (): void => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeLabel(req);
      // A request whose client went away before the answer is counted with status 499 (nginx's convention).
      const status = res.writableFinished ? String(res.statusCode) : '499';
      const labels = { route, method: req.method, status };
      deps.metrics?.httpRequests.inc(labels);
      deps.metrics?.httpDuration.observe(labels, seconds);
      const line = {
        requestId: req.requestId,
        method: req.method,
        route,
        status: Number(status),
        ms: Math.round(seconds * 1000),
      };
      if (quietRoutes.has(route)) deps.logger.debug(line, 'request');
      else deps.logger.info(line, 'request');
    };
    res.once('finish', record);
    res.once('close', record);
    runWithLogContext({ requestId: req.requestId }, next);
  };
}

/**
 * With tracing on (tracing.ts), a server span per request, continuing the caller's `traceparent`
 * when it sends one; the rest of the request (a workflow start among it) runs inside it. Named and
 * tagged with the route pattern, never the concrete path (a media id is its only key). Probes and
 * scrapes are not traced. Without tracing, a pass-through.
 */
export function traceRequests(): RequestHandler {
  if (!activeTracing()) return (_req, _res, next) => next();
  const tracer = trace.getTracer('chatrelay');
  return (req, res, next) => {
    if (quietRoutes.has(req.path)) {
      next();
      return;
    }
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      req.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } },
      parent,
    );
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      const route = routeLabel(req);
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({
        'http.route': route,
        'http.response.status_code': res.writableFinished ? res.statusCode : 499,
      });
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(trace.setSpan(parent, span), next);
  };
}

/** `GET /metrics`: the registry in Prometheus text format, behind a bearer token when one is set. */
export function metricsHandler(metrics: ApiMetrics, token: string | undefined): RequestHandler {
  return async (req, res) => {
    if (!metricsAuthorized(req.get('authorization'), token)) {
      res
        .status(401)
        .setHeader('www-authenticate', 'Bearer')
        .json({ error: { code: 'unauthorized', message: 'A metrics token is required.', request_id: req.requestId } });
      return;
    }
    const body = await metrics.registry.metrics();
    res.setHeader('content-type', metrics.registry.contentType);
    res.setHeader('cache-control', 'no-store');
    res.end(body);
  };
}
