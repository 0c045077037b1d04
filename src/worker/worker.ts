import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { heartbeatInterceptor } from '../activities/heartbeat.js';
import { createEventActivities } from '../activities/events.js';
import { createActivities, type ActivityDeps, type ActivitySettings } from '../activities/index.js';
import { chatLineFor } from '../coordination/index.js';
import { createOpenAIModelClient, type ModelClient } from '../activities/model.js';
import { checkSecretsKey, secretBoxFromConfig, type Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import type { WorkerMetrics } from '../observability/metrics.js';
import { activeTracing } from '../observability/tracing.js';
import {
  activityInterceptors,
  activityReporter,
  instrumentModelClient,
  observabilitySinks,
  tracedBundlePath,
  workflowInterceptorModules,
} from '../observability/worker-observability.js';
import type { Database } from '../stores/db.js';
import { createStores } from '../stores/index.js';
import { createPayloadCodec, temporalDataConverter } from '../temporal/data-converter.js';
import { temporalEventStarter } from '../temporal/event-starter.js';
import { ensureRetentionSchedule } from '../temporal/retention-schedule.js';
import { requireSearchAttributes } from '../temporal/search-attribute-registry.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerDeps {
  config: Config;
  logger: Logger;
  connection: NativeConnection;
  database: Database;
  model?: ModelClient;
  /** Worker metrics (src/observability): activity outcomes and model calls are recorded into them. */
  metrics?: WorkerMetrics;
}

/** Creates the worker with its activities wired to MongoDB and the model API. */
export async function createWorker(deps: WorkerDeps, overrides: Partial<WorkerOptions> = {}): Promise<Worker> {
  const { config } = deps;
  const stores = createStores(deps.database.db, { secretBox: secretBoxFromConfig(config) });
  await stores.ensureIndexes();
  await checkSecretsKey(() => stores.signingSecrets.keyOpensStoredSecrets());
  const rawModel =
    deps.model ??
    createOpenAIModelClient({
      apiKey: config.OPENAI_API_KEY,
      baseURL: config.OPENAI_BASE_URL,
      timeoutMs: config.OPENAI_TIMEOUT_MS,
    });
  const model = instrumentModelClient(rawModel, deps.metrics);
  const dataConverter = temporalDataConverter(createPayloadCodec(config)); // payloads encrypted (src/temporal)
  const client = new Client({ connection: deps.connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter });
  // Without them Temporal refuses every message's start (the API answers 503): refuse to start, naming them.
  await requireSearchAttributes(deps.connection.operatorService, config.TEMPORAL_NAMESPACE, deps.logger);
  // The daily retention job follows RETENTION_DAYS (created, updated, or removed when 0).
  const retention = await ensureRetentionSchedule(client, {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    retentionDays: config.RETENTION_DAYS,
  });
  if (retention !== 'absent')
    deps.logger.info({ retentionDays: config.RETENTION_DAYS, schedule: retention }, 'retention schedule');
  const settings: ActivitySettings = {
    publicBaseUrl: config.PUBLIC_BASE_URL,
    retryScheduleSeconds: config.DELIVERY_RETRY_SCHEDULE,
    deliveryTimeoutMs: config.DELIVERY_TIMEOUT_MS,
    channelCacheTtlMs: config.CHANNEL_CACHE_TTL_MS,
    // The reply POST's address guard (src/activities/reply-post.ts).
    deliveryPolicy: { allowPrivate: config.DELIVERY_ALLOW_PRIVATE, allowHosts: config.DELIVERY_ALLOW_HOSTS },
    audioFetch: {
      allowPrivate: config.FETCH_ALLOW_PRIVATE,
      allowHosts: config.FETCH_ALLOW_HOSTS,
      maxBytes: config.AUDIO_MAX_BYTES,
      connectTimeoutMs: Math.min(5_000, config.FETCH_TIMEOUT_MS),
      totalTimeoutMs: config.FETCH_TIMEOUT_MS,
      maxRedirects: 3,
    },
    voiceDownloads: config.VOICE_MAX_CONCURRENT_DOWNLOADS,
    maxTextLength: config.MAX_TEXT_LENGTH,
    promptMaxChars: config.PROMPT_MAX_CHARS,
  };
  const activityDeps: ActivityDeps = {
    stores,
    model,
    line: chatLineFor(stores, client),
    logger: deps.logger,
    settings,
    ...(deps.metrics ? { report: activityReporter(deps.metrics) } : {}),
    events: temporalEventStarter(client, config.TEMPORAL_TASK_QUEUE),
  };
  const activities = {
    ...createActivities(activityDeps),
    // Operational events: each delivered by a workflow of its own (src/workflows/operational-event.ts).
    ...createEventActivities(activityDeps),
  };
  // Tracing (OTEL_* variables, started before the worker is built) needs the tracing interceptor
  // in the workflow bundle; without it the bundle is much lighter (see workflowInterceptorModules).
  const tracing = activeTracing() !== undefined;
  const workflowSource = config.WORKFLOW_BUNDLE_PATH
    ? {
        workflowBundle: {
          codePath: tracing ? tracedBundlePath(config.WORKFLOW_BUNDLE_PATH) : config.WORKFLOW_BUNDLE_PATH,
        },
      }
    : { workflowsPath };
  return Worker.create({
    connection: deps.connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    dataConverter,
    activities,
    ...workflowSource,
    // Activities wait on the network (model, receivers), so many can run at once on few cores.
    maxConcurrentActivityTaskExecutions: 200,
    // Workflow tasks are CPU work on one workflow thread, plus the local activities they wait for
    // (MongoDB steps, reply POSTs: a task holds its slot until they end). A task this worker has
    // taken but no CPU to run waits here, where Temporal cannot see it: the API's load gate
    // (src/api/load-gate.ts) reads the backlog in the task queue. Saturated, a worker keeps a task
    // about slots / (tasks per second): at 100 slots and the 10-30 tasks/s of a 2-core machine
    // that is 3-10 s, up to the 10 s workflow task timeout, which then fires and the work is
    // redone. 32 keeps it near 1-3 s and leaves the rest of the backlog in the queue, visible;
    // and 32 tasks waiting on reply POSTs still deliver 30/s to receivers answering within a
    // second, more than such a machine sustains. (Local activities have their own 100 slots.)
    // With MODEL_STEP=local a task also waits for its message's model call: raise it for slow models.
    maxConcurrentWorkflowTaskExecutions: config.WORKER_WORKFLOW_TASK_SLOTS,
    shutdownGraceTime: config.WORKER_SHUTDOWN_GRACE_MS,
    // Observability (src/observability): log context and metrics for every activity; message ids on
    // workflow log lines and reply-delay waits reported through a sink. A prebuilt bundle must be
    // built with the same workflow interceptor modules (scripts/build-bundle.ts).
    interceptors: {
      activity: [heartbeatInterceptor(), activityInterceptors(deps.metrics)],
      ...(config.WORKFLOW_BUNDLE_PATH ? {} : { workflowModules: workflowInterceptorModules({ tracing }) }),
    },
    sinks: observabilitySinks(deps.metrics),
    ...overrides,
  });
}

/** Connects to Temporal, retrying while it is still starting (as in the local stack). */
export async function connectWithRetry(
  address: string,
  logger: Logger,
  timeoutMs = 120_000,
): Promise<NativeConnection> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await NativeConnection.connect({ address });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      logger.warn({ attempt, address, err: (error as Error).message }, 'Temporal not reachable yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * attempt)));
    }
  }
}
