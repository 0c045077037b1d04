import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startDemoModel } from '../../src/demo-model/server.js';
import { startChild, type ManagedChild } from '../../src/lib/child.js';
import { createSecretBox } from '../../src/lib/secret-box.js';
import { randomId } from '../../src/lib/secrets.js';
import { waitFor } from '../../src/lib/wait.js';
import { startTemporalDevServer } from '../../src/stack/servers.js';
import { projectRoot } from '../../src/stack/tools.js';
import { createStores } from '../../src/stores/index.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startTestMongo } from '../helpers/mongo.js';
import { startReceiver } from '../helpers/receiver.js';

// Inside the repository, so that the compiled files find node_modules as they do in the image.
const buildDir = join(projectRoot, '.test-tmp', `build-${randomId(6)}`);
const cleanups: Array<() => Promise<void> | void> = [() => rmSync(buildDir, { recursive: true, force: true })];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('the production build (what the image runs: node dist/api/main.js, node dist/worker/main.js, prebuilt bundle) answers a message', async () => {
  mkdirSync(buildDir, { recursive: true });
  const dist = join(buildDir, 'dist');
  const compile = spawnSync(
    process.execPath,
    [join(projectRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dist],
    {
      cwd: projectRoot,
      encoding: 'utf8',
    },
  );
  assert.equal(compile.status, 0, compile.stdout + compile.stderr);
  assert.equal(existsSync(join(dist, 'demo-model')), false, 'the demo model is not built into the image');
  const testing = spawnSync('grep', ['-rl', '--include=*.js', '@temporalio/testing', dist], { encoding: 'utf8' });
  assert.equal(testing.stdout, '', 'nothing the image runs imports @temporalio/testing (a devDependency)');
  const bundle = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/build-bundle.ts', join(dist, 'workflow-bundle.js')],
    { cwd: projectRoot, encoding: 'utf8' },
  );
  assert.equal(bundle.status, 0, bundle.stdout + bundle.stderr);
  // Two bundles: the one the worker loads, and its traced twin for OTEL_* configurations. Only the
  // traced one carries the OpenTelemetry SDK, which every workflow start would otherwise evaluate.
  const plain = readFileSync(join(dist, 'workflow-bundle.js'), 'utf8');
  const traced = readFileSync(join(dist, 'workflow-bundle.traced.js'), 'utf8');
  assert.ok(traced.includes('@opentelemetry/sdk-trace-base'), 'the traced bundle has the tracing interceptor');
  assert.ok(!plain.includes('@opentelemetry/sdk-trace-base'), 'the plain bundle leaves OpenTelemetry out');
  assert.ok(plain.length < traced.length, `plain ${plain.length} bytes, traced ${traced.length} bytes`);

  const [temporal, mongo, fake, receiver] = await Promise.all([
    startTemporalDevServer(),
    startTestMongo(),
    startDemoModel(),
    startReceiver(),
  ]);
  cleanups.push(
    () => temporal.stop(),
    () => mongo.close(),
    () => fake.close(),
    () => receiver.close(),
  );
  const key = `build-test-${randomId(24)}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    // Any free port, chosen by the kernel when the API binds it (a port picked ahead could be taken
    // meanwhile by a server another test starts); the API says which in its "API listening" line.
    PORT: '0',
    HOST: '127.0.0.1',
    MONGODB_URI: mongo.uri,
    MONGODB_DB: mongo.dbName,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: `build-${randomId(6)}`,
    OPENAI_API_KEY: 'k',
    OPENAI_BASE_URL: fake.baseURL,
    ADMIN_TOKEN: 'build-admin-token-0123456789',
    SECRETS_ENCRYPTION_KEY: key,
    // The receiver listens on loopback: allowed explicitly, as in the local stack.
    DELIVERY_ALLOW_PRIVATE: 'true',
    METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    WORKFLOW_BUNDLE_PATH: join(dist, 'workflow-bundle.js'),
    // One build on this server: the worker makes its version current, as in the local stack.
    WORKER_SET_CURRENT: 'true',
  };
  let port: number | undefined;
  const api = startChild('api', process.execPath, [join(dist, 'api/main.js')], {
    env: { ...env, LOG_LEVEL: 'info' },
    cwd: projectRoot,
    echo: (line) => {
      const listening = /"port":(\d+),"msg":"API listening"/.exec(line);
      if (listening) port = Number(listening[1]);
    },
  });
  const children: ManagedChild[] = [
    api,
    startChild('worker', process.execPath, [join(dist, 'worker/main.js')], { env, cwd: projectRoot }),
  ];
  cleanups.push(() => Promise.all(children.map((child) => child.stop())).then(() => undefined));
  const base = await waitFor(
    async () => {
      for (const child of children)
        if (child.process.exitCode !== null) throw new Error(`${child.name} exited: ${child.recentOutput()}`);
      if (port === undefined) return undefined;
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? `http://127.0.0.1:${port}` : undefined;
    },
    { timeoutMs: 60_000, what: 'the built API' },
  );

  const stores = createStores(mongo.db, { secretBox: createSecretBox(key) });
  const endpoint = receiver.endpoint();
  const { channel, token } = await createChannelWithAgent(stores, { replyUrl: endpoint.url });
  const response = await fetch(`${base}/webhook/mychatbot`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ client_id: 'u', page_id: channel.page_id, platform: 'CustomApp', text: 'built' }),
  });
  assert.equal(response.status, 200);
  const [reply] = await receiver.waitForDelivered(1, { path: endpoint.path, timeoutMs: 60_000 });
  assert.equal(reply?.fields.text, 'Echo: built');

  // Both stop cleanly on SIGTERM, as the orchestrator stops them.
  for (const child of children) {
    child.process.kill('SIGTERM');
    assert.equal(await child.exited, 0, `${child.name}: ${child.recentOutput()}`);
  }
});
