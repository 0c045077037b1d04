import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/api/app.js';
import { createChannelAuthenticator, type ChannelAuthenticator } from '../../src/api/channel-auth.js';
import { openapiRouter } from '../../src/api/openapi.js';
import { adminRouter } from '../../src/api/routes/admin.js';
import { mediaRouter } from '../../src/api/routes/media.js';
import { webhookRouter } from '../../src/api/routes/webhook.js';
import { createLogger } from '../../src/lib/logger.js';
import type { AddressPolicy } from '../../src/lib/address-policy.js';
import type { Stores } from '../../src/stores/index.js';
import { RecordingStarter } from './recording-starter.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
const quiet = createLogger({ level: 'silent', name: 'test' });

export interface AdminApp {
  base: string;
  starter: RecordingStarter;
  auth: ChannelAuthenticator;
  close(): Promise<void>;
}

/**
 * The API's routers as startApi mounts them (webhook, media, admin, OpenAPI) on the real stores,
 * listening on a free port; only the Temporal seam is a recorder. The channel cache TTL is long
 * unless given, so a test sees whether an admin change really invalidated it. Reply URLs on
 * private addresses are allowed unless a `deliveryPolicy` says otherwise.
 */
export async function startAdminApp(
  stores: Stores,
  options: { ttlMs?: number; now?: () => number; deliveryPolicy?: AddressPolicy } = {},
): Promise<AdminApp> {
  const starter = new RecordingStarter();
  const auth = createChannelAuthenticator(stores.channels, {
    ttlMs: options.ttlMs ?? 60_000,
    ...(options.now ? { now: options.now } : {}),
  });
  const limits = { maxTextLength: 16_000, maxAttachments: 10, maxUrlLength: 2048, maxBodyBytes: 256 * 1024 };
  const app = createApp({
    logger: quiet,
    health: {},
    routers: [
      webhookRouter({ auth, starter, limits, logger: quiet }),
      mediaRouter(stores),
      adminRouter({
        adminToken: ADMIN_TOKEN,
        agents: stores.agents,
        channels: stores.channels,
        signingSecrets: stores.signingSecrets,
        signingSecretGraceSeconds: 3_600,
        auth,
        // Test receivers listen on loopback: allowed explicitly, as DELIVERY_ALLOW_PRIVATE=true does.
        deliveryPolicy: options.deliveryPolicy ?? { allowPrivate: true, allowHosts: [] },
        // No Temporal here to hold a chat's turn: a deleted channel's sweep is tested with a worker
        // (test/api/channel-deletion.test.ts).
        channelDeletion: { start: () => undefined },
        logger: quiet,
      }),
      openapiRouter({ limits }),
    ],
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    starter,
    auth,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  text: string;
  // Tests read into it freely; the admin schemas check its shape where it matters.
  body: Record<string, unknown> & {
    error?: { code: string; message: string; request_id: string; details?: { path: string; message: string }[] };
  };
}

/** One HTTP call with an optional JSON body, answered as parsed JSON (or {} for an empty body). */
export async function call(
  base: string,
  method: string,
  path: string,
  options: {
    token?: string | null;
    body?: unknown;
    rawBody?: string;
    contentType?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? ADMIN_TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: text === '' ? {} : (JSON.parse(text) as JsonResponse['body']),
  };
}

/** Sends a minimal inbound message to the webhook with a channel's token. */
export function sendMessage(base: string, pageId: string, token: string, text = 'hello'): Promise<JsonResponse> {
  return call(base, 'POST', '/webhook/mychatbot', {
    token,
    body: { client_id: 'user-1', page_id: pageId, platform: 'CustomApp', text },
  });
}
