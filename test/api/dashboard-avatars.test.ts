import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AVATAR_MAX_BYTES } from '../../src/api/contracts/dashboard.js';
import { buildOpenApiDocument } from '../../src/api/openapi.js';
import { extraRoutes } from '../../src/api/routes/extra-routes.js';
import { DASHBOARD_CSP } from '../../src/api/routes/dashboard.js';
import type { Channel } from '../../src/domain/models.js';
import { chatIdFor } from '../../src/stores/chats.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { ADMIN_TOKEN, call } from '../helpers/admin-app.js';
import { startDashboardApiApp, storeAnsweredMessage } from '../helpers/dashboard-data.js';
import { createChannelWithAgent, PNG_1X1 as PNG } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

describe("a chat's avatar, fetched by the API under the address guard (issue 24 item 9)", () => {
  let mongo: TestMongo;
  let stores: Stores;
  let app: Awaited<ReturnType<typeof startDashboardApiApp>>;
  let avatarServer: http.Server;
  let avatarPort = 0;
  /** Every request the avatar host got: its path. */
  const requests: string[] = [];
  let channel: Channel;

  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    avatarServer = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      const big = Buffer.alloc(AVATAR_MAX_BYTES + 1, 1);
      switch (req.url) {
        case '/ok.png':
          res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
          return;
        case '/big-declared.png':
          res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(big.length) }).end(big);
          return;
        case '/big-streamed.png':
          // No Content-Length: the cap must hold on what arrives.
          res.writeHead(200, { 'content-type': 'image/png' });
          res.write(big.subarray(0, 1024));
          res.end(big.subarray(1024));
          return;
        case '/logo.svg':
          res.writeHead(200, { 'content-type': 'image/svg+xml' }).end('<svg xmlns="http://www.w3.org/2000/svg"/>');
          return;
        default:
          res.writeHead(200, { 'content-type': 'text/html' }).end('<script>alert(1)</script>');
      }
    });
    await new Promise<void>((resolve) => avatarServer.listen(0, '127.0.0.1', resolve));
    avatarPort = (avatarServer.address() as AddressInfo).port;
    // Production's default (no private addresses), with the test's avatar host named, as
    // FETCH_ALLOW_HOSTS=127.0.0.1 would: the same server under another name is refused.
    app = await startDashboardApiApp(stores, { avatarPolicy: { allowPrivate: false, allowHosts: ['127.0.0.1'] } });
    ({ channel } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' }));
  });
  after(async () => {
    await app?.close();
    avatarServer?.closeAllConnections();
    await new Promise<void>((resolve) => (avatarServer ? avatarServer.close(() => resolve()) : resolve()));
    await mongo?.close();
  });

  /** A chat on the channel whose end user sent `avatar`; its avatar route. */
  const chatWithAvatar = async (clientId: string, avatar?: string): Promise<string> => {
    await storeAnsweredMessage(stores, channel, clientId, {
      text: 'hi',
      reply: ['hello'],
      status: 'delivered',
      ...(avatar !== undefined ? { avatar } : {}),
    });
    return `/v1/channels/${channel.id}/chats/${chatIdFor(channel.id, clientId)}/avatar`;
  };
  const get = (path: string, token: string | null = ADMIN_TOKEN) =>
    fetch(`${app.base}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const local = (path: string) => `http://127.0.0.1:${avatarPort}${path}`;

  test('an image on an allowed host is served with its type, nosniff, and kept: polling fetches it once', async () => {
    const route = await chatWithAvatar('ada', local('/ok.png'));
    const before = requests.length;
    const response = await get(route);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/png');
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.match(response.headers.get('cache-control') ?? '', /^private, max-age=\d+$/);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), PNG);
    assert.equal((await get(route)).status, 200);
    assert.deepEqual(requests.slice(before), ['/ok.png'], 'fetched once for two reads');
  });

  test('the admin token is needed; no avatar, or a chat of another channel, is a 404', async () => {
    const route = await chatWithAvatar('bea', local('/ok.png'));
    assert.equal((await get(route, null)).status, 401);
    assert.equal((await get(route, 'wrong-token-0123456789')).status, 401);
    assert.equal((await get(await chatWithAvatar('cid'))).status, 404);
    const other = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const elsewhere = await get(route.replace(channel.id, other.channel.id));
    assert.equal(elsewhere.status, 404);
  });

  test('loopback, private and metadata addresses are refused by the guard, before any request', async () => {
    const before = requests.length;
    for (const [clientId, url] of [
      // The same server, by a name that resolves to loopback: refused at DNS lookup.
      ['dan', `http://localhost:${avatarPort}/ok.png`],
      ['eve', 'http://10.1.2.3/a.png'],
      ['fay', 'http://169.254.169.254/latest/meta-data/iam'],
      ['gus', 'http://[::1]/a.png'],
    ] as const) {
      const response = await call(app.base, 'GET', await chatWithAvatar(clientId, url));
      assert.equal(response.status, 422, url);
      assert.equal(response.body.error?.code, 'avatar_unavailable', url);
      assert.match(response.body.error?.message ?? '', /\(address\)/, url);
    }
    assert.equal(requests.length, before, 'the avatar host got no request');
  });

  test('too large (declared or streamed) or not a raster image (SVG can carry script; HTML) is refused', async () => {
    for (const [clientId, path, reason] of [
      ['hal', '/big-declared.png', 'too_large'],
      ['ivy', '/big-streamed.png', 'too_large'],
      ['jon', '/logo.svg', 'content_type'],
      ['kim', '/page.html', 'content_type'],
    ] as const) {
      const response = await call(app.base, 'GET', await chatWithAvatar(clientId, local(path)));
      assert.equal(response.status, 422, path);
      assert.match(response.body.error?.message ?? '', new RegExp(`\\(${reason}\\)`), path);
    }
  });

  test("the dashboard's CSP loads images only from itself and its own blob: URLs", () => {
    const imgSrc = DASHBOARD_CSP.split(';')
      .map((directive) => directive.trim())
      .find((directive) => directive.startsWith('img-src'));
    assert.equal(imgSrc, "img-src 'self' blob:");
  });

  test('the route is in the OpenAPI document, answering raster images only', () => {
    const limits = { maxTextLength: 16_000, maxAttachments: 10, maxUrlLength: 2048, maxBodyBytes: 256 * 1024 };
    const document = buildOpenApiDocument({ limits, extraRoutes }) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
    };
    const operation = document.paths['/v1/channels/{id}/chats/{chat_id}/avatar']?.get;
    assert.ok(operation, 'documented');
    assert.deepEqual(Object.keys(operation.responses['200']?.content ?? {}), [
      'image/png',
      'image/jpeg',
      'image/gif',
      'image/webp',
      'image/avif',
    ]);
    assert.ok(operation.responses['422'], 'the refusal documented');
  });
});
