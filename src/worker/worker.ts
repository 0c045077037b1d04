import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { heartbeatInterceptor } from '../activities/heartbeat.js';
import { createEventActivities } from '../activities/events.js';
import { createActivities, type ActivityDeps, type ActivitySettings } from '../activities/index.js';
import { chatLineFor } from '../chat-line/index.js';
import { createOpenAIModelClient, type ModelClient } from '../activities/model.js';
import { createHistoryErasureActivities } from '../activities/history-erasure.js';
import { checkSecretsKey, secretBoxFromConfig, type WorkerConfig } from '../config.js';
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
import { nativeConnectionOptions, probeTemporalTls, type TemporalProfile } from '../temporal/connection.js';
import { ensureRetentionSchedule } from '../temporal/retention-schedule.js';
import { requireSearchAttributes } from '../temporal/search-attribute-registry.js';
import {
  currentVersion,
  deploymentOptions,
  makeCurrent,
  setCurrentCommand,
  workerVersionOf,
} from '../temporal/worker-versioning.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerDeps {
  config: WorkerConfig;
  logger: Logger;
  connection: NativeConnection;
  database: Database;
  model?: ModelClient;
  /** Worker metrics (src/observability): activity outcomes and model calls are recorded into them. */
  metrics?: WorkerMetrics;
  /**
   * Workflow interceptor modules bundled after production's (tests only: one that shortens a
   * step's timeout, so that a test reaches it in seconds). Not with WORKFLOW_BUNDLE_PATH.
   */
  extraWorkflowInterceptorModules?: readonly string[];
}

/** Creates the worker with its activities wired to MongoDB and the model API. */
export async function createWorker(deps: WorkerDeps, overrides: Partial<WorkerOptions> = {}): Promise<Worker> {
  const { config } = deps;
  // Read once, before anything else: a worker that cannot name its build stops here, naming BUILD_ID.
  const version = workerVersionOf(config);
  const stores = createStores(deps.database.db, { secretBox: secretBoxFromConfig(config) });
  await stores.ensureIndexes();
  await checkSecretsKey(() => stores.signingSecrets.keyOpensStoredSecrets());
  const rawModel =
    deps.model ??
    createOpenAIModelClient({
      apiKey: config.OPENAI_API_KEY,
      baseURL: config.OPENAI_BASE_URL,
      timeoutMs: config.OPENAI_TIMEOUT_MS,
      maxTokens: config.OPENAI_MAX_TOKENS,
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
    answerStepBudgetMs: config.ANSWER_STEP_BUDGET_MS,
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
    // An erasure's deletion of the user's workflow executions (src/workflows/history-erasure.ts).
    ...createHistoryErasureActivities(client),
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
  if (version)
    deps.logger.info(
      { deploymentName: version.deploymentName, buildId: version.buildId, buildIdFrom: version.source },
      'worker version',
    );
  else deps.logger.warn('WORKER_VERSIONING is off: this worker polls unversioned (docs/upgrades.md)');
  return Worker.create({
    connection: deps.connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    // Worker Versioning (docs/upgrades.md): this worker polls as its build's version of the
    // deployment, and every workflow it starts stays on that version until it ends.
    ...(version ? { workerDeploymentOptions: deploymentOptions(version) } : {}),
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
      ...(config.WORKFLOW_BUNDLE_PATH
        ? {}
        : {
            workflowModules: [
              ...workflowInterceptorModules({ tracing }),
              ...(deps.extraWorkflowInterceptorModules ?? []),
            ],
          }),
    },
    sinks: observabilitySinks(deps.metrics),
    ...overrides,
  });
}

/**
 * Once the worker polls (call it after `run()`): with WORKER_SET_CURRENT, makes the worker's
 * version the deployment's current one, so new workflows go to it; without, says which version is
 * current and, when it is not this one, how the rollout makes it so. Never throws: a failure is
 * logged, and new workflows go on going where they went.
 */
export async function settleWorkerVersion(
  worker: Pick<Worker, 'options' | 'getState'>,
  deps: { config: WorkerConfig; connection: NativeConnection; logger: Logger },
): Promise<void> {
  const version = worker.options.workerDeploymentOptions?.version;
  if (!version || !worker.options.workerDeploymentOptions?.useWorkerVersioning) return;
  const { config, logger } = deps;
  const service = deps.connection.workflowService;
  const namespace = config.TEMPORAL_NAMESPACE;
  const polling = (): boolean => ['INITIALIZED', 'RUNNING'].includes(worker.getState());
  const named = (v: { deploymentName: string; buildId: string } | null | undefined): string =>
    v ? `${v.deploymentName}:${v.buildId}` : 'none (unversioned workers)';
  try {
    if (config.WORKER_SET_CURRENT) {
      const previous = await makeCurrent(service, namespace, version, { keepTrying: polling });
      logger.info(
        { deploymentName: version.deploymentName, buildId: version.buildId, previous: named(previous) },
        'worker version made current (WORKER_SET_CURRENT): new workflows go to it',
      );
      return;
    }
    // The server knows the deployment once one of its workers polled: this one, a moment ago at the latest.
    let current: Awaited<ReturnType<typeof currentVersion>>;
    for (let tries = 0; tries < 25 && polling(); tries++) {
      current = await currentVersion(service, namespace, version.deploymentName);
      if (current !== undefined) break;
      await new Promise((done) => setTimeout(done, 200));
    }
    if (!polling()) return; // stopping already
    if (current?.buildId === version.buildId) {
      logger.info({ deploymentName: version.deploymentName, buildId: version.buildId }, 'worker version is current');
    } else {
      const log = current ? logger.info.bind(logger) : logger.warn.bind(logger);
      log(
        {
          deploymentName: version.deploymentName,
          buildId: version.buildId,
          current: named(current),
          makeCurrent: setCurrentCommand(version),
        },
        current
          ? 'worker version is not current: it runs the workflows pinned to it; new ones go to the current version until the rollout makes this one current'
          : 'no version of the deployment is current: new workflows go to unversioned workers, and wait while there are none, until one is made current (or set WORKER_SET_CURRENT=true)',
      );
    }
  } catch (error) {
    logger.error(
      { err: error, deploymentName: version.deploymentName, buildId: version.buildId },
      config.WORKER_SET_CURRENT
        ? 'could not make this worker version current; new workflows go where they went'
        : 'could not read the current worker version',
    );
  }
}

/**
 * Connects to Temporal with the settings of src/temporal/connection.ts, retrying while it is still
 * starting (as in the local stack). A setting that cannot work (a file missing, an expired
 * certificate, a CA that does not verify the server, a client certificate the server refuses)
 * throws ConfigError naming it, without retrying.
 */
export async function connectWithRetry(
  profile: TemporalProfile,
  logger: Logger,
  timeoutMs = 120_000,
): Promise<NativeConnection> {
  const deadline = Date.now() + timeoutMs;
  const { address } = profile;
  for (let attempt = 1; ; attempt++) {
    // Read at every attempt: the files as they are now.
    const options = nativeConnectionOptions(profile);
    try {
      return await NativeConnection.connect(options);
    } catch (error) {
      // The core's error says "transport error" at best: a TLS handshake of our own names the setting.
      if (profile.tls) {
        const probe = await probeTemporalTls(profile);
        if (probe.outcome === 'refused') throw probe.error;
      }
      if (Date.now() > deadline) throw error;
      logger.warn({ attempt, address, err: (error as Error).message }, 'Temporal not reachable yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * attempt)));
    }
  }
}
