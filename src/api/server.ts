import { Client, Connection } from '@temporalio/client';
import type { Server } from 'node:http';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import { openDatabase, type Database } from '../stores/db.js';
import { createStores } from '../stores/index.js';
import { createApp } from './app.js';
import { createChannelAuthenticator } from './channel-auth.js';
import { createMessageStarter } from './message-starter.js';
import { mediaRouter } from './routes/media.js';
import { webhookRouter } from './routes/webhook.js';

export interface RunningApi {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Wires the API from configuration and starts listening. Used by the API process and by tests. */
export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  const database: Database = openDatabase(config.MONGODB_URI, config.MONGODB_DB);
  const stores = createStores(database.db);
  // Lazy: the API starts and answers /readyz (503) even while Temporal is still coming up.
  const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const auth = createChannelAuthenticator(stores.channels, { ttlMs: config.CHANNEL_CACHE_TTL_MS });
  const app = createApp({
    logger,
    health: {
      mongodb: () => database.ping(),
      temporal: () => connection.withDeadline(Date.now() + 2_000, async () => {
        await connection.workflowService.getSystemInfo({});
      }),
    },
    routers: [
      webhookRouter({
        auth,
        starter: createMessageStarter(client, config.TEMPORAL_TASK_QUEUE),
        limits: {
          maxTextLength: config.MAX_TEXT_LENGTH,
          maxAttachments: config.MAX_ATTACHMENTS,
          maxUrlLength: config.MAX_URL_LENGTH,
          maxBodyBytes: config.MAX_BODY_BYTES,
        },
        logger,
      }),
      mediaRouter(stores.blobs),
    ],
  });
  await stores.ensureIndexes().catch((error: unknown) => logger.warn({ err: error }, 'could not ensure indexes yet'));

  const server = app.listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port }, 'API listening');
  return {
    server,
    port,
    async close() {
      // Stop accepting, let requests in flight finish, then drop idle keep-alive connections.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await connection.close().catch(() => undefined);
      await database.close();
    },
  };
}
