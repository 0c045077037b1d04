import { Client, Connection } from '@temporalio/client';
import type { Express } from 'express';
import type { Server } from 'node:http';
import { checkMetricsExposure, checkSecretsKey, secretBoxFromConfig, type ApiConfig } from '../config.js';
import type { Logger } from '../lib/logger.js';
import { createApiMetrics, type ApiMetrics } from '../observability/metrics.js';
import { gracefulServer } from '../observability/shutdown.js';
import { tracingClientInterceptors } from '../observability/tracing.js';
import { openDatabase, type Database } from '../stores/db.js';
import { createStores } from '../stores/index.js';
import { chatLineFor } from '../chat-line/index.js';
import { clientConnectionOptions, logTemporalConnection, probeTemporalTls } from '../temporal/connection.js';
import { createPayloadCodec, temporalDataConverter } from '../temporal/data-converter.js';
import { temporalHistoryErasure } from '../temporal/history-erasure.js';
import { createApp } from './app.js';
import { createChannelAuthenticator } from './channel-auth.js';
import { startLoadGate, type LoadGate } from './load-gate.js';
import { createMessageStarter } from './message-starter.js';
import { createRateLimiter } from './rate-limit.js';
import { methodNotAllowedRouter, openapiRouter } from './openapi.js';
import { adminRouter } from './routes/admin.js';
import { codecRouter } from './routes/codec.js';
import { createChatControls } from './chat-controls.js';
import { createChatErasure } from './chat-erasure.js';
import { createChannelDeletion } from './channel-deletion.js';
import { createAvatars } from './avatars.js';
import { createConversations } from './conversations.js';
import { createOverview } from './overview.js';
import { extraRoutes } from './routes/extra-routes.js';
import { dashboardRouter } from './routes/dashboard.js';
import { chatControlsRouter } from './routes/chat-controls.js';
import { dashboardApiRouter } from './routes/dashboard-api.js';
import { erasureRouter } from './routes/erasure.js';
import { mediaRouter } from './routes/media.js';
import { messagesRouter } from './routes/messages.js';
import { createMessageAdmin } from './message-admin.js';
import { webhookRouter } from './routes/webhook.js';
import { taskTypes, temporalBacklogProbe } from './task-queue-backlog.js';

export interface RunningApi {
  /** The app as assembled, for tests that inspect its routes. */
  app: Express;
  server: Server;
  port: number;
  /** The registry behind GET /metrics. */
  metrics: ApiMetrics;
  close(): Promise<void>;
}

/**
 * How the API's stores are made: without a message cache. The API serves messages to admins
 * (status, conversations, media), and an erasure or retention in another process (an API replica,
 * a worker) cannot reach this process's memory; so every read goes to the database, one lookup by
 * `_id`, and a record deleted anywhere is gone from every API process at once.
 */
export const API_STORE_OPTIONS = { messageCacheEntries: 0 } as const;

/** Wires the API from configuration and starts listening. Used by the API process and by tests. */
export async function startApi(config: ApiConfig, logger: Logger): Promise<RunningApi> {
  // Before anything is opened: a refusal here leaves nothing to close.
  checkMetricsExposure(config, 'api');
  // TLS, mTLS and API keys as every Temporal tool reads them (src/temporal/connection.ts). With TLS,
  // one handshake now: a setting the server refuses stops the start, named; an unreachable server
  // does not (the API waits for it, as without TLS).
  const temporalOptions = clientConnectionOptions(config.temporal); // reads and checks the TLS files
  logTemporalConnection(config.temporal, logger);
  if (config.temporal.tls) {
    const probe = await probeTemporalTls(config.temporal);
    if (probe.outcome === 'refused') throw probe.error;
    if (probe.outcome === 'unreachable')
      logger.warn({ address: config.TEMPORAL_ADDRESS, reason: probe.reason }, 'Temporal not reachable yet');
  }
  const database: Database = openDatabase(config.MONGODB_URI, config.MONGODB_DB);
  const stores = createStores(database.db, { secretBox: secretBoxFromConfig(config), ...API_STORE_OPTIONS });
  // Lazy: the API starts and answers /readyz (503) even while Temporal is still coming up.
  // No gRPC retry interceptor: a client platform is waiting, so an unreachable Temporal is a
  // prompt 503 (the platform retries) rather than a request held open by backoff timers.
  // While Temporal is away, gRPC's reconnect backoff grows (up to 2 minutes by default), and every
  // message is a 503 until the next attempt even once it is back: cap it (docs/reliability.md).
  const connection = Connection.lazy({
    ...temporalOptions,
    interceptors: [],
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 2_000 },
  });
  // Every payload the API writes (message envelopes, signals) is encrypted; the same codec serves /codec.
  const payloadCodec = createPayloadCodec(config);
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: temporalDataConverter(payloadCodec),
    // Tracing on (src/observability/tracing.ts): StartWorkflow spans, their context in the workflow's headers.
    interceptors: { workflow: tracingClientInterceptors() },
  });
  const line = chatLineFor(stores, client);
  const chatErasure = createChatErasure({
    stores,
    line,
    histories: temporalHistoryErasure(client, config.TEMPORAL_TASK_QUEUE),
    waitMs: config.ERASURE_WAIT_MS,
  });
  const channelDeletion = createChannelDeletion({ stores, chatErasure, logger });
  const auth = createChannelAuthenticator(stores.channels, { ttlMs: config.CHANNEL_CACHE_TTL_MS });
  const limits = {
    maxTextLength: config.MAX_TEXT_LENGTH,
    maxAttachments: config.MAX_ATTACHMENTS,
    maxUrlLength: config.MAX_URL_LENGTH,
    maxBodyBytes: config.MAX_BODY_BYTES,
  };
  const metrics = createApiMetrics();
  // Failed admin and codec authentications per source address: one budget for both, apart from
  // the webhook's (a platform's failing tenants must not lock an operator out, nor the reverse).
  const authFailures = createRateLimiter({
    perMinute: config.RATE_LIMIT_ADMIN_FAILURES_PER_MINUTE,
    burst: config.RATE_LIMIT_ADMIN_FAILURES_PER_MINUTE,
  });
  // Load shedding (src/api/load-gate.ts): reads the task queue's backlog in the background.
  const loadGate: LoadGate | undefined =
    config.OVERLOAD_MAX_BACKLOG_MS > 0
      ? startLoadGate({
          probe: temporalBacklogProbe(connection, {
            namespace: config.TEMPORAL_NAMESPACE,
            taskQueue: config.TEMPORAL_TASK_QUEUE,
          }),
          maxBacklogMs: config.OVERLOAD_MAX_BACKLOG_MS,
          retryAfterSeconds: config.OVERLOAD_RETRY_AFTER_SECONDS,
          logger,
          onShed: () => metrics.messagesShed.inc(),
          onBacklog: (backlog) => {
            for (const type of taskTypes) metrics.taskQueueBacklog.set({ task_type: type }, backlog[type] / 1000);
          },
        })
      : undefined;
  // The webhook's starter; the dashboard's test messages go through it too.
  const starter = createMessageStarter(client, config.TEMPORAL_TASK_QUEUE, line, {
    logger,
    modelStep: config.MODEL_STEP,
  });
  const app = createApp({
    logger,
    metrics,
    ...(config.METRICS_TOKEN !== undefined ? { metricsToken: config.METRICS_TOKEN } : {}),
    health: {
      mongodb: () => database.ping(),
      temporal: () =>
        connection.withDeadline(Date.now() + 2_000, async () => {
          await connection.workflowService.getSystemInfo({});
        }),
    },
    routers: [
      webhookRouter({
        auth,
        starter,
        ...(loadGate ? { loadGate } : {}),
        rateLimits: {
          channel: createRateLimiter({ perMinute: config.RATE_LIMIT_CHANNEL_PER_MINUTE }),
          client: createRateLimiter({ perMinute: config.RATE_LIMIT_CLIENT_PER_MINUTE }),
        },
        failureLimit: createRateLimiter({ perMinute: config.RATE_LIMIT_FAILURES_PER_MINUTE }),
        limits,
        logger,
      }),
      mediaRouter(stores),
      // Every admin change to a channel drops it from `auth`'s cache, so this process applies it at once.
      adminRouter({
        adminToken: config.ADMIN_TOKEN,
        authFailures,
        agents: stores.agents,
        channels: stores.channels,
        signingSecrets: stores.signingSecrets,
        signingSecretGraceSeconds: config.SIGNING_SECRET_GRACE_SECONDS,
        auth,
        deliveryPolicy: { allowPrivate: config.DELIVERY_ALLOW_PRIVATE, allowHosts: config.DELIVERY_ALLOW_HOSTS },
        channelDeletion,
        logger,
      }),
      messagesRouter({
        adminToken: config.ADMIN_TOKEN,
        authFailures,
        messages: createMessageAdmin({
          stores,
          client,
          line,
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          publicBaseUrl: config.PUBLIC_BASE_URL,
        }),
      }),
      dashboardApiRouter({
        adminToken: config.ADMIN_TOKEN,
        authFailures,
        channels: stores.channels,
        starter,
        auth,
        conversations: createConversations({ stores, publicBaseUrl: config.PUBLIC_BASE_URL }),
        avatars: createAvatars({
          stores,
          policy: { allowPrivate: config.FETCH_ALLOW_PRIVATE, allowHosts: config.FETCH_ALLOW_HOSTS },
        }),
        overview: createOverview({ stores }),
        logger,
      }),
      chatControlsRouter({
        adminToken: config.ADMIN_TOKEN,
        authFailures,
        controls: createChatControls({ stores, client, line, taskQueue: config.TEMPORAL_TASK_QUEUE }),
        logger,
      }),
      dashboardRouter(),
      erasureRouter({
        adminToken: config.ADMIN_TOKEN,
        authFailures,
        erasure: chatErasure,
        logger,
      }),
      codecRouter({
        codec: payloadCodec,
        token: config.CODEC_TOKEN,
        authFailures,
        corsOrigins: config.CODEC_CORS_ORIGINS,
      }),
      openapiRouter({ limits, publicBaseUrl: config.PUBLIC_BASE_URL, extraRoutes }),
      methodNotAllowedRouter({ limits, publicBaseUrl: config.PUBLIC_BASE_URL, extraRoutes }),
    ],
  });
  await stores.ensureIndexes().catch((error: unknown) => logger.warn({ err: error }, 'could not ensure indexes yet'));
  // Here, not in ensureIndexes: the API alone writes channel documents, workers never do.
  await stores.channels
    .wrapLegacyTokenHashes()
    .then((wrapped) => {
      if (wrapped > 0) logger.info({ wrapped }, 'API token hashes of an earlier version wrapped under the scrypt key');
    })
    .catch((error: unknown) => logger.warn({ err: error }, 'could not wrap old API token hashes yet'));
  try {
    await checkSecretsKey(() => stores.signingSecrets.keyOpensStoredSecrets());
  } catch (error) {
    await loadGate?.stop();
    await connection.close().catch(() => undefined);
    await database.close();
    throw error;
  }

  const server = app.listen(config.PORT, config.HOST);
  const graceful = gracefulServer(server);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  }).catch(async (error: unknown) => {
    await loadGate?.stop();
    throw error;
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port }, 'API listening');
  // Deleted channels whose sweep a process stopped before it was done (src/api/channel-deletion.ts).
  await channelDeletion
    .resumePending()
    .then((pending) => {
      if (pending > 0) logger.info({ pending }, 'deleted channels: sweeping what is left of them');
    })
    .catch((error: unknown) => logger.warn({ err: error }, 'could not look for deleted channels to sweep yet'));
  return {
    app,
    server,
    port,
    metrics,
    async close() {
      // Stop accepting, let requests in flight finish (keep-alive connections close as they go
      // idle), and past API_SHUTDOWN_TIMEOUT_MS drop whatever is still open.
      const { forced } = await graceful.close(config.API_SHUTDOWN_TIMEOUT_MS);
      if (forced)
        logger.warn(
          { timeoutMs: config.API_SHUTDOWN_TIMEOUT_MS },
          'requests still in flight at the shutdown deadline were cut off',
        );
      await loadGate?.stop();
      await channelDeletion.stop();
      await connection.close().catch(() => undefined);
      await database.close();
    },
  };
}
