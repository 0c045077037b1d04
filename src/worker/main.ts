import { loadConfigOrExit } from '../config.js';
import { createLogger } from '../lib/logger.js';
import { openDatabase } from '../stores/db.js';
import { connectWithRetry, createWorker } from './worker.js';

const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'chatrelay-worker' });
const database = openDatabase(config.MONGODB_URI, config.MONGODB_DB);
const connection = await connectWithRetry(config.TEMPORAL_ADDRESS, logger);
const worker = await createWorker({ config, logger, connection, database });
logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker started');
// The Temporal runtime turns SIGINT/SIGTERM into a graceful shutdown: polling stops, running
// activities get WORKER_SHUTDOWN_GRACE_MS to finish, then run() resolves.
await worker.run();
await connection.close();
await database.close();
logger.info('worker stopped');
