import express, { type Request, type RequestHandler, type Router } from 'express';
import type { z } from 'zod';
import { adminFieldErrors, queryErrors } from './contracts/admin.js';
import { secretsEqual } from '../lib/secrets.js';
import { HttpError, invalidRequest } from './errors.js';
import type { RateLimiter } from './rate-limit.js';
import { sourceKey } from './source-address.js';

/**
 * Route tables: one entry per route, from which both the router (mountRoutes) and the OpenAPI
 * document (openapi.ts) are built, so the two cannot drift apart. The entry names the zod schemas
 * of the query string, the body and the success answer; mountRoutes validates the input with them
 * before the handler runs.
 */

export type HttpMethod = 'get' | 'post' | 'patch' | 'delete';

export interface RouteSpec {
  method: HttpMethod;
  /** Express syntax (`/v1/agents/:id`). */
  path: string;
  operationId: string;
  /** The OpenAPI tag (see the document's `tags`). */
  tag: string;
  summary: string;
  description?: string;
  query?: z.ZodObject;
  /** Request headers the route reads (lower-case names), validated and documented like the query. */
  headers?: z.ZodObject;
  body?: z.ZodType;
  /** Largest JSON body this route takes (413 above); 1 MB unless given. */
  maxBodyBytes?: number;
  /** The OpenAPI security scheme that opens the route: the admin token unless given. */
  security?: 'adminToken' | 'codecToken';
  /** False when the body may be left out entirely (it is then read as `{}`). */
  bodyRequired?: boolean;
  success: {
    status: 200 | 201 | 202 | 204;
    description: string;
    schema?: z.ZodType;
    /** Media types of a body that is not JSON (the handler answers `binary`), documented instead of `schema`. */
    media?: readonly string[];
  };
  /** False when the route never touches MongoDB, so never answers 503. */
  usesDatabase?: boolean;
  /**
   * Error statuses particular to this route (404, 409, ...), each with the error body. The ones its
   * shape implies (401; 400 for a query or body; 413 and 415 for a body; 500, 503) are added by
   * the OpenAPI document (errorStatuses in openapi.ts), so listing them here is optional.
   */
  errors: readonly number[];
  /** What one of its error statuses means on this route, where the document's general wording does not fit. */
  errorDescriptions?: Readonly<Partial<Record<number, string>>>;
}

type Output<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler gets: the path parameters and the validated query string and body. */
export interface HandlerInput<R extends RouteSpec> {
  params: Record<string, string>;
  query: Output<R['query']>;
  headers: Output<R['headers']>;
  body: Output<R['body']>;
  requestId: string;
}

export interface HandlerResult {
  status: number;
  /** Sent as JSON; none for undefined (e.g. 204). */
  body?: unknown;
  /** Sent as it is instead, with its type (one of the route's `success.media`) and headers. */
  binary?: { data: Buffer; mediaType: string; headers?: Record<string, string> };
}

/** One handler per operationId of the table, typed by its entry. */
export type HandlersFor<Routes extends readonly RouteSpec[]> = {
  [R in Routes[number] as R['operationId']]: (input: HandlerInput<R>) => Promise<HandlerResult>;
};

/**
 * `Authorization: Bearer <token>`, compared in constant time; 401 naming what was expected
 * otherwise. With `failures`, each failed authentication counts against its source address, and an
 * address past its budget gets 429 for every request, the right token included, until its budget
 * refills: a guesser must not learn whether a guess was right, and only operators hold these
 * tokens (a webhook's channels share addresses with strangers; see routes/webhook.ts).
 */
export function requireBearerToken(
  token: string,
  options: { realm: string; expected: string; failures?: RateLimiter | undefined },
): RequestHandler {
  return (req, _res, next) => {
    const source = sourceKey(req.socket.remoteAddress);
    const wait = options.failures?.wait(source) ?? 0;
    if (wait > 0) {
      next(
        new HttpError(
          429,
          'rate_limited',
          `Too many failed authentications from this address; retry after ${wait} s.`,
          undefined,
          { 'retry-after': String(wait) },
        ),
      );
      return;
    }
    const presented = req.get('authorization')?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (presented === undefined || !secretsEqual(presented, token)) {
      options.failures?.take(source);
      next(
        new HttpError(401, 'unauthorized', `Missing or invalid ${options.expected}.`, undefined, {
          'www-authenticate': `Bearer realm="${options.realm}"`,
        }),
      );
      return;
    }
    next();
  };
}

/** `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time; 401 otherwise (429 past `failures`). */
export function requireAdminToken(adminToken: string, failures?: RateLimiter): RequestHandler {
  return requireBearerToken(adminToken, {
    realm: 'chatrelay-admin',
    expected: 'admin token (Authorization: Bearer <ADMIN_TOKEN>)',
    failures,
  });
}

const defaultBodyLimit = 1024 * 1024;

/** Parses a JSON body of at most `limit` bytes; an empty body (none, or Content-Length: 0) is left undefined; any other must be JSON (415). */
function jsonBody(limit: number): RequestHandler {
  const parseJson = express.json({ limit, type: () => true });
  return (req, res, next) => {
    const empty = req.get('transfer-encoding') === undefined && Number(req.get('content-length') ?? '0') === 0;
    if (empty) {
      next();
      return;
    }
    if (req.is(['application/json', '+json']) === false) {
      next(
        new HttpError(415, 'unsupported_media_type', 'The request body must be JSON (Content-Type: application/json).'),
      );
      return;
    }
    parseJson(req, res, next);
  };
}

/** Validates the query string and body a route declares; 400 with field errors otherwise. */
function parseInput(spec: RouteSpec, req: Request): HandlerInput<RouteSpec> {
  let query: unknown;
  if (spec.query) {
    const parsed = spec.query.safeParse({ ...req.query });
    if (!parsed.success)
      throw new HttpError(
        400,
        'invalid_request',
        'The query string is invalid; see details.',
        queryErrors(parsed.error),
      );
    query = parsed.data;
  }
  let headers: Record<string, unknown> | undefined;
  if (spec.headers) {
    const parsed = spec.headers.safeParse(pickHeaders(spec.headers, req));
    if (!parsed.success)
      throw new HttpError(
        400,
        'invalid_request',
        'A request header is invalid; see details.',
        queryErrors(parsed.error),
      );
    headers = parsed.data;
  }
  let body: unknown;
  if (spec.body) {
    const raw: unknown = req.body === undefined && spec.bodyRequired === false ? {} : req.body;
    const parsed = spec.body.safeParse(raw);
    if (!parsed.success) throw invalidRequest(adminFieldErrors(parsed.error, raw));
    body = parsed.data;
  }
  return {
    params: req.params as Record<string, string>,
    query: query as never,
    headers,
    body,
    requestId: req.requestId,
  };
}

/** The headers a schema names (other headers are not the route's business). */
function pickHeaders(schema: z.ZodObject, req: Request): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of Object.keys(schema.shape)) {
    const value = req.get(name);
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/** Registers every route of a table on `router`, each validated by its entry and answered by its handler. */
export function mountRoutes<const Routes extends readonly RouteSpec[]>(
  router: Router,
  routes: Routes,
  handlers: NoInfer<HandlersFor<Routes>>,
): void {
  const byOperation = handlers as unknown as Record<string, (input: HandlerInput<RouteSpec>) => Promise<HandlerResult>>;
  for (const spec of routes as readonly RouteSpec[]) {
    const handler = byOperation[spec.operationId];
    if (!handler) throw new Error(`no handler for ${spec.operationId}`);
    const run: RequestHandler = async (req, res) => {
      const result = await handler(parseInput(spec, req));
      if (result.binary) {
        res.status(result.status).set(result.binary.headers ?? {});
        res.type(result.binary.mediaType).setHeader('content-length', String(result.binary.data.length));
        res.end(result.binary.data);
      } else if (result.body === undefined) res.status(result.status).end();
      else res.status(result.status).json(result.body);
    };
    if (spec.body) router[spec.method](spec.path, jsonBody(spec.maxBodyBytes ?? defaultBodyLimit), run);
    else router[spec.method](spec.path, run);
  }
}
