import { z } from 'zod';
import { DEFAULT_PROMPT_MAX_CHARS } from './domain/prompt.js';
import { ANSWER_STEP_MARGIN_MS, ANSWER_STEP_TIMEOUT_MS, DEFAULT_ANSWER_STEP_BUDGET_MS } from './domain/reply-plan.js';
import { ConfigError } from './lib/config-error.js';
import { createSecretBox, type SecretBox } from './lib/secret-box.js';
import { weakOperatorTokenReason } from './lib/secrets.js';
import { loadTemporalProfile, type TemporalProfile } from './temporal/connection.js';
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
/** What a call within a model step may take, in seconds: the step's timeout less the margin for its writes. */
const stepLimitSeconds = (ANSWER_STEP_TIMEOUT_MS - ANSWER_STEP_MARGIN_MS) / 1000;
const boolFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');
const csv = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

/**
 * A token the operator sets to guard the deployment itself (admin API, codec endpoint): it must
 * have real entropy, and start-up names the variable and why when it has not.
 */
const operatorToken = z.string().superRefine((value, ctx) => {
  const weak = weakOperatorTokenReason(value);
  if (weak !== undefined) ctx.addIssue({ code: 'custom', message: weak });
});

export const configSchema = z.object({
  PORT: port.default(8080).describe('API port'),
  HOST: z.string().min(1).default('0.0.0.0').describe('API bind address'),
  PUBLIC_BASE_URL: httpUrl
    .optional()
    .meta({ description: 'where receivers reach this API (speech audio URLs)', unset: '`http://localhost:$PORT`' }),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\/.+/, 'must be a mongodb:// or mongodb+srv:// connection string')
    .describe('MongoDB connection string (`mongodb://` or `mongodb+srv://`)'),
  MONGODB_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'must be a database name (letters, digits, _ and -)')
    .default('chatrelay')
    .describe('database name'),
  /**
   * The Temporal connection is read as every Temporal tool reads it (src/temporal/connection.ts,
   * `@temporalio/envconfig`): these two, the TEMPORAL_TLS* and TEMPORAL_API_KEY variables, over the
   * profile of the TOML file. After loadConfig both hold the value in use.
   */
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
    .optional()
    .meta({
      description: 'Temporal frontend `host:port` ([connecting to Temporal](operations.md#connecting-to-temporal))',
      unset: "the Temporal profile's, else `127.0.0.1:7233`",
    }),
  TEMPORAL_NAMESPACE: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Temporal namespace', unset: "the Temporal profile's, else `default`" }),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('chatrelay').describe('task queue of the message workflows'),
  /**
   * Worker Versioning (docs/upgrades.md): workers poll as a version of the Worker Deployment
   * TEMPORAL_DEPLOYMENT_NAME, the version named by BUILD_ID, and every workflow is pinned to the
   * version that started it. Off (false) only for a Temporal cluster without Worker Deployments
   * (Temporal Server before 1.29.1), which refuses versioned workers: then every worker polls
   * unversioned, a deploy replaces code under running workflows, and every change to workflow
   * code that running ones replay needs patched() (docs/upgrades.md).
   */
  WORKER_VERSIONING: boolFlag
    .default(true)
    .describe(
      'each workflow stays on the build that started it; `false` only for a cluster without Worker Deployments ([upgrades](upgrades.md))',
    ),
  /** The Worker Deployment the workers belong to: the same for every build of one installation. */
  TEMPORAL_DEPLOYMENT_NAME: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/,
      'must be letters, digits, _ and - (at most 100), starting with a letter or digit',
    )
    .default('chatrelay')
    .describe('the Worker Deployment the workers belong to: the same for every build of one installation'),
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
    .optional()
    .meta({
      description: "the worker's version within the deployment ([upgrades](upgrades.md))",
      unset: 'the git commit, else a hash of the workflow bundle',
    }),
  /**
   * The worker makes its own version the deployment's current one once it polls, so new workflows
   * go to it. For setups that run one build at a time (the local stack, the tests, docker compose);
   * off where a rollout runs two builds side by side and makes the new one current itself (an old
   * worker restarting with it on would take the deployment back).
   */
  WORKER_SET_CURRENT: boolFlag
    .default(false)
    .describe(
      "the worker makes its own version the deployment's current one once it polls: for one build at a time (local stack, compose); off where a rollout does it",
    ),
  OPENAI_API_KEY: z
    .string()
    .min(1, 'must not be empty')
    .describe('key for the OpenAI-compatible API (workers only: the API never reads it)'),
  OPENAI_BASE_URL: httpUrl.default('https://api.openai.com/v1').describe('any OpenAI-compatible API'),
  OPENAI_TIMEOUT_MS: positiveInt
    .default(60_000)
    .describe(
      `timeout of one model call; at most ${stepLimitSeconds} s, and with \`FETCH_TIMEOUT_MS\` too (a voice note's step does both)`,
    ),
  OPENAI_MAX_TOKENS: z.coerce
    .number()
    .int()
    .min(16)
    .max(128_000)
    .default(1_024)
    .describe(
      "`max_tokens` of every reply (16–128000): bounds a reply's length, so its parts and the time they take to deliver",
    ),
  ADMIN_TOKEN: operatorToken.describe(
    'the API only: bearer token of the admin API and the dashboard, ≥ 24 chars, ≥ 128 bits (`openssl rand -hex 32`)',
  ),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('`fatal` … `trace`, or `silent`'),
  CHANNEL_CACHE_TTL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(1_000)
    .describe(
      'how long an API process caches a channel (or "no such page") for token checks, and a worker what its activities read ([caches](operations.md#limits-and-caches))',
    ),
  MAX_BODY_BYTES: positiveInt.default(256 * 1024).describe('largest inbound request body (413 above)'),
  MAX_TEXT_LENGTH: positiveInt.default(16_000).describe('longest `text`'),
  MAX_ATTACHMENTS: z.coerce.number().int().min(0).max(100).default(10).describe('most `attachments`'),
  MAX_URL_LENGTH: positiveInt.default(2048).describe('longest URL field'),
  RATE_LIMIT_CHANNEL_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(0)
    .default(6000)
    .describe(
      'inbound messages a channel may send per minute, per API process; 0 disables; over it: 429 ([rate limits](operations.md#rate-limits))',
    ),
  RATE_LIMIT_CLIENT_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(0)
    .default(120)
    .describe('the same per end user (`page_id` + `client_id`)'),
  OVERLOAD_MAX_BACKLOG_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(5_000)
    .describe(
      'new messages get 503 `overloaded` while the oldest task in the task queue has waited longer; 0 turns it off ([load shedding](operations.md#load-shedding))',
    ),
  OVERLOAD_RETRY_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3_600)
    .default(5)
    .describe('the `Retry-After` of a message refused by load shedding (1–3600)'),
  RATE_LIMIT_FAILURES_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(0)
    .default(120)
    .describe(
      'failed webhook requests a source address may make per minute, per API process; 0 disables ([rate limits](operations.md#rate-limits))',
    ),
  RATE_LIMIT_ADMIN_FAILURES_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(0)
    .default(20)
    .describe(
      'failed admin and codec logins a source address may make per minute, per API process; past it: 429 ([rate limits](operations.md#rate-limits))',
    ),
  AUDIO_MAX_BYTES: positiveInt.default(25 * 1024 * 1024).describe('largest voice note downloaded'),
  VOICE_MAX_CONCURRENT_DOWNLOADS: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(4)
    .describe(
      'voice notes a worker downloads and transcribes at once (1–200), each up to `AUDIO_MAX_BYTES` in memory ([voice notes](operations.md#limits-and-caches))',
    ),
  FETCH_TIMEOUT_MS: positiveInt
    .default(15_000)
    .describe(
      `timeout of a voice note download; with \`OPENAI_TIMEOUT_MS\` at most ${stepLimitSeconds} s (one step does both)`,
    ),
  FETCH_ALLOW_PRIVATE: boolFlag
    .default(false)
    .describe(
      'allow voice notes and model images from private addresses (not link-local or metadata ones: [outbound addresses](operations.md#outbound-addresses))',
    ),
  FETCH_ALLOW_HOSTS: csv
    .default([])
    .describe('comma-separated hosts always allowed for voice-note downloads and image attachments'),
  PROMPT_MAX_CHARS: z.coerce
    .number()
    .int()
    .min(4_000)
    .default(DEFAULT_PROMPT_MAX_CHARS)
    .describe(
      "the prompt's budget in characters (≥ 4000): the oldest history is left out first ([prompt](operations.md#limits-and-caches))",
    ),
  DELIVERY_TIMEOUT_MS: positiveInt
    .max(50_000)
    .default(10_000)
    .describe(
      'timeout of one reply POST (connection, answer, and the at most 4 KiB of the answer that are read); at most 50000',
    ),
  ANSWER_STEP_BUDGET_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .default(DEFAULT_ANSWER_STEP_BUDGET_MS)
    .describe(
      `one-step answer: no POST starts after this; with \`DELIVERY_TIMEOUT_MS\` ≤ ${stepLimitSeconds} s ([why](reliability.md#238-long-replies-to-slow-receivers-are-sent-twice--fixed))`,
    ),
  DELIVERY_ALLOW_PRIVATE: boolFlag
    .default(false)
    .describe(
      'allow reply POSTs to private addresses, API and workers (not link-local or metadata ones: [outbound addresses](operations.md#outbound-addresses))',
    ),
  DELIVERY_ALLOW_HOSTS: csv
    .default([])
    .describe(
      'comma-separated receiver hosts always allowed, whatever they resolve to (e.g. `hooks.internal,10.0.0.7`); API and workers alike',
    ),
  DELIVERY_RETRY_SCHEDULE: z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*(,\s*\d+(\.\d+)?\s*)*$/, 'must be a comma-separated list of seconds')
    .transform((value) => value.split(',').map((item) => Number(item.trim())))
    .default([5, 300, 1800, 7200, 18000, 36000, 36000])
    .describe('seconds before each delivery retry'),
  WORKER_SHUTDOWN_GRACE_MS: positiveInt.default(30_000).describe('time running activities get to finish on SIGTERM'),
  MODEL_STEP: z
    .enum(['local', 'activity'])
    .default('local')
    .describe(
      'where the model call runs: `local` (cheapest, 7 history events) or `activity` (12, for slow models); set on the API ([the model step](operations.md#the-model-step))',
    ),
  WORKER_WORKFLOW_TASK_SLOTS: z.coerce
    .number()
    .int()
    .min(2)
    .max(2_000)
    .default(32)
    .describe(
      'workflow tasks a worker runs at once; with `MODEL_STEP=local` a worker answers at most slots / model latency messages per second',
    ),
  RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(36_500)
    .default(0)
    .describe(
      'messages older than this many days are deleted daily with every record of theirs, and chats as quiet; 0 keeps everything ([retention](operations.md#retention-and-erasure))',
    ),
  ERASURE_WAIT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(25_000)
    .default(10_000)
    .describe(
      'how long an erasure waits for messages still being answered, then 409 (0–25000; [erasure](operations.md#retention-and-erasure))',
    ),
  SECRETS_ENCRYPTION_KEY: z
    .string()
    .min(32, 'must be at least 32 characters')
    .describe(
      '≥ 32 chars; encrypts signing secrets and keys API token hashes; the same on API and workers ([secrets](operations.md#secrets-at-rest))',
    ),
  SECRETS_ENCRYPTION_OLD_KEYS: csv
    .pipe(z.array(z.string().min(32, 'must be comma-separated keys of at least 32 characters each')))
    .default([])
    .describe('comma-separated keys (≥ 32 chars each) that a key change replaces: still read, never written'),
  PAYLOAD_ENCRYPTION: boolFlag
    .default(true)
    .describe(
      'encrypt every payload written to Temporal (AES-256-GCM); `false` only stops encrypting new ones ([payloads](operations.md#encrypted-payloads))',
    ),
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
    .optional()
    .meta({
      description:
        '`id:base64key,...`, newest first, 32-byte keys: the first encrypts, all decrypt; the same on API, workers and history readers',
      unset: 'derived from `SECRETS_ENCRYPTION_KEY`',
    }),
  PAYLOAD_ENCRYPTION_DERIVED_KEY: boolFlag
    .default(true)
    .describe(
      '`false` retires the key derived from `SECRETS_ENCRYPTION_KEY` ([payloads](operations.md#encrypted-payloads))',
    ),
  PAYLOAD_ACCEPT_PLAINTEXT: boolFlag
    .default(false)
    .describe(
      '`true` reads unencrypted payloads, for a migration; else refused ([payloads](operations.md#encrypted-payloads))',
    ),
  CODEC_TOKEN: operatorToken.optional().meta({
    description:
      "the codec endpoint's own bearer token, as strong as `ADMIN_TOKEN` ([codec](operations.md#reading-encrypted-histories-the-codec-endpoint))",
    unset: 'the codec endpoint is off (404)',
  }),
  CODEC_CORS_ORIGINS: csv
    .refine(
      (origins) => origins.every(isOrigin),
      'must be comma-separated origins: scheme://host[:port], no path (e.g. http://127.0.0.1:8233)',
    )
    .default([])
    .describe(
      "comma-separated browser origins (`scheme://host[:port]`) allowed to call the codec endpoint: your Temporal UI's",
    ),
  SIGNING_SECRET_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(86_400)
    .describe('how long a rotated-out signing secret still signs'),
  METRICS_PORT: port
    .default(9464)
    .describe("worker metrics and health port (`GET /metrics`); `0` turns the worker's metrics off"),
  METRICS_HOST: z.string().min(1).default('0.0.0.0').describe("bind address of the worker's metrics server"),
  METRICS_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe(
      "≥ 16 chars; `GET /metrics` (API and worker) needs `Authorization: Bearer <METRICS_TOKEN>`; required unless the API's `HOST` and the worker's `METRICS_HOST` are loopback",
    ),
  API_SHUTDOWN_TIMEOUT_MS: positiveInt
    .default(10_000)
    .describe('on SIGTERM, how long the API lets requests in flight finish before dropping their connections'),
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional().meta({
    description: 'a workflow bundle built ahead of time (`npm run build`)',
    unset: 'the worker bundles at start',
  }),
});

export type Config = Omit<z.infer<typeof configSchema>, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'> & {
  PUBLIC_BASE_URL: string;
  /** Resolved: the variable, else the Temporal profile's, else the default. */
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  /** How to reach Temporal: address, namespace, TLS, API key (src/temporal/connection.ts). */
  temporal: TemporalProfile;
};

/**
 * Each process reads only the secrets it uses, so a deployment can give each only those
 * (docker-compose.yml does): the API never calls the model, and workers never authenticate an
 * operator. `all` (the default) is every variable: the local stack, the tests, the docs.
 */
export type ConfigRole = 'all' | 'api' | 'worker';
const apiSchema = configSchema.omit({ OPENAI_API_KEY: true });
const workerSchema = configSchema.omit({ ADMIN_TOKEN: true, CODEC_TOKEN: true });
/** The API's configuration: everything but the model's key. */
export type ApiConfig = Omit<Config, 'OPENAI_API_KEY'>;
/** A worker's configuration: everything but the operator tokens. */
export type WorkerConfig = Omit<Config, 'ADMIN_TOKEN' | 'CODEC_TOKEN'>;

/** A variable of the schema above. */
export type ConfigVariable = keyof typeof configSchema.shape;

/**
 * Variables read by libraries rather than by the schema, documented with it: with none set, the
 * OpenTelemetry SDK is not loaded (src/observability/tracing.ts).
 */
export const externalConfigVariables = {
  TEMPORAL_API_KEY: {
    description:
      'API key, sent as a bearer token over TLS (never with `TEMPORAL_TLS=false`) ([Temporal Cloud](operations.md#temporal-cloud))',
    unset: 'no API key',
  },
  TEMPORAL_TLS: {
    description:
      '`true` or `false`: TLS to the frontend; on by itself with an API key or a TLS file ([connecting to Temporal](operations.md#connecting-to-temporal))',
    unset: "the profile's, else plaintext",
  },
  TEMPORAL_TLS_CLIENT_CERT_PATH: {
    description: 'mTLS: the client certificate (PEM); read at start ([rotation](operations.md#certificate-rotation))',
    unset: 'no client certificate',
  },
  TEMPORAL_TLS_CLIENT_KEY_PATH: {
    description: "mTLS: the client certificate's key (PEM); with the certificate or not at all",
    unset: 'no client certificate',
  },
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: {
    description:
      "the CA (PEM) that issued the frontend's certificate; `TEMPORAL_TLS_SERVER_CA_CERT_DATA` takes the PEM itself",
    unset: "the system's CAs",
  },
  TEMPORAL_TLS_SERVER_NAME: {
    description: "the name the frontend's certificate must carry (SNI), when not the host of `TEMPORAL_ADDRESS`",
    unset: 'the host of the address',
  },
  TEMPORAL_CONFIG_FILE: {
    description: "the `temporal` CLI's TOML file of profiles ([connecting](operations.md#connecting-to-temporal))",
    unset: '`~/.config/temporalio/temporal.toml`',
  },
  TEMPORAL_PROFILE: {
    description: 'the profile of that file to use; the variables above override its settings',
    unset: '`default`',
  },
  'OTEL_*': {
    description:
      'the standard OpenTelemetry variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_TRACES_EXPORTER`, `OTEL_SERVICE_NAME`, …) turn tracing on ([traces](operations.md#traces))',
    unset: 'no tracing',
  },
} as const;

/**
 * How docs/configuration.md groups the variables (scripts/config-docs.ts generates it from the
 * schema's descriptions; a variable in no group, or in two, fails the generator).
 */
export const configGroups: readonly {
  title: string;
  variables: readonly (ConfigVariable | keyof typeof externalConfigVariables)[];
}[] = [
  {
    title: 'Connections',
    variables: [
      'MONGODB_URI',
      'OPENAI_API_KEY',
      'ADMIN_TOKEN',
      'PORT',
      'HOST',
      'PUBLIC_BASE_URL',
      'MONGODB_DB',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_API_KEY',
      'TEMPORAL_TLS',
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      'TEMPORAL_TLS_SERVER_NAME',
      'TEMPORAL_CONFIG_FILE',
      'TEMPORAL_PROFILE',
      'TEMPORAL_TASK_QUEUE',
      'WORKER_VERSIONING',
      'TEMPORAL_DEPLOYMENT_NAME',
      'BUILD_ID',
      'WORKER_SET_CURRENT',
      'OPENAI_BASE_URL',
      'OPENAI_TIMEOUT_MS',
      'OPENAI_MAX_TOKENS',
      'LOG_LEVEL',
    ],
  },
  {
    title: 'Inbound messages: limits, rate limits, load shedding',
    variables: [
      'CHANNEL_CACHE_TTL_MS',
      'MAX_BODY_BYTES',
      'MAX_TEXT_LENGTH',
      'MAX_ATTACHMENTS',
      'MAX_URL_LENGTH',
      'RATE_LIMIT_CHANNEL_PER_MINUTE',
      'RATE_LIMIT_CLIENT_PER_MINUTE',
      'OVERLOAD_MAX_BACKLOG_MS',
      'OVERLOAD_RETRY_AFTER_SECONDS',
      'RATE_LIMIT_FAILURES_PER_MINUTE',
      'RATE_LIMIT_ADMIN_FAILURES_PER_MINUTE',
    ],
  },
  {
    title: 'Voice notes, media and the prompt',
    variables: [
      'AUDIO_MAX_BYTES',
      'VOICE_MAX_CONCURRENT_DOWNLOADS',
      'FETCH_TIMEOUT_MS',
      'FETCH_ALLOW_PRIVATE',
      'FETCH_ALLOW_HOSTS',
      'PROMPT_MAX_CHARS',
    ],
  },
  {
    title: 'Reply delivery',
    variables: [
      'DELIVERY_TIMEOUT_MS',
      'ANSWER_STEP_BUDGET_MS',
      'DELIVERY_ALLOW_PRIVATE',
      'DELIVERY_ALLOW_HOSTS',
      'DELIVERY_RETRY_SCHEDULE',
    ],
  },
  {
    title: 'Workers',
    variables: ['WORKER_SHUTDOWN_GRACE_MS', 'MODEL_STEP', 'WORKER_WORKFLOW_TASK_SLOTS', 'WORKFLOW_BUNDLE_PATH'],
  },
  { title: 'Retention and erasure', variables: ['RETENTION_DAYS', 'ERASURE_WAIT_MS'] },
  {
    title: 'Secrets and encryption',
    variables: [
      'SECRETS_ENCRYPTION_KEY',
      'SECRETS_ENCRYPTION_OLD_KEYS',
      'PAYLOAD_ENCRYPTION',
      'PAYLOAD_ENCRYPTION_KEYS',
      'PAYLOAD_ENCRYPTION_DERIVED_KEY',
      'PAYLOAD_ACCEPT_PLAINTEXT',
      'CODEC_TOKEN',
      'CODEC_CORS_ORIGINS',
      'SIGNING_SECRET_GRACE_SECONDS',
    ],
  },
  {
    title: 'Metrics, tracing and shutdown',
    variables: ['METRICS_PORT', 'METRICS_HOST', 'METRICS_TOKEN', 'OTEL_*', 'API_SHUTDOWN_TIMEOUT_MS'],
  },
];

export { ConfigError };

/**
 * Validates an environment for one process (`role`, every variable unless given); throws
 * ConfigError naming every bad variable. A variable its role does not read is not read at all.
 */
export function loadConfig(env?: NodeJS.ProcessEnv, role?: 'all'): Config;
export function loadConfig(env: NodeJS.ProcessEnv, role: 'api'): ApiConfig;
export function loadConfig(env: NodeJS.ProcessEnv, role: 'worker'): WorkerConfig;
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  role: ConfigRole = 'all',
): Config | ApiConfig | WorkerConfig {
  const schema = role === 'api' ? apiSchema : role === 'worker' ? workerSchema : configSchema;
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty variable counts as unset, as shells and compose files often produce them.
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
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
  const problems = timeoutProblems(config);
  if (!config.PAYLOAD_ENCRYPTION_DERIVED_KEY && config.PAYLOAD_ENCRYPTION_KEYS === undefined)
    problems.push(
      'PAYLOAD_ENCRYPTION_DERIVED_KEY=false retires the only payload key: set PAYLOAD_ENCRYPTION_KEYS first',
    );
  let temporal: TemporalProfile | undefined;
  try {
    temporal = loadTemporalProfile(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || !temporal) throw new ConfigError(problems);
  return {
    ...config,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    temporal,
    PUBLIC_BASE_URL: (config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, ''),
  };
}

/**
 * Every timeout setting within what contains it: a call that outlives the step it runs in is
 * retried beside itself (a second POST, a second model call, billed twice). The steps' own timeouts
 * are fixed in the workflow code (src/workflows/activity-proxies.ts); each setting here must leave the
 * step ANSWER_STEP_MARGIN_MS for its writes. DELIVERY_TIMEOUT_MS (a POST, in a step of one minute,
 * replies' and events' alike) is bounded by its schema.
 */
function timeoutProblems(config: z.infer<typeof workerSchema> | z.infer<typeof apiSchema>): string[] {
  const stepLimit = ANSWER_STEP_TIMEOUT_MS - ANSWER_STEP_MARGIN_MS;
  const step = `the model steps' ${ANSWER_STEP_TIMEOUT_MS} ms timeout, less ${ANSWER_STEP_MARGIN_MS} ms for their writes`;
  const problems: string[] = [];
  // The answer step's last POST starts within its budget and must end, with the writes after it,
  // before the step's timeout: past it the step is retried, and the retry would post beside it.
  if (config.ANSWER_STEP_BUDGET_MS + config.DELIVERY_TIMEOUT_MS > stepLimit)
    problems.push(
      `ANSWER_STEP_BUDGET_MS plus DELIVERY_TIMEOUT_MS must be at most ${stepLimit} (${step}); they are ${config.ANSWER_STEP_BUDGET_MS} and ${config.DELIVERY_TIMEOUT_MS}`,
    );
  // One model call (a reply, a transcription, one part's speech) runs within one such step.
  if (config.OPENAI_TIMEOUT_MS > stepLimit)
    problems.push(`OPENAI_TIMEOUT_MS must be at most ${stepLimit} (${step}); it is ${config.OPENAI_TIMEOUT_MS}`);
  // A voice note's step downloads it, then transcribes it: both within the one step.
  else if (config.FETCH_TIMEOUT_MS + config.OPENAI_TIMEOUT_MS > stepLimit)
    problems.push(
      `FETCH_TIMEOUT_MS plus OPENAI_TIMEOUT_MS must be at most ${stepLimit} (a voice note is downloaded and transcribed in one step: ${step}); they are ${config.FETCH_TIMEOUT_MS} and ${config.OPENAI_TIMEOUT_MS}`,
    );
  return problems;
}

/** Whether a bind address is only reachable from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare) || bare === '::ffff:127.0.0.1';
}

/**
 * Stops start-up when a process would serve `GET /metrics` to the network without METRICS_TOKEN:
 * the metrics name routes, queues, failure counts and the process's memory, for anyone who
 * reaches the port. Without the token the server must bind to loopback only (the API: HOST; the
 * worker: METRICS_HOST, or METRICS_PORT=0 for no metrics server at all).
 */
export function checkMetricsExposure(
  config: Pick<Config, 'METRICS_TOKEN' | 'HOST' | 'METRICS_HOST' | 'METRICS_PORT'>,
  process: 'api' | 'worker',
): void {
  if (config.METRICS_TOKEN !== undefined) return;
  if (process === 'api' && !isLoopbackHost(config.HOST))
    throw new ConfigError([
      `METRICS_TOKEN is required: the API listens on HOST=${config.HOST}, not loopback only, so GET /metrics would be open to anyone who reaches the API. Set METRICS_TOKEN (≥ 16 characters, e.g. openssl rand -hex 24), or bind HOST to 127.0.0.1`,
    ]);
  if (process === 'worker' && config.METRICS_PORT !== 0 && !isLoopbackHost(config.METRICS_HOST))
    throw new ConfigError([
      `METRICS_TOKEN is required: the worker's metrics server listens on METRICS_HOST=${config.METRICS_HOST}, not loopback only, so GET /metrics would be open to anyone who reaches it. Set METRICS_TOKEN (≥ 16 characters, e.g. openssl rand -hex 24), bind METRICS_HOST to 127.0.0.1, or turn the server off with METRICS_PORT=0`,
    ]);
}

/**
 * For process entry points: the configuration `load` makes (e.g. `() => loadConfig(process.env,
 * 'api')`), or the problem printed and exit 78 instead of a stack trace.
 */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
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
export function secretBoxFromConfig(
  config: Pick<Config, 'SECRETS_ENCRYPTION_KEY' | 'SECRETS_ENCRYPTION_OLD_KEYS'>,
): SecretBox {
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
