import { randomBytes } from 'node:crypto';

/** The environment every stack runs with, in-process or not: where its servers are, fresh secrets, loopback allowed. */
export function stackEnv(where: {
  port: number;
  mongoUri: string;
  mongoDb: string;
  temporalAddress: string;
  modelBaseUrl: string;
}): Record<string, string> {
  return {
    PORT: String(where.port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: `http://127.0.0.1:${where.port}`,
    MONGODB_URI: where.mongoUri,
    MONGODB_DB: where.mongoDb,
    TEMPORAL_ADDRESS: where.temporalAddress,
    TEMPORAL_TASK_QUEUE: `stack-${where.port}`,
    OPENAI_API_KEY: `sk-test-${randomBytes(18).toString('base64url')}`,
    OPENAI_BASE_URL: where.modelBaseUrl,
    ADMIN_TOKEN: randomBytes(24).toString('base64url'),
    SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    // Receivers and voice notes in tests are on loopback.
    FETCH_ALLOW_PRIVATE: 'true',
    DELIVERY_ALLOW_PRIVATE: 'true',
    // One build at a time, as in the local stack: the worker makes its version current (docs/upgrades.md).
    WORKER_SET_CURRENT: 'true',
  };
}
