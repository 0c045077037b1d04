import { loadConfigOrExit } from '../config.js';
import { createLogger } from '../lib/logger.js';
import { startApi } from './server.js';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'chatrelay-api' });
const api = await startApi(config, logger);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'API shutting down');
    api.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'API shutdown failed');
        process.exit(1);
      },
    );
  });
}
