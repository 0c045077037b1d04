import { Router } from 'express';
import { z } from 'zod';
import {
  agentListResponseSchema,
  agentResponseSchema,
  channelListResponseSchema,
  channelResponseSchema,
  channelWithSigningSecretResponseSchema,
  channelWithTokenResponseSchema,
  createAgentSchema,
  createChannelSchema,
  createdChannelResponseSchema,
  errorResponseSchema,
  healthResponseSchema,
  readinessResponseSchema,
  replyFormSchema,
  replyHeadersSchema,
  rotateTokenSchema,
  updateAgentSchema,
  updateChannelSchema,
  webhookAcceptedSchema,
} from './contracts/admin.js';
import { codecPayloadsSchema } from './contracts/codec.js';
import { inboundMessageSchema, type InboundLimits } from '../domain/inbound.js';
import { HttpError } from './errors.js';
import type { RouteSpec } from './route-spec.js';
import { adminRoutes } from './routes/admin.js';

/**
 * The OpenAPI 3.1 document of the whole HTTP API, generated from the zod schemas the routes
 * validate with (JSON Schema 2020-12, the dialect OpenAPI 3.1 uses), so it cannot drift from them.
 * test/api/openapi.test.ts checks it against the routes the real app registers.
 */

type JsonSchema = Record<string, unknown>;
type JsonObject = Record<string, unknown>;

export interface OpenApiOptions {
  /** The inbound limits of this deployment, so the documented maximums are the enforced ones. */
  limits: InboundLimits & { maxBodyBytes: number };
  /** Where clients reach this API. */
  publicBaseUrl?: string;
  /** The route tables mounted besides the agents and channels admin API, to document too. */
  extraRoutes?: readonly RouteSpec[];
  version?: string;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const errorContent = () => json(ref('Error'));

/** Express `:name` parameters as OpenAPI `{name}`. */
export const openApiPath = (expressPath: string): string => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** A standalone JSON Schema of one zod schema, as request input (defaults make a field optional). */
function schemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;
  return rest;
}

const errorDescriptions: Record<number, string> = {
  400: 'The body, query string or JSON is invalid; `error.details` names each invalid field.',
  401: 'Missing or invalid admin token (`Authorization: Bearer <ADMIN_TOKEN>`). A channel API token never opens an admin route.',
  404: 'No such resource.',
  403: 'The request comes from a browser origin that is not in CODEC_CORS_ORIGINS.',
  409: 'Conflict: the `page_id` is taken, or the agent is still used by channels.',
  413: 'The request body is larger than 1 MiB.',
  415: 'The request body is not JSON.',
  429: 'Too many failed admin and codec authentications from this address (`RATE_LIMIT_ADMIN_FAILURES_PER_MINUTE`): every admin and codec request from it is refused until `Retry-After` seconds have passed.',
  500: 'Internal error; `error.request_id` identifies it in the logs.',
  503: 'A service this API depends on (MongoDB, Temporal) is unavailable; retry shortly. The message is generic: the cause is in the log under `error.request_id`.',
};

/**
 * Every error status a route of a table can answer: its own (`errors`: 404, 409, ...) and the ones
 * that follow from its shape, so that no entry can forget them: 401 and 429 (the admin or codec
 * token guards every table route, and failed authentications are limited per address), 400 for a query string or a body, 413 and 415 for a body (the JSON parser), 500
 * and 503 (MongoDB or Temporal unavailable) for all.
 */
export function errorStatuses(spec: RouteSpec): number[] {
  const statuses = new Set([...spec.errors, 401, 429, 500, ...(spec.usesDatabase === false ? [] : [503])]);
  if (spec.query || spec.body) statuses.add(400);
  if (spec.body) for (const status of [413, 415]) statuses.add(status);
  return [...statuses].sort((a, b) => a - b);
}

/** Per security scheme: what a 401 of a route it guards means. */
const unauthorizedDescriptions: Record<NonNullable<RouteSpec['security']>, string> = {
  adminToken: errorDescriptions[401]!,
  codecToken: 'Missing or invalid codec token (`Authorization: Bearer <CODEC_TOKEN>`; ADMIN_TOKEN never opens it).',
};

function adminOperation(spec: RouteSpec, componentName: (schema: z.ZodType) => string): JsonObject {
  const parameters: JsonObject[] = [];
  for (const match of spec.path.matchAll(/:([A-Za-z0-9_]+)/g)) {
    parameters.push({ name: match[1], in: 'path', required: true, schema: { type: 'string' } });
  }
  for (const [location, object] of [
    ['query', spec.query],
    ['header', spec.headers],
  ] as const) {
    for (const [name, field] of Object.entries(object?.shape ?? {})) {
      const { description, ...schema } = schemaOf(field as z.ZodType);
      parameters.push({
        name,
        in: location,
        required: !(field as z.ZodType).safeParse(undefined).success,
        ...(typeof description === 'string' ? { description } : {}),
        schema,
      });
    }
  }
  const security = spec.security ?? 'adminToken';
  const responses: JsonObject = {
    [String(spec.success.status)]: {
      description: spec.success.description,
      ...(spec.success.schema ? { content: json(ref(componentName(spec.success.schema))) } : {}),
      ...(spec.success.media
        ? {
            content: Object.fromEntries(
              spec.success.media.map((type) => [type, { schema: { type: 'string', contentMediaType: type } }]),
            ),
          }
        : {}),
    },
  };
  for (const status of errorStatuses(spec)) {
    const description =
      spec.errorDescriptions?.[status] ??
      (status === 401 ? unauthorizedDescriptions[security] : errorDescriptions[status]);
    responses[String(status)] = { description: description ?? 'Error.', content: errorContent() };
  }
  return {
    operationId: spec.operationId,
    tags: [spec.tag],
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    security: [{ [security]: [] }],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body
      ? { requestBody: { required: spec.bodyRequired !== false, content: json(ref(componentName(spec.body))) } }
      : {}),
    responses,
  };
}

/** Schema components with chosen names. Request bodies are strict (additionalProperties: false). */
const namedSchemas = new Map<string, z.ZodType>([
  ['WebhookAccepted', webhookAcceptedSchema],
  ['Error', errorResponseSchema],
  ['Health', healthResponseSchema],
  ['Readiness', readinessResponseSchema],
  ['CreateAgentRequest', createAgentSchema],
  ['UpdateAgentRequest', updateAgentSchema],
  ['Agent', agentResponseSchema],
  ['AgentList', agentListResponseSchema],
  ['CreateChannelRequest', createChannelSchema],
  ['UpdateChannelRequest', updateChannelSchema],
  ['RotateTokenRequest', rotateTokenSchema],
  ['Channel', channelResponseSchema],
  ['CreatedChannel', createdChannelResponseSchema],
  ['ChannelWithToken', channelWithTokenResponseSchema],
  ['ChannelWithSigningSecret', channelWithSigningSecretResponseSchema],
  ['ChannelList', channelListResponseSchema],
  ['ReplyForm', replyFormSchema],
]);
/** Names for schemas that only some route tables use (a component exists only when a route refers to it). */
const preferredNames = new Map<z.ZodType, string>([[codecPayloadsSchema, 'Payloads']]);
const pascal = (operationId: string) => operationId.charAt(0).toUpperCase() + operationId.slice(1);

/**
 * The document's schema components: the named ones above, the inbound message with this
 * deployment's limits, and any other schema a route table uses, named after its operation.
 */
function components(limits: InboundLimits, routes: readonly RouteSpec[]) {
  const byName = new Map<string, z.ZodType>([['InboundMessage', inboundMessageSchema(limits)], ...namedSchemas]);
  const nameOf = new Map([...byName].map(([name, schema]) => [schema, name]));
  const name = (schema: z.ZodType, fallback: string): void => {
    if (nameOf.has(schema)) return;
    const chosen = preferredNames.get(schema) ?? fallback;
    if (byName.has(chosen)) throw new Error(`two schemas would be named ${chosen} in the OpenAPI document`);
    byName.set(chosen, schema);
    nameOf.set(schema, chosen);
  };
  for (const spec of routes) {
    if (spec.body) name(spec.body, `${pascal(spec.operationId)}Request`);
    if (spec.success.schema) name(spec.success.schema, `${pascal(spec.operationId)}Response`);
  }
  const componentName = (schema: z.ZodType): string => {
    const found = nameOf.get(schema);
    if (found === undefined) throw new Error('a route uses a schema that is not a component of the OpenAPI document');
    return found;
  };

  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of byName) registry.add(schema, { id });
  const generated = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(generated.schemas)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema;
    schemas[id] = rest;
  }
  return { schemas, componentName };
}

export function buildOpenApiDocument(options: OpenApiOptions): JsonObject {
  const routes: readonly RouteSpec[] = [...adminRoutes, ...(options.extraRoutes ?? [])];
  const { schemas, componentName } = components(options.limits, routes);
  const paths: Record<string, JsonObject> = {};
  const add = (method: string, path: string, operation: JsonObject) => {
    const item = (paths[path] ??= {});
    item[method] = operation;
  };

  add('post', '/webhook/mychatbot', {
    operationId: 'sendMessage',
    tags: ['Messages'],
    summary: 'Send a user message to the channel’s AI agent',
    description:
      'Answers at once, when the message is durably recorded; the reply is POSTed later to the channel’s Reply Webhook URL (see the `reply` webhook). ' +
      'Unknown fields are ignored. Posting the same `message_id` again is answered `duplicate: true` and gets no second reply.',
    security: [{ channelToken: [] }, { channelTokenHeader: [] }],
    requestBody: { required: true, content: json(ref('InboundMessage')) },
    responses: {
      '200': { description: 'Accepted.', content: json(ref('WebhookAccepted')) },
      '400': {
        description: 'The body is not valid JSON or breaks the contract; `error.details` names each invalid field.',
        content: errorContent(),
      },
      '401': {
        description:
          'Missing API token, or not the current token of the channel with this `page_id` (checked before the other fields).',
        content: errorContent(),
      },
      '413': { description: `The body is larger than ${options.limits.maxBodyBytes} bytes.`, content: errorContent() },
      '415': { description: 'The body is not JSON (`Content-Type: application/json`).', content: errorContent() },
      '429': {
        description:
          'Over the channel’s or the end user’s rate limit, or too many failed requests from this address (`RATE_LIMIT_FAILURES_PER_MINUTE`); retry after `Retry-After` seconds.',
        headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait.' } },
        content: errorContent(),
      },
      '500': { description: 'Internal error.', content: errorContent() },
      '503': {
        description:
          'The message was not accepted; retry. `error.code` says why: `unavailable`, Temporal or MongoDB cannot be reached; ' +
          '`overloaded`, too much accepted work is still waiting (its oldest task has waited longer than OVERLOAD_MAX_BACKLOG_MS): ' +
          'nothing was recorded or started for this message, retry after `Retry-After` seconds.',
        headers: {
          'Retry-After': {
            schema: { type: 'integer' },
            description: 'With `overloaded`: seconds to wait (OVERLOAD_RETRY_AFTER_SECONDS).',
          },
        },
        content: errorContent(),
      },
    },
  });

  for (const spec of routes) add(spec.method, openApiPath(spec.path), adminOperation(spec, componentName));

  add('get', '/healthz', {
    operationId: 'health',
    tags: ['Operations'],
    summary: 'Liveness',
    security: [],
    responses: { '200': { description: 'The process is alive.', content: json(ref('Health')) } },
  });
  add('get', '/readyz', {
    operationId: 'readiness',
    tags: ['Operations'],
    summary: 'Readiness: MongoDB and Temporal answer',
    security: [],
    responses: {
      '200': { description: 'Every dependency answers.', content: json(ref('Readiness')) },
      '503': {
        description: 'A dependency does not answer; `checks` says which (the cause is logged, not answered).',
        content: json(ref('Readiness')),
      },
    },
  });
  add('get', '/media/{id}', {
    operationId: 'getMedia',
    tags: ['Operations'],
    summary: 'A reply’s speech audio',
    description: 'The URL sent in a reply’s `audio` field. The long random id is the only key: no authentication.',
    security: [],
    parameters: [
      { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{16,64}$' } },
    ],
    responses: {
      '200': { description: 'The audio, with `X-Content-Type-Options: nosniff`.', content: { 'audio/*': {} } },
      '404': { description: 'No such media, or its channel was deleted.', content: errorContent() },
      '500': { description: errorDescriptions[500], content: errorContent() },
      '503': { description: errorDescriptions[503], content: errorContent() },
    },
  });
  add('get', '/metrics', {
    operationId: 'metrics',
    tags: ['Operations'],
    summary: 'Prometheus metrics of this API process',
    description: 'Open, unless METRICS_TOKEN is set: then `Authorization: Bearer <METRICS_TOKEN>` is required.',
    security: [{}, { metricsToken: [] }],
    responses: {
      '200': {
        description: 'Prometheus text exposition format.',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
      '401': { description: 'METRICS_TOKEN is set and was not given.', content: errorContent() },
      '500': { description: errorDescriptions[500], content: errorContent() },
    },
  });
  add('get', '/openapi.json', {
    operationId: 'openapi',
    tags: ['Operations'],
    summary: 'This document',
    security: [],
    responses: { '200': { description: 'The OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
  });

  const headerParameters = Object.entries(replyHeadersSchema.shape).map(([name, field]) => {
    const { description, ...schema } = schemaOf(field);
    return {
      name,
      in: 'header',
      required: !field.safeParse(undefined).success,
      ...(typeof description === 'string' ? { description } : {}),
      schema,
    };
  });

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'chatrelay',
      version: options.version ?? '1.0.0',
      description:
        'Relays chat messages from client platforms to an AI model through durable Temporal workflows and delivers the replies to each channel’s Reply Webhook URL. ' +
        'Implements the MyChatBot Webhooks API contract; the admin API (`/v1`) manages agents and channels.',
    },
    ...(options.publicBaseUrl ? { servers: [{ url: options.publicBaseUrl }] } : {}),
    tags: [
      { name: 'Messages', description: 'The inbound webhook client platforms call.' },
      { name: 'Agents', description: 'Admin: the model and prompt that answer channels.' },
      { name: 'Channels', description: 'Admin: client platform pages, their API tokens and Reply Webhook URLs.' },
      ...[...new Set(routes.map((spec) => spec.tag))]
        .filter((tag) => !['Messages', 'Agents', 'Channels', 'Operations'].includes(tag))
        .map((tag) => ({ name: tag })),
      { name: 'Operations', description: 'Health, metrics, media and this document.' },
    ],
    paths,
    webhooks: {
      reply: {
        post: {
          operationId: 'reply',
          summary: 'A reply, POSTed to the channel’s Reply Webhook URL',
          description:
            'One POST per reply part, in order: the next part is sent once the previous one was accepted (2xx). ' +
            'A part that is not accepted is retried on the DELIVERY_RETRY_SCHEDULE with the same `webhook-id`.',
          parameters: headerParameters,
          requestBody: {
            required: true,
            content: { 'application/x-www-form-urlencoded': { schema: ref('ReplyForm') } },
          },
          responses: {
            '2XX': { description: 'Delivered; the next part follows.' },
            '408': { description: 'Retried.' },
            '410': { description: 'Gone: delivery of this message stops.' },
            '429': { description: 'Retried, not before `Retry-After` when given.' },
            '5XX': { description: 'Retried, not before `Retry-After` when given.' },
            default: { description: 'Any other answer: rejected; delivery of this message stops.' },
          },
        },
      },
    },
    components: {
      schemas,
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN of the deployment.' },
        channelToken: { type: 'http', scheme: 'bearer', description: 'The channel’s API token.' },
        channelTokenHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Api-Token',
          description: 'The channel’s API token, for platforms that cannot set Authorization.',
        },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN of the deployment, when set.' },
        codecToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'The CODEC_TOKEN of the deployment (without one the codec endpoint is off).',
        },
      },
    },
  };
}

/** Serves the document at `GET /openapi.json`, without authentication. */
export function openapiRouter(options: OpenApiOptions): Router {
  const document = JSON.stringify(buildOpenApiDocument(options));
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  return router;
}

/**
 * Answers 405 (with `Allow`) for a method a documented path does not have, instead of 404: the
 * path exists. Mounted after every router, so it only sees requests no route took.
 */
export function methodNotAllowedRouter(options: OpenApiOptions): Router {
  const paths = (buildOpenApiDocument(options).paths ?? {}) as Record<string, Record<string, unknown>>;
  const table = Object.entries(paths).map(([path, operations]) => ({
    pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
    methods: Object.keys(operations).map((method) => method.toUpperCase()),
  }));
  const router = Router();
  router.use((req, _res, next) => {
    const route = table.find((entry) => entry.pattern.test(req.path));
    if (!route || route.methods.includes(req.method) || (req.method === 'HEAD' && route.methods.includes('GET'))) {
      next();
      return;
    }
    const allow = route.methods.join(', ');
    next(
      new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here; allowed: ${allow}.`, undefined, {
        allow,
      }),
    );
  });
  return router;
}
