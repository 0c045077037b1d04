import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Router, type Express } from 'express';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { buildOpenApiDocument, openApiPath } from '../../src/api/openapi.js';
import { createApp } from '../../src/api/app.js';
import { mountRoutes, type RouteSpec } from '../../src/api/route-spec.js';
import { adminRoutes } from '../../src/api/routes/admin.js';
import { codecRoutes } from '../../src/api/routes/codec.js';
import { messageRoutes } from '../../src/api/routes/messages.js';
import { extraRoutes } from '../../src/api/routes/extra-routes.js';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { loadConfig, type Config } from '../../src/config.js';
import { inboundMessageSchema } from '../../src/domain/inbound.js';
import { createLogger } from '../../src/lib/logger.js';
import { freePort } from '../../src/lib/ports.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

type Json = Record<string, unknown>;
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface StackLayer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: StackLayer[] };
  slash?: boolean;
}

/**
 * Every `METHOD /path` an express 5 app answers, read from its router stack. Routers mounted
 * with app.use(router) are walked; one mounted under a path prefix fails the test, as its
 * prefix is not recoverable here (mount feature routers at the root, as createApp does).
 */
function registeredRoutes(app: Express): Set<string> {
  const found = new Set<string>();
  const walk = (stack: StackLayer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        assert.equal(typeof layer.route.path, 'string', 'routes are declared with string paths');
        for (const [method, on] of Object.entries(layer.route.methods))
          if (on && method !== '_all') found.add(`${method.toUpperCase()} ${layer.route.path as string}`);
      } else if (layer.handle?.stack) {
        assert.equal(layer.slash, true, 'nested routers are mounted at the root');
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: StackLayer[] } }).router.stack);
  return found;
}

function documentedRoutes(document: Json): Set<string> {
  const found = new Set<string>();
  for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
    for (const method of Object.keys(item)) {
      if (HTTP_METHODS.includes(method)) found.add(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`);
    }
  }
  return found;
}

/** Every `$ref` in the document, which must point inside it. */
function refs(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refs(item, into);
  else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') into.push(inner);
      else refs(inner, into);
    }
  }
  return into;
}

function resolvePointer(document: Json, pointer: string): unknown {
  assert.ok(pointer.startsWith('#/'), pointer);
  return pointer
    .slice(2)
    .split('/')
    .reduce<unknown>(
      (node, part) => (node as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')],
      document,
    );
}

describe('OpenAPI document', () => {
  let mongo: TestMongo;
  let api: RunningApi;
  let config: Config;
  let base: string;
  let served: Json;

  before(async () => {
    mongo = await startTestMongo();
    config = loadConfig({
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      // Never contacted: the document and the route table need no Temporal.
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      OPENAI_API_KEY: 'unused',
      ADMIN_TOKEN: 'openapi-test-admin-token',
      // The codec endpoint is on only with its own token; the document describes it as on.
      CODEC_TOKEN: 'Openapi-test-CODEC-token-0123456789',
      SECRETS_ENCRYPTION_KEY: 'openapi-test-secrets-encryption-key-0123456789',
      HOST: '127.0.0.1',
      PORT: '0',
      MAX_TEXT_LENGTH: '1234',
      MAX_BODY_BYTES: '5000',
    });
    api = await startApi(config, createLogger({ level: 'silent', name: 'test' }));
    base = `http://127.0.0.1:${api.port}`;
    const response = await fetch(`${base}/openapi.json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    served = (await response.json()) as Json;
  });
  after(async () => {
    await api?.close();
    await mongo?.close();
  });

  test('is served without authentication and is a valid OpenAPI 3.1 document', async () => {
    assert.equal(served.openapi, '3.1.0');
    const result = await new Validator().validate(served);
    assert.deepEqual(result, { valid: true });
    assert.deepEqual(served.servers, [{ url: config.PUBLIC_BASE_URL }]);
  });

  test('documents exactly the routes the real app registers', () => {
    const registered = registeredRoutes(api.app);
    const documented = documentedRoutes(served);
    assert.ok(registered.size >= 16, `found only ${[...registered].join(', ')}`);
    assert.deepEqual(
      [...registered].filter((route) => !documented.has(route)).sort(),
      [],
      'registered but not documented',
    );
    assert.deepEqual(
      [...documented].filter((route) => !registered.has(route)).sort(),
      [],
      'documented but not registered',
    );
    for (const expected of [
      'POST /webhook/mychatbot',
      'GET /healthz',
      'GET /readyz',
      'GET /media/:id',
      'GET /openapi.json',
      'POST /v1/channels/:id/rotate-token',
    ]) {
      assert.ok(registered.has(expected), expected);
    }
  });

  test('every $ref resolves, and every schema component is used', () => {
    const all = refs(served);
    for (const pointer of all) assert.ok(resolvePointer(served, pointer) !== undefined, `${pointer} resolves`);
    const components = Object.keys((served.components as { schemas: Json }).schemas);
    for (const name of components) assert.ok(all.includes(`#/components/schemas/${name}`), `${name} is referenced`);
  });

  test('the inbound webhook: request body from inboundMessageSchema with this deployment’s limits, and its answers', () => {
    const operation = (served.paths as Record<string, Json>)['/webhook/mychatbot']?.post as Json;
    const body = (operation.requestBody as Json).content as Record<string, { schema: Json }>;
    assert.deepEqual(body['application/json']?.schema, { $ref: '#/components/schemas/InboundMessage' });
    const component = (served.components as { schemas: Record<string, Json> }).schemas.InboundMessage;
    const limits = {
      maxTextLength: config.MAX_TEXT_LENGTH,
      maxAttachments: config.MAX_ATTACHMENTS,
      maxUrlLength: config.MAX_URL_LENGTH,
    };
    const { $schema: _dialect, ...expected } = z.toJSONSchema(inboundMessageSchema(limits), {
      target: 'draft-2020-12',
      io: 'input',
    }) as Json;
    assert.deepEqual(component, expected);
    assert.equal(((component?.properties as Record<string, Json>).text as Json).maxLength, 1234);
    assert.deepEqual(Object.keys(operation.responses as Json).sort(), [
      '200',
      '400',
      '401',
      '413',
      '415',
      '429',
      '500',
      '503',
    ]);
    for (const status of ['400', '401', '413', '415', '429', '500', '503']) {
      const content = ((operation.responses as Record<string, Json>)[status]?.content ?? {}) as Record<
        string,
        { schema: Json }
      >;
      assert.deepEqual(content['application/json']?.schema, { $ref: '#/components/schemas/Error' }, status);
    }
    assert.match(String((operation.responses as Record<string, Json>)['413']?.description), /5000 bytes/);
    // Both refusals that say when to retry document Retry-After; a 503 says which of its two codes means what.
    for (const status of ['429', '503'])
      assert.ok(
        ((operation.responses as Record<string, Json>)[status]?.headers as Json | undefined)?.['Retry-After'],
        status,
      );
    assert.match(
      String((operation.responses as Record<string, Json>)['503']?.description),
      /`overloaded`.*OVERLOAD_MAX_BACKLOG_MS/,
    );
    assert.deepEqual(operation.security, [{ channelToken: [] }, { channelTokenHeader: [] }]);
  });

  test('admin operations: admin auth, strict request bodies, error answers, query parameters', () => {
    const schemas = (served.components as { schemas: Record<string, Json> }).schemas;
    for (const route of adminRoutes) {
      const operation = (served.paths as Record<string, Json>)[openApiPath(route.path)]?.[route.method] as
        Json | undefined;
      assert.ok(operation, `${route.method} ${route.path}`);
      assert.equal(operation.operationId, route.operationId);
      assert.deepEqual(operation.security, [{ adminToken: [] }]);
      const responses = operation.responses as Json;
      assert.ok(responses[String(route.success.status)], `${route.operationId} success`);
      for (const status of [...route.errors, 500, 503])
        assert.ok(responses[String(status)], `${route.operationId} ${status}`);
      assert.ok(responses['401'], 'every admin route documents 401');
      if ('body' in route) {
        const ref = (
          ((operation.requestBody as Json).content as Json)['application/json'] as { schema: { $ref: string } }
        ).schema.$ref;
        const schema = resolvePointer(served, ref) as Json;
        assert.equal(schema.additionalProperties, false, `${route.operationId} rejects unknown fields`);
      }
    }
    assert.deepEqual((schemas.CreateChannelRequest?.required as string[]).sort(), [
      'agent_id',
      'page_id',
      'reply_webhook_url',
    ]);
    assert.deepEqual((schemas.CreateAgentRequest?.required as string[]).sort(), ['name', 'system_prompt']);
    const channelProps = schemas.Channel?.properties as Json;
    assert.ok(!('api_token' in channelProps) && 'api_token_last4' in channelProps, 'a channel never shows its token');
    assert.ok('api_token' in (schemas.ChannelWithToken?.properties as Json));
    const listChannels = (served.paths as Record<string, Json>)['/v1/channels']?.get as { parameters: Json[] };
    assert.deepEqual(
      listChannels.parameters.map((parameter) => [parameter.name, parameter.in, parameter.required]),
      [
        ['limit', 'query', false],
        ['after', 'query', false],
        ['agent_id', 'query', false],
      ],
    );
    assert.deepEqual(listChannels.parameters[0]?.schema, { default: 20, type: 'integer', minimum: 1, maximum: 100 });
    const getAgent = (served.paths as Record<string, Json>)['/v1/agents/{id}']?.get as { parameters: Json[] };
    assert.deepEqual(getAgent.parameters, [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
    // A 409 means what it means on its route: an erasure's is a message still being answered, not a taken page_id.
    const conflictOf = (path: string) =>
      String(
        ((served.paths as Record<string, Json>)[path]?.post as { responses: Record<string, Json> }).responses['409']
          ?.description,
      );
    assert.match(conflictOf('/v1/erasures'), /still being answered.*nothing was erased/);
    assert.match(conflictOf('/v1/messages/{id}/redeliver'), /still being processed/);
    assert.match(conflictOf('/v1/channels'), /page_id/);
  });

  test('every status a route answers is documented for its operation: no token, a 1.2 MB body, a body that is not JSON', async () => {
    const paths = served.paths as Record<string, Record<string, { responses: Json }>>;
    const answered: string[] = [];
    const undocumented: string[] = [];
    const tryIt = async (
      method: string,
      path: string,
      init: { token?: string; body?: string; contentType?: string },
    ) => {
      const response = await fetch(`${base}${path.replace(/:[A-Za-z_]+/g, 'nope')}`, {
        method: method.toUpperCase(),
        headers: {
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(init.body !== undefined ? { 'content-type': init.contentType ?? 'application/json' } : {}),
        },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
      await response.arrayBuffer();
      answered.push(`${method} ${path} ${response.status}`);
      if (!paths[openApiPath(path)]?.[method]?.responses[String(response.status)])
        undocumented.push(`${method} ${path} ${response.status}`);
      return response.status;
    };
    const huge = JSON.stringify({ name: 'x'.repeat(1_200_000) });
    for (const route of [...adminRoutes, ...messageRoutes]) {
      assert.equal(await tryIt(route.method, route.path, {}), 401);
      if (!('body' in route)) continue;
      assert.equal(
        await tryIt(route.method, route.path, { token: config.ADMIN_TOKEN, body: huge }),
        413,
        `${route.operationId}: 1.2 MB`,
      );
      assert.equal(
        await tryIt(route.method, route.path, {
          token: config.ADMIN_TOKEN,
          body: 'name=x',
          contentType: 'application/x-www-form-urlencoded',
        }),
        415,
      );
    }
    assert.equal(await tryIt('post', '/webhook/mychatbot', { body: JSON.stringify({ text: 'x'.repeat(6_000) }) }), 413);
    assert.equal(await tryIt('post', '/webhook/mychatbot', { body: 'x', contentType: 'text/plain' }), 415);
    assert.equal(await tryIt('get', '/media/:id', {}), 404);
    assert.deepEqual(undocumented, [], `answered: ${answered.join(', ')}`);
  });

  test('the codec endpoint: codec token, X-Namespace header, Payloads in and out, no 503', () => {
    for (const route of codecRoutes) {
      const operation = (served.paths as Record<string, Json>)[route.path]?.post as Json;
      assert.equal(operation.operationId, route.operationId);
      assert.deepEqual(operation.security, [{ codecToken: [] }]);
      assert.deepEqual(operation.parameters, [
        {
          name: 'x-namespace',
          in: 'header',
          required: false,
          description: codecRoutes[0].headers.shape['x-namespace'].description,
          schema: { type: 'string' },
        },
      ]);
      const content = (operation.requestBody as Json).content as Record<string, { schema: Json }>;
      assert.deepEqual(content['application/json']?.schema, { $ref: '#/components/schemas/Payloads' });
      const responses = operation.responses as Record<string, Json>;
      assert.deepEqual(Object.keys(responses).sort(), ['200', '400', '401', '403', '404', '413', '415', '429', '500']);
      assert.match(String(responses['401']?.description), /CODEC_TOKEN/);
    }
    const payloads = (served.components as { schemas: Record<string, Json> }).schemas.Payloads as Json;
    assert.equal(payloads.additionalProperties, false);
    assert.ok((served.components as { securitySchemes: Json }).securitySchemes.codecToken);
  });

  test('the reply webhook: form fields text, images, file, audio and the delivery and signature headers', () => {
    const reply = ((served.webhooks as Json).reply as Json).post as Json;
    const content = (reply.requestBody as Json).content as Record<string, { schema: { $ref: string } }>;
    const form = resolvePointer(served, content['application/x-www-form-urlencoded']?.schema.$ref ?? '') as Json;
    assert.deepEqual(Object.keys(form.properties as Json), ['text', 'images', 'file', 'audio']);
    assert.deepEqual(form.required, ['text', 'images', 'file', 'audio']);
    assert.match(String(((form.properties as Json).images as Json).description), /comma-separated.*%2C/);
    const headers = (reply.parameters as Json[]).map((parameter) => [parameter.name, parameter.in, parameter.required]);
    assert.deepEqual(headers, [
      ['webhook-id', 'header', true],
      ['webhook-timestamp', 'header', true],
      ['webhook-signature', 'header', true],
      ['x-chatrelay-message-id', 'header', true],
      ['x-chatrelay-part', 'header', true],
    ]);
  });

  test('the served document is the one buildOpenApiDocument gives for this configuration', () => {
    const limits = {
      maxTextLength: config.MAX_TEXT_LENGTH,
      maxAttachments: config.MAX_ATTACHMENTS,
      maxUrlLength: config.MAX_URL_LENGTH,
      maxBodyBytes: config.MAX_BODY_BYTES,
    };
    assert.deepEqual(
      served,
      JSON.parse(
        JSON.stringify(
          buildOpenApiDocument({
            limits,
            publicBaseUrl: config.PUBLIC_BASE_URL,
            extraRoutes,
          }),
        ),
      ),
    );
  });

  test('another route table plugs in: mounted with its validation, documented with its schemas', async () => {
    const widgetSchema = z.object({ id: z.string(), size: z.number().int() });
    const createWidgetSchema = z.strictObject({ size: z.number().int().min(1, 'must be at least 1') });
    const widgetRoutes = [
      {
        method: 'get',
        path: '/v1/widgets',
        operationId: 'listWidgets',
        tag: 'Widgets',
        summary: 'List widgets',
        query: z.strictObject({ limit: z.coerce.number().int().min(1).max(10).default(5) }),
        success: { status: 200, description: 'Widgets.', schema: z.object({ data: z.array(widgetSchema) }) },
        errors: [400, 401],
      },
      {
        method: 'post',
        path: '/v1/widgets/:id',
        operationId: 'createWidget',
        tag: 'Widgets',
        summary: 'Create a widget',
        body: createWidgetSchema,
        success: { status: 201, description: 'The widget.', schema: widgetSchema },
        errors: [400, 401],
      },
    ] as const satisfies readonly RouteSpec[];
    const router = Router();
    mountRoutes(router, widgetRoutes, {
      listWidgets: async ({ query }) => ({
        status: 200,
        body: { data: Array.from({ length: query.limit }, (_, i) => ({ id: `w${i}`, size: i })) },
      }),
      createWidget: async ({ params, body }) => ({ status: 201, body: { id: params.id, size: body.size } }),
    });
    const app = createApp({ logger: createLogger({ level: 'silent', name: 'test' }), health: {}, routers: [router] });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    try {
      const widgets = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/widgets`;
      const listed = (await (await fetch(`${widgets}?limit=2`)).json()) as { data: unknown[] };
      assert.equal(listed.data.length, 2);
      assert.equal((await fetch(`${widgets}?limit=11`)).status, 400);
      const post = (body: string) =>
        fetch(`${widgets}/w9`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.deepEqual(await (await post('{"size":3}')).json(), { id: 'w9', size: 3 });
      const invalid = (await (await post('{"size":0,"colour":"red"}')).json()) as { error: { details: unknown[] } };
      assert.deepEqual(invalid.error.details, [
        { path: 'size', message: 'must be at least 1' },
        { path: 'colour', message: 'is not a known field' },
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }

    const limits = { maxTextLength: 100, maxAttachments: 1, maxUrlLength: 100, maxBodyBytes: 1000 };
    const document = buildOpenApiDocument({ limits, extraRoutes: widgetRoutes });
    assert.deepEqual(await new Validator().validate(document), { valid: true });
    const paths = document.paths as Record<string, Json>;
    assert.deepEqual((paths['/v1/widgets/{id}']?.post as Json).requestBody, {
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateWidgetRequest' } } },
    });
    const schemas = (document.components as { schemas: Record<string, Json> }).schemas;
    assert.equal(schemas.CreateWidgetRequest?.additionalProperties, false);
    assert.ok(schemas.ListWidgetsResponse && schemas.CreateWidgetResponse);
    assert.ok((document.tags as { name: string }[]).some((tag) => tag.name === 'Widgets'));
    assert.ok(paths['/v1/agents'], 'the admin routes stay');
  });
});
