import { z } from 'zod';
import { DEFAULT_PROMPT_MAX_CHARS } from './domain/prompt.js';
import { createSecretBox, type SecretBox } from './lib/secret-box.js';
import { parsePayloadKeys } from './temporal/payload-keys.js';

/**
 * All configuration comes from the environment, is read once at start-up and validated here.
 * A missing or malformed value stops the process with a message naming the variable.
 */

const port = z.coerce.number().int().min(0).max(65535);
const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');
const isOrigin = (value: string): boolean => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
};
const positiveInt = z.coerce.number().int().positive();
const boolFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');
const csv = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

export const configSchema = z.object({
  PORT: port.default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_BASE_URL: httpUrl.optional(),
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\/.+/, 'must be a mongodb:// or mongodb+srv:// connection string'),
  MONGODB_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be a database name (letters, digits, _ and -)')
    .default('chatrelay'),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('chatrelay'),
  /**
   * Worker Versioning (docs/upgrades.md): workers poll as a version of the Worker Deployment
   * TEMPORAL_DEPLOYMENT_NAME, the version named by BUILD_ID, and every workflow is pinned to the
   * version that started it. Off (false) only for a Temporal cluster without Worker Deployments
   * (Temporal Server before 1.29.1), which refuses versioned workers: then every worker polls
   * unversioned, a deploy replaces code under running workflows, and every change to workflow
   * code that running ones replay needs patched() (docs/upgrades.md).
   */
  WORKER_VERSIONING: boolFlag.default(true),
  /** The Worker Deployment the workers belong to: the same for every build of one installation. */
  TEMPORAL_DEPLOYMENT_NAME: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/,
      'must be letters, digits, _ and - (at most 100), starting with a letter or digit',
    )
    .default('chatrelay'),
  /**
   * The worker's build: its version within the deployment. Unset: the git commit of the checkout,
   * else (the Docker image, built without the argument) a hash of the prebuilt workflow bundle
   * (src/temporal/worker-versioning.ts). Workers of one build must run the same code.
   */
  BUILD_ID: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/,
      'must be letters, digits, ., _, + and - (at most 255), starting with a letter or digit',
    )
    .optional(),
  /**
   * The worker makes its own version the deployment's current one once it polls, so new workflows
   * go to it. For setups that run one build at a time (the local stack, the tests, docker compose);
   * off where a rollout runs two builds side by side and makes the new one current itself (an old
   * worker restarting with it on would take the deployment back).
   */
  WORKER_SET_CURRENT: boolFlag.default(false),
  OPENAI_API_KEY: z.string().min(1, 'must not be empty'),
  OPENAI_BASE_URL: httpUrl.default('https://api.openai.com/v1'),
  OPENAI_TIMEOUT_MS: positiveInt.default(60_000),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CHANNEL_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  MAX_BODY_BYTES: positiveInt.default(256 * 1024),
  MAX_TEXT_LENGTH: positiveInt.default(16_000),
  MAX_ATTACHMENTS: z.coerce.number().int().min(0).max(100).default(10),
  MAX_URL_LENGTH: positiveInt.default(2048),
  /** Inbound messages per minute per channel and per end user, per API process; 0 disables. */
  RATE_LIMIT_CHANNEL_PER_MINUTE: z.coerce.number().int().min(0).default(6000),
  RATE_LIMIT_CLIENT_PER_MINUTE: z.coerce.number().int().min(0).default(120),
  /** Failed webhook requests (not authenticated) per source address per minute, per API process; 0 disables. */
  RATE_LIMIT_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).default(120),
  /**
   * Load shedding (src/api/load-gate.ts): a new message is refused (503 `overloaded`) while the
   * oldest task waiting in the task queue has waited longer than this; 0 turns the gate off.
   */
  OVERLOAD_MAX_BACKLOG_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  /** The `Retry-After` (seconds) of a message refused by the load gate. */
  OVERLOAD_RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).max(3_600).default(5),
  AUDIO_MAX_BYTES: positiveInt.default(25 * 1024 * 1024),
  /**
   * Voice notes a worker process downloads and transcribes at once; the others wait their turn. Each
   * holds up to AUDIO_MAX_BYTES in memory, so this bounds that memory (4 x 25 MB by default).
   */
  VOICE_MAX_CONCURRENT_DOWNLOADS: z.coerce.number().int().min(1).max(200).default(4),
  /** The prompt's budget in characters: the oldest history is left out first (src/domain/prompt.ts). */
  PROMPT_MAX_CHARS: z.coerce.number().int().min(4_000).default(DEFAULT_PROMPT_MAX_CHARS),
  FETCH_TIMEOUT_MS: positiveInt.default(15_000),
  FETCH_ALLOW_PRIVATE: boolFlag.default(false),
  FETCH_ALLOW_HOSTS: csv.default([]),
  DELIVERY_TIMEOUT_MS: positiveInt.default(10_000),
  /** Allow reply POSTs to loopback/private addresses (a receiver on the same network; the local stack and tests). */
  DELIVERY_ALLOW_PRIVATE: boolFlag.default(false),
  /** Receiver hosts always allowed, whatever they resolve to (exact names, comma-separated). */
  DELIVERY_ALLOW_HOSTS: csv.default([]),
  DELIVERY_RETRY_SCHEDULE: z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*(,\s*\d+(\.\d+)?\s*)*$/, 'must be a comma-separated list of seconds')
    .transform((value) => value.split(',').map((item) => Number(item.trim())))
    .default([5, 300, 1800, 7200, 18000, 36000, 36000]),
  WORKER_SHUTDOWN_GRACE_MS: positiveInt.default(30_000),
  /**
   * Where a text message's model call runs (the API puts it in each message workflow's input):
   * `local` (default), a local activity within the message's one workflow task, the cheapest path
   * (7 history events); `activity`, a regular activity with heartbeats (12 events), for models
   * that often take longer than a few seconds, since a local call holds a workflow task slot
   * (WORKER_WORKFLOW_TASK_SLOTS) for as long as it runs.
   */
  MODEL_STEP: z.enum(['local', 'activity']).default('local'),
  /**
   * Workflow tasks a worker runs at once. With MODEL_STEP=local each message holds one for its model
   * call, so a worker answers at most this many messages per model latency (32 at 0.5 s: 64/s).
   */
  WORKER_WORKFLOW_TASK_SLOTS: z.coerce.number().int().min(2).max(2_000).default(32),
  /**
   * Messages (with every record of theirs) and chats older than this many days are deleted by a
   * daily job (a Temporal Schedule the workers keep in line with this value); 0 keeps everything.
   */
  RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(0),
  /**
   * Encrypts webhook signing secrets at rest and keys the hash of API tokens; API and workers must
   * share it. Required: the local stack generates one (.data/secrets-encryption-key).
   */
  SECRETS_ENCRYPTION_KEY: z.string().min(32, 'must be at least 32 characters'),
  /** Keys a key change replaces, still read (never written) until every value is re-encrypted: comma-separated. */
  SECRETS_ENCRYPTION_OLD_KEYS: csv
    .pipe(z.array(z.string().min(32, 'must be comma-separated keys of at least 32 characters each')))
    .default([]),
  /**
   * Encrypts every payload written to Temporal (src/temporal/payload-codec.ts). On by default;
   * false stops encrypting new payloads (existing ones are still read).
   */
  PAYLOAD_ENCRYPTION: boolFlag.default(true),
  /** `id:base64key,...`, newest first: the first encrypts, all decrypt. Unset: a key derived from SECRETS_ENCRYPTION_KEY. */
  PAYLOAD_ENCRYPTION_KEYS: z
    .string()
    .transform((value, ctx) => {
      try {
        return parsePayloadKeys(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  /** Bearer token of the codec endpoint (/codec/encode, /codec/decode). Unset: ADMIN_TOKEN opens it. */
  CODEC_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Browser origins (the Temporal UI's) allowed to call the codec endpoint, comma-separated. */
  CODEC_CORS_ORIGINS: csv
    .refine(
      (origins) => origins.every(isOrigin),
      'must be comma-separated origins: scheme://host[:port], no path (e.g. http://127.0.0.1:8233)',
    )
    .default([]),
  SIGNING_SECRET_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(86_400),
  /** Port of the worker's metrics server (GET /metrics); 0 turns it (and the Temporal SDK's metrics) off. */
  METRICS_PORT: port.default(9464),
  /** Bind address of the worker's metrics server. */
  METRICS_HOST: z.string().min(1).default('0.0.0.0'),
  /** When set, GET /metrics (API and worker) requires `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** On SIGTERM, how long the API lets requests in flight finish before dropping their connections. */
  API_SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  /** A workflow bundle built ahead of time (npm run build); without it the worker bundles at start. */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
});

export type Config = z.infer<typeof configSchema> & { PUBLIC_BASE_URL: string };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates an environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    // An empty variable counts as unset, as shells and compose files often produce them.
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      // The variable, not the item inside it (a list's issues carry its index too).
      const name = issue.path.length > 0 ? String(issue.path[0]) : '(environment)';
      const message = issue.code === 'invalid_type' && input[name] === undefined ? 'is required' : issue.message;
      return `${name} ${message}`;
    });
    throw new ConfigError(problems);
  }
  const config = parsed.data;
  return {
    ...config,
    PUBLIC_BASE_URL: (config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, ''),
  };
}

/** For process entry points: print the problem and exit instead of throwing a stack trace. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

/** The current key of the secret box (see lib/secret-box.ts) that API and workers share. */
export function secretBoxPassphrase(config: Pick<Config, 'SECRETS_ENCRYPTION_KEY'>): string {
  return config.SECRETS_ENCRYPTION_KEY;
}

/** The deployment's secret box: the current key, and the old ones still read during a key change. */
export function secretBoxFromConfig(config: Config): SecretBox {
  return createSecretBox(config.SECRETS_ENCRYPTION_KEY, config.SECRETS_ENCRYPTION_OLD_KEYS);
}

/**
 * Stops start-up when SECRETS_ENCRYPTION_KEY (or, unset, ADMIN_TOKEN) is not the key the stored
 * signing secrets were sealed with: deliveries could not be signed, and the API would seal new
 * secrets that the other processes cannot open. A database that cannot be reached is not decided here.
 */
export async function checkSecretsKey(probe: () => Promise<boolean | undefined>): Promise<void> {
  let opens: boolean | undefined;
  try {
    opens = await probe();
  } catch {
    return;
  }
  if (opens === false) {
    throw new ConfigError([
      'SECRETS_ENCRYPTION_KEY does not open the signing secrets stored in MongoDB: every API and worker process must use the key they were created with, or list it in SECRETS_ENCRYPTION_OLD_KEYS during a key change',
    ]);
  }
}
