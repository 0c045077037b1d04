import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { createEventActivities } from '../../src/activities/events.js';
import { createActivities, type ActivityDeps, type ActivitySettings } from '../../src/activities/index.js';
import { createOpenAIModelClient } from '../../src/activities/model.js';
import { chatLineFor, type ChatLine } from '../../src/chat-line/index.js';
import { createApp } from '../../src/api/app.js';
import { createMessageAdmin, type MessageAdmin } from '../../src/api/message-admin.js';
import { createMessageStarter } from '../../src/api/message-starter.js';
import type { InboundEnvelope } from '../../src/domain/models.js';
import type { messageWorkflow } from '../../src/workflows/message.js';
import { mediaRouter } from '../../src/api/routes/media.js';
import { startFakeModel, type FakeModel } from './fake-model.js';
import { createLogger } from '../../src/lib/logger.js';
import { observabilitySinks } from '../../src/observability/worker-observability.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { temporalEventStarter } from '../../src/temporal/event-starter.js';
import { testActivitySettings } from './fixtures.js';
import { startTestMongo, type TestMongo } from './mongo.js';
import { startReceiver, type Receiver } from './receiver.js';
import { bundle, createTimeSkippingEnv, testDataConverter } from './temporal.js';

export const workflowsPath = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));
import { recordHistory } from './history-archive.js';

export {
  archivedHistories,
  historiesDir,
  recordHistory,
  recordingRelease,
  type ArchivedHistory,
} from './history-archive.js';

export const quietLogger = createLogger({ level: 'silent', name: 'test' });

/**
 * Everything a workflow test needs, real: the time-skipping Temporal server, a MongoDB-compatible
 * server, the fake model API, a receiver, and a media server; one worker with the real activities.
 * Client and worker encrypt every payload (testDataConverter); replaying a history recorded here
 * needs `Worker.runReplayHistory({ workflowBundle, dataConverter: testDataConverter }, …)`.
 */
export interface WorkflowHarness {
  env: TestWorkflowEnvironment;
  mongo: TestMongo;
  stores: Stores;
  fake: FakeModel;
  receiver: Receiver;
  mediaBaseUrl: string;
  taskQueue: string;
  workflowBundle: WorkflowBundle;
  /** The chats' lines, as the API and the worker use them. */
  line: ChatLine;
  /** The message API's operations (status, redeliver, resume) on this harness's server, stores and line. */
  messageAdmin: MessageAdmin;
  /** Starts a message the way the API does (its place in the chat's line, then its workflow). */
  startMessage(envelope: InboundEnvelope): Promise<WorkflowHandle<typeof messageWorkflow>>;
  /** Saves a finished workflow's history as a replay fixture (recordHistory). */
  record(name: string, handle: WorkflowHandle): Promise<void>;
  close(): Promise<void>;
}

export async function startWorkflowHarness(
  options: {
    retryScheduleSeconds?: number[];
    settings?: Partial<ActivitySettings>;
  } = {},
): Promise<WorkflowHarness> {
  const [env, mongo, fake, receiver, workflowBundle] = await Promise.all([
    // Every payload through the production codec (encrypted), as on a real deployment.
    createTimeSkippingEnv({ dataConverter: testDataConverter }),
    startTestMongo(),
    startFakeModel(),
    startReceiver(),
    bundle(workflowsPath),
  ]);
  const stores = createStores(mongo.db);
  await stores.ensureIndexes();
  const media: Server = createApp({ logger: quietLogger, health: {}, routers: [mediaRouter(stores)] }).listen(
    0,
    '127.0.0.1',
  );
  await new Promise<void>((resolve) => media.once('listening', resolve));
  const mediaBaseUrl = `http://127.0.0.1:${(media.address() as AddressInfo).port}`;
  const taskQueue = 'messages-test';
  const line = chatLineFor(stores, env.client);
  const deps: ActivityDeps = {
    stores,
    line,
    model: createOpenAIModelClient({ apiKey: 'test', baseURL: fake.baseURL, timeoutMs: 10_000 }),
    logger: quietLogger,
    settings: testActivitySettings({
      publicBaseUrl: mediaBaseUrl,
      ...(options.retryScheduleSeconds ? { retryScheduleSeconds: options.retryScheduleSeconds } : {}),
      ...options.settings,
    }),
    // Operational events, wired as the production worker wires them (off for channels without an events URL).
    events: temporalEventStarter(env.client, taskQueue),
  };
  const activities = { ...createActivities(deps), ...createEventActivities(deps) };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities,
    dataConverter: testDataConverter,
    // The sinks the workflows report stages and reply delays through, as the production worker has.
    sinks: observabilitySinks(undefined),
    // Unversioned, unlike production's workers (docs/upgrades.md): the time-skipping server has no
    // Worker Deployments (it answers their API UNIMPLEMENTED). Versioning is tested on the dev
    // server (test/e2e/worker-versioning.test.ts); the workflow code is the same either way.
  });
  const running = worker.run();
  const starter = createMessageStarter(env.client, taskQueue, line);
  const messageAdmin = createMessageAdmin({ stores, client: env.client, line, taskQueue, publicBaseUrl: mediaBaseUrl });
  return {
    env,
    mongo,
    stores,
    fake,
    receiver,
    mediaBaseUrl,
    taskQueue,
    workflowBundle,
    line,
    messageAdmin,
    async startMessage(envelope) {
      const { workflowId } = await starter.start(envelope);
      return env.client.workflow.getHandle<typeof messageWorkflow>(workflowId);
    },
    record: recordHistory,
    async close() {
      worker.shutdown();
      await running;
      media.closeAllConnections();
      await new Promise<void>((resolve) => media.close(() => resolve()));
      await Promise.all([env.teardown(), mongo.close(), fake.close(), receiver.close()]);
    },
  };
}

/** The message admin (status, redelivery, resume) the API would use, on the harness's server and stores. */
export function messageAdminFor(h: WorkflowHarness): MessageAdmin {
  return createMessageAdmin({
    stores: h.stores,
    client: h.env.client,
    line: h.line,
    taskQueue: h.taskQueue,
    publicBaseUrl: h.mediaBaseUrl,
  });
}
