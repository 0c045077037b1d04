import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, secretBoxPassphrase } from '../../src/config.js';
import { startFakeModel, type FakeModel } from '../helpers/fake-model.js';
import { startChild, type ManagedChild } from '../../src/lib/child.js';
import { freePort } from '../../src/lib/ports.js';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { waitFor } from '../../src/lib/wait.js';
import { startTemporalDevServer, type RunningServer } from '../../src/stack/servers.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { sample } from '../helpers/metrics-text.js';

/**
 * Graceful shutdown, with the real entry points as child processes (node --import tsx
 * src/api/main.ts and src/worker/main.ts), under a steady stream of messages: the worker and then
 * the API get SIGTERM mid-traffic and are started again. Every message answered 200 must be
 * replied to exactly once; every other one never; both processes must exit 0 in time.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const WORKER_GRACE_MS = 10_000;
const API_SHUTDOWN_TIMEOUT_MS = 5_000;
const MODEL_LATENCY_MS = 200;

type Outcome =
  { kind: 'status'; status: number; messageId?: string } | { kind: 'refused' } | { kind: 'reset'; detail: string };
interface Sent {
  text: string;
  sentAt: number;
  outcome: Outcome;
}

let dataDir: string;
let temporal: RunningServer;
let mongo: TestMongo;
let fake: FakeModel;
let receiver: Receiver;
let stores: Stores;
let env: NodeJS.ProcessEnv;
let baseUrl: string;
let metricsPort: number;
const children: ManagedChild[] = [];
const output: Record<'api' | 'worker', string[]> = { api: [], worker: [] };

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-shutdown-'));
  let apiPort: number;
  [temporal, mongo, fake, receiver, apiPort, metricsPort] = await Promise.all([
    startTemporalDevServer({ dbFile: join(dataDir, 'temporal.db') }),
    startTestMongo(),
    // Model calls take a while, so that work is in flight whenever a signal arrives.
    startFakeModel({ latencyMs: MODEL_LATENCY_MS }),
    startReceiver(),
    freePort(),
    freePort(),
  ]);
  baseUrl = `http://127.0.0.1:${apiPort}`;
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    MONGODB_URI: mongo.uri,
    MONGODB_DB: mongo.dbName,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: `shutdown-${apiPort}`,
    OPENAI_API_KEY: 'test-key',
    OPENAI_BASE_URL: fake.baseURL,
    ADMIN_TOKEN: 'shutdown-admin-token-0123456789',
    SECRETS_ENCRYPTION_KEY: 'shutdown-test-secrets-encryption-key-0123456789',
    FETCH_ALLOW_PRIVATE: 'true',
    DELIVERY_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'info',
    METRICS_PORT: String(metricsPort),
    METRICS_HOST: '127.0.0.1',
    WORKER_SHUTDOWN_GRACE_MS: String(WORKER_GRACE_MS),
    API_SHUTDOWN_TIMEOUT_MS: String(API_SHUTDOWN_TIMEOUT_MS),
    // One build on this server (each restart the same): the worker makes its version current.
    WORKER_SET_CURRENT: 'true',
  };
  const config = loadConfig(env);
  stores = createStores(mongo.db, { secretBox: createSecretBox(secretBoxPassphrase(config)) });
});

after(async () => {
  await Promise.all(children.map((child) => child.stop(5_000)));
  await Promise.all([temporal?.stop(), fake?.close(), receiver?.close()]);
  await mongo?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function start(name: 'api' | 'worker'): ManagedChild {
  const child = startChild(name, process.execPath, ['--import', 'tsx', join(root, `src/${name}/main.ts`)], {
    env,
    cwd: root,
    echo: (line) => output[name].push(line),
  });
  children.push(child);
  return child;
}

async function startApi(): Promise<ManagedChild> {
  const api = start('api');
  await waitFor(
    async () => {
      if (api.process.exitCode !== null) throw new Error(`the API exited\n${api.recentOutput()}`);
      return (await fetch(`${baseUrl}/readyz`)).status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 100, what: 'the API to be ready' },
  );
  return api;
}

async function startWorker(): Promise<ManagedChild> {
  const worker = start('worker');
  const seen = output.worker.length;
  await waitFor(
    () => {
      if (worker.process.exitCode !== null) throw new Error(`the worker exited\n${worker.recentOutput()}`);
      return output.worker.slice(seen).some((line) => line.includes('"msg":"worker started"'));
    },
    { timeoutMs: 120_000, intervalMs: 100, what: 'the worker to start' },
  );
  return worker;
}

/**
 * A webhook POST sent in two steps: headers (with `Expect: 100-continue`) now, resolving once the
 * API has them and so counts the request as in flight; the body on finish().
 */
async function heldRequest(token: string, pageId: string) {
  const body = JSON.stringify({
    client_id: 'held',
    page_id: pageId,
    platform: 'CustomApp',
    text: 'held across SIGTERM',
    message_id: 'held-1',
  });
  // A keep-alive client: the answer must close the connection all the same, or it would hold the API open.
  const agent = new Agent({ keepAlive: true });
  const req = request(`${baseUrl}/webhook/mychatbot`, {
    method: 'POST',
    agent,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      'content-length': Buffer.byteLength(body),
      expect: '100-continue',
    },
  });
  const response = new Promise<{ status: number; connection: string | undefined; messageId: string }>(
    (resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            messageId: String((JSON.parse(text) as { message_id?: string }).message_id),
          }),
        );
      });
      req.on('error', reject);
    },
  );
  req.flushHeaders();
  await once(req, 'continue');
  return {
    async finish() {
      req.end(body);
      try {
        return await response;
      } finally {
        agent.destroy();
      }
    },
  };
}

/** SIGTERM; resolves with the exit code and how long the process took to exit. */
async function terminate(child: ManagedChild): Promise<{ code: number | string; ms: number }> {
  const started = Date.now();
  child.process.kill('SIGTERM');
  const code = await child.exited;
  return { code, ms: Date.now() - started };
}

/** Senders posting messages one after another (with a short pause) until stopped or `limit` is reached. */
function startTraffic(token: string, pageId: string, options: { senders: number; pauseMs: number; limit: number }) {
  const sent: Sent[] = [];
  let stopped = false;
  let counter = 0;
  const sender = async (index: number): Promise<void> => {
    while (!stopped && counter < options.limit) {
      counter += 1;
      const text = `message ${counter} from sender ${index}`;
      const record: Sent = { text, sentAt: Date.now(), outcome: { kind: 'refused' } };
      sent.push(record);
      try {
        const response = await fetch(`${baseUrl}/webhook/mychatbot`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          // Ten chats: messages of one chat are answered in order, the chats in parallel.
          body: JSON.stringify({
            client_id: `client-${counter % 10}`,
            page_id: pageId,
            platform: 'CustomApp',
            text,
            message_id: `m-${counter}`,
          }),
        });
        const body = (await response.json()) as { message_id?: string };
        record.outcome = {
          kind: 'status',
          status: response.status,
          ...(body.message_id ? { messageId: body.message_id } : {}),
        };
      } catch (error) {
        const cause = (error as { cause?: { code?: unknown } }).cause?.code;
        const code = typeof cause === 'string' ? cause : (error as Error).message;
        record.outcome = code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'reset', detail: code };
      }
      // Pacing of the load, not synchronisation: a steady stream rather than a flood.
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  const running = Promise.all(Array.from({ length: options.senders }, (_, index) => sender(index)));
  return {
    sent,
    accepted: () => sent.filter((item) => item.outcome.kind === 'status' && item.outcome.status === 200),
    async stop() {
      stopped = true;
      await running;
    },
  };
}

test('SIGTERM mid-traffic: the worker and the API drain and exit 0; every accepted message is answered exactly once', async () => {
  const reply = receiver.endpoint();
  const { channel, token } = await createChannelWithAgent(stores, { replyUrl: reply.url });
  let api = await startApi();
  let worker = await startWorker();
  const traffic = startTraffic(token, channel.page_id, { senders: 2, pauseMs: 700, limit: 300 });
  const delivered = () => receiver.delivered(reply.path);

  // 1. The worker, while model calls are in flight.
  await waitFor(() => delivered().length >= 5, { timeoutMs: 60_000, what: 'the first replies' });
  await waitFor(() => fake.inFlight > 0, { intervalMs: 5, what: 'a model call in flight' });
  const inFlightAtSigterm = fake.inFlight;
  const workerStop = await terminate(worker);
  assert.equal(workerStop.code, 0, output.worker.slice(-20).join('\n'));
  assert.ok(workerStop.ms < WORKER_GRACE_MS, `the worker exited in ${workerStop.ms} ms`);
  const acceptedWhileWorkerDown = traffic.accepted().length;
  worker = await startWorker();
  assert.ok(traffic.accepted().length > acceptedWhileWorkerDown, 'the API kept accepting while the worker was down');

  // 2. The API, mid-traffic; then it is down for a while, then back.
  await waitFor(() => delivered().length >= 12, { timeoutMs: 60_000, what: 'replies after the worker restart' });
  // A request whose headers the API has (it answered 100 Continue) but whose body is still to come.
  const held = await heldRequest(token, channel.page_id);
  const apiStopping = terminate(api);
  await waitFor(() => output.api.some((line) => line.includes('"msg":"API shutting down"')), {
    what: 'the API to get the signal',
  });
  const heldAnswer = await held.finish();
  const apiStop = await apiStopping;
  const downSince = Date.now();
  assert.equal(heldAnswer.status, 200, 'the request in flight at SIGTERM was finished');
  assert.equal(heldAnswer.connection, 'close', 'and its connection closed');
  assert.equal(apiStop.code, 0, output.api.slice(-20).join('\n'));
  assert.ok(apiStop.ms < API_SHUTDOWN_TIMEOUT_MS, `the API exited in ${apiStop.ms} ms`);
  await waitFor(() => traffic.sent.some((item) => item.sentAt > downSince && item.outcome.kind === 'refused'), {
    what: 'a refused request',
  });
  api = await startApi();
  const upSince = Date.now();
  const acceptedBeforeUp = traffic.accepted().length;
  await waitFor(() => traffic.accepted().length >= acceptedBeforeUp + 6, {
    timeoutMs: 60_000,
    what: 'messages accepted after the API restart',
  });
  await traffic.stop();

  // Every accepted message: its workflow finished, so no attempt of any activity can still come.
  const accepted = [
    ...traffic.accepted().map((item) => (item.outcome as { messageId: string }).messageId),
    heldAnswer.messageId,
  ];
  await waitFor(
    async () => {
      const finished = await mongo.db
        .collection<{ _id: string; status: string }>('message_outcomes')
        .countDocuments({ _id: { $in: accepted }, status: 'delivered' });
      return finished === accepted.length;
    },
    { timeoutMs: 120_000, intervalMs: 250, what: `${accepted.length} messages to be delivered` },
  );

  // Exactly once, by delivery id (`<message id>.<part index>`, one part each here).
  const posts = receiver.posts.filter((post) => post.path === reply.path);
  const byDeliveryId = new Map<string, number>();
  for (const post of posts)
    byDeliveryId.set(
      String(post.headers['webhook-id']),
      (byDeliveryId.get(String(post.headers['webhook-id'])) ?? 0) + 1,
    );
  for (const messageId of accepted) assert.equal(byDeliveryId.get(`${messageId}.0`), 1, `${messageId} answered once`);
  assert.equal(posts.length, accepted.length, 'no other post reached the receiver');

  // Never answered: whatever did not get a 200.
  const answeredTexts = new Set(posts.map((post) => post.fields.text));
  const notAccepted = traffic.sent.filter((item) => !(item.outcome.kind === 'status' && item.outcome.status === 200));
  for (const item of notAccepted)
    assert.ok(
      !answeredTexts.has(`Echo: ${item.text}`),
      `"${item.text}" (${JSON.stringify(item.outcome)}) was answered`,
    );

  // While the API was down, requests were refused, never accepted.
  const duringDowntime = traffic.sent.filter((item) => item.sentAt > downSince && item.sentAt < upSince - 1_000);
  assert.ok(duringDowntime.length > 0);
  for (const item of duringDowntime) assert.deepEqual(item.outcome, { kind: 'refused' });
  // Anything else that was not a 200 is a 503 or a connection lost at the moment of the shutdown.
  for (const item of notAccepted) {
    assert.ok(
      item.outcome.kind !== 'status' || item.outcome.status === 503,
      `unexpected answer ${JSON.stringify(item.outcome)}`,
    );
  }

  // The drained worker let its activities finish: nothing failed, was cancelled or went wrong.
  assert.deepEqual(
    output.worker.filter((line) => /"level":"(warn|error|fatal)"/.test(line)),
    [],
  );
  assert.ok(output.worker.some((line) => line.includes('"msg":"worker shutting down"')));
  assert.ok(output.api.some((line) => line.includes('"msg":"API stopped"')));

  // The restarted worker serves its metrics on the same port, with the Temporal SDK's merged in.
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.ok(sample(metrics, 'chatrelay_messages_total', { outcome: 'delivered' }) > 0);
  assert.equal(sample(metrics, 'chatrelay_temporal_sdk_metrics_up'), 1);
  assert.match(metrics, /^temporal_/m);

  const refused = notAccepted.filter((item) => item.outcome.kind === 'refused').length;
  const resets = notAccepted.filter((item) => item.outcome.kind === 'reset').length;
  console.log(
    `shutdown test: ${traffic.sent.length} sent, ${accepted.length} accepted and answered once, ${refused} refused, ${resets} lost at shutdown; ` +
      `worker exited in ${workerStop.ms} ms with ${inFlightAtSigterm} model call(s) in flight, API exited in ${apiStop.ms} ms`,
  );
  await terminate(api);
  await terminate(worker);
});
