/**
 * No Docker engine runs here, so docker-compose.yml is checked by loading it with compose-go,
 * the loader Docker Compose itself uses (tools/compose-check, built pinned by scripts/provision.sh):
 * it must be valid, only the API may publish a port on every interface of the host, and every
 * long-running service must restart when it crashes and have a health check (a job that runs
 * once, which another service waits for, says `restart: 'no'`). compose-settings.test.ts checks
 * the secrets and the databases' passwords. The checker itself is tested on files written here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { projectRoot, tool } from '../../src/stack/tools.js';

/** The variables docker-compose.yml requires (`${X:?…}`), as scripts/compose-env.sh and an operator set them. */
const requiredEnv = {
  OPENAI_API_KEY: 'sk-placeholder',
  PUBLIC_BASE_URL: 'https://chatrelay.example.com',
  ADMIN_TOKEN: 'placeholder-admin-token',
  CODEC_TOKEN: 'placeholder-codec-token',
  SECRETS_ENCRYPTION_KEY: 'placeholder-secrets-encryption-key-0123456789',
  METRICS_TOKEN: 'placeholder-metrics-token',
  MONGODB_ROOT_PASSWORD: 'placeholder-root-password',
  MONGODB_APP_PASSWORD: 'placeholder-app-password',
  MONGODB_REPLICA_KEY: 'placeholder-replica-key',
  POSTGRES_PASSWORD: 'placeholder-postgres-password',
};
function composeCheck(file: string, args: string[] = [], env: Record<string, string> = {}) {
  const result = spawnSync(tool('compose-check'), [...args, file], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('docker-compose.yml, loaded with compose-go', () => {
  test('is valid, publishes no port on every interface but the API’s, and every long-running service restarts and has a health check', () => {
    const result = composeCheck(
      join(projectRoot, 'docker-compose.yml'),
      ['-public', 'api', '-healthchecks', '*', '-restart'],
      requiredEnv,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /valid Compose file, project "chatrelay"/);
    assert.match(result.stdout, /api container port 8080\/tcp published on every interface, 8080/);
  });

  test('without its required variables it is refused, naming them', () => {
    const result = composeCheck(join(projectRoot, 'docker-compose.yml'));
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /not a valid Compose file.*required variable \w+ is missing a value: (run scripts\/compose-env\.sh|set \w+ in \.env)/s,
    );
  });
});

describe('compose-check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatrelay-compose-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const write = (yaml: string): string => {
    files += 1;
    const file = join(dir, `compose-${files}.yml`);
    writeFileSync(file, yaml);
    return file;
  };

  test('loopback and internal services pass; the public service may listen everywhere', () => {
    const file = write(`name: demo
services:
  api:
    image: example/api
    ports: ["8080:8080"]
    healthcheck: { test: ["CMD", "true"] }
  temporal:
    image: example/temporal
    ports: ["127.0.0.1:7233:7233"]
  ui:
    image: example/ui
    ports: [{ target: 8080, published: "8233", host_ip: 127.0.0.1 }]
  db:
    image: example/db
    expose: ["27017"]
`);
    const result = composeCheck(file, ['-public', 'api', '-healthchecks', 'api']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /project "demo", 4 services; published: api container port 8080\/tcp published on every interface, 8080, temporal container port 7233\/tcp published on 127\.0\.0\.1, 7233, ui container port 8080\/tcp published on 127\.0\.0\.1, 8233/,
    );
  });

  test('every other way of listening on every interface is named: short syntax, a random port, 0.0.0.0, ::, host networking, a profile', () => {
    const file = write(`name: demo
services:
  api:
    image: example/api
    ports: ["8080:8080"]
  temporal:
    image: example/temporal
    ports: ["7233:7233", "9090"]
  ui:
    image: example/ui
    ports: [{ target: 8080, published: "8233", host_ip: 0.0.0.0 }, "[::]:8234:8080"]
  sidecar:
    image: example/sidecar
    network_mode: host
  debug:
    image: example/debug
    profiles: [debug]
    ports: ["5005:5005"]
`);
    const result = composeCheck(file, ['-public', 'api']);
    assert.equal(result.code, 1);
    const problems = result.stderr.split('\n').filter((line) => line.startsWith('  - '));
    assert.deepEqual(
      problems.map((line) => line.replace(/^ {2}- /, '').replace(/: bind it to loopback.*$/, '')),
      [
        'debug: container port 5005/tcp published on every interface, 5005',
        'sidecar: network_mode: host shares every interface of the host; use the compose network',
        'temporal: container port 7233/tcp published on every interface, 7233',
        'temporal: container port 9090/tcp published on every interface, a random port',
        'ui: container port 8080/tcp published on every interface, 8233',
        'ui: container port 8080/tcp published on every interface, 8234',
      ],
    );
    assert.match(result.stderr, /bind it to loopback \("127\.0\.0\.1:7233:7233"\)/);
  });

  test('a file the Compose specification rejects is invalid, with compose-go’s reason', () => {
    const file = write(`services:
  api:
    image: example/api
    portz: ["8080:8080"]
`);
    const result = composeCheck(file);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is not a valid Compose file: .*portz/);
  });

  test('a service that must have a health check and has none, or does not exist, is named', () => {
    const file = write(`name: demo
services:
  api:
    image: example/api
  worker:
    image: example/worker
    healthcheck: { disable: true }
`);
    const result = composeCheck(file, ['-healthchecks', 'api,worker,scheduler']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /- api: has no health check/);
    assert.match(result.stderr, /- scheduler: no such service, but it must have a health check/);
    assert.match(result.stderr, /- worker: has no health check/);
  });

  test('-restart: every service sets a policy, a long-running one restarts; -healthchecks * names every long-running one', () => {
    const file = write(`name: demo
services:
  api:
    image: example/api
    restart: unless-stopped
    healthcheck: { test: ["CMD", "true"] }
    depends_on: { setup: { condition: service_completed_successfully } }
  setup:
    image: example/setup
    restart: "no"
  ui:
    image: example/ui
    restart: "no"
  db:
    image: example/db
`);
    const result = composeCheck(file, ['-healthchecks', '*', '-restart']);
    assert.equal(result.code, 1);
    const problems = result.stderr.split('\n').filter((line) => line.startsWith('  - '));
    assert.deepEqual(problems, [
      '  - db: sets no restart policy',
      '  - ui: runs for good but does not restart when it crashes (restart: no)',
      '  - db: has no health check',
      '  - ui: has no health check',
    ]);
  });
});
