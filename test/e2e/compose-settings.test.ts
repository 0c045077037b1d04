import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { projectRoot } from '../../src/stack/tools.js';

/**
 * docker-compose.yml cannot run here (no Docker where chatrelay is developed; the commands its
 * services run are tested by production-build.test.ts), so what it exposes and configures is
 * checked from the file itself.
 */
interface Service {
  ports?: Array<string | { host_ip?: string; published?: string | number; target: number }>;
  environment?: Record<string, string>;
  command?: string | string[];
  restart?: string;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: Record<string, { condition?: string }>;
}
const compose = parse(readFileSync(join(projectRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};

/** The host address a port is published on; '' for "every interface". */
function hostAddress(port: string | { host_ip?: string }): string {
  if (typeof port !== 'string') return port.host_ip ?? '';
  const parts = port.split(':');
  // "8080:8080" or "8080" are every interface; "127.0.0.1:7233:7233" names one ("[::1]:…" too).
  return parts.length >= 3 ? parts.slice(0, -2).join(':') : '';
}

test('only the API is published on every interface; Temporal, its UI and the databases are loopback or internal', () => {
  const published: string[] = [];
  for (const [name, service] of Object.entries(compose.services)) {
    for (const port of service.ports ?? []) {
      const address = hostAddress(port);
      published.push(`${name} on ${address || 'every interface'}`);
      if (name === 'api') continue;
      assert.ok(
        ['127.0.0.1', '[::1]', '::1'].includes(address),
        `${name} publishes ${JSON.stringify(port)} beyond loopback`,
      );
    }
  }
  assert.ok(published.includes('api on every interface'), published.join(', '));
  for (const name of ['mongodb', 'postgresql', 'worker'])
    assert.equal(compose.services[name]?.ports, undefined, `${name} is not published`);
});

/** Compose's interpolation of `${NAME:?message}` (required) and `${NAME:-default}`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{(\w+)(?::([?-])([^}]*))?\}/g,
    (_match, name: string, kind: string | undefined, rest: string) => {
      const given = env[name];
      if (given !== undefined && given !== '') return given;
      if (kind === '?') throw new Error(`${name} is required: ${rest}`);
      return kind === '-' ? rest : '';
    },
  );
}

const services = Object.entries(compose.services);
/** Services others wait for to finish (`service_completed_successfully`): jobs that run once. */
const oneShot = new Set(
  services.flatMap(([, service]) =>
    Object.entries(service.depends_on ?? {})
      .filter(([, dependency]) => dependency.condition === 'service_completed_successfully')
      .map(([name]) => name),
  ),
);
const longRunning = services.filter(([name]) => !oneShot.has(name));

/** Runs scripts/compose-env.sh on `file`; its output. */
function composeEnv(file: string): string {
  const result = spawnSync('bash', [join(projectRoot, 'scripts', 'compose-env.sh'), file], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}
function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => /^\w+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe('docker-compose.yml: restarts, health checks, secrets per service, databases with passwords (issue 24 item 13)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatrelay-compose-env-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  /** The env file an operator makes: generated, then the two values that are theirs. */
  const operatorEnv = (): Record<string, string> => {
    const file = join(dir, `operator-${Math.random().toString(36).slice(2)}.env`);
    composeEnv(file);
    return {
      ...readEnvFile(file),
      OPENAI_API_KEY: 'sk-operator',
      PUBLIC_BASE_URL: 'https://chatrelay.example.com',
    };
  };

  test('every long-running service restarts when it crashes and has a health check; jobs that run once say so', () => {
    assert.deepEqual([...oneShot].sort(), ['mongodb-setup', 'temporal-search-attributes']);
    for (const [name, service] of longRunning) {
      assert.ok(
        ['always', 'unless-stopped', 'on-failure'].includes(service.restart ?? ''),
        `${name}: restart is ${service.restart ?? 'not set'}`,
      );
      assert.ok(
        service.healthcheck?.test !== undefined && service.healthcheck.disable !== true,
        `${name}: no health check`,
      );
    }
    for (const name of oneShot) assert.equal(compose.services[name]?.restart, 'no', `${name}: restart: 'no'`);
  });

  test('no secret is written in the file: each comes from the env file, required, with no default', () => {
    const secretName = /TOKEN|PASSWORD|PWD|KEY|SECRET/;
    let secrets = 0;
    for (const [name, service] of services) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        if (!secretName.test(variable) || variable === 'MONGO_INITDB_ROOT_USERNAME') continue;
        secrets += 1;
        assert.match(String(value), /^\$\{\w+:\?[^}]*\}$/, `${name}: ${variable} is not \${NAME:?…} from the env file`);
      }
      // A connection string's password too.
      const uri = service.environment?.MONGODB_URI;
      if (uri !== undefined) assert.match(uri, /^mongodb:\/\/\w+:\$\{\w+:\?[^}]*\}@/, `${name}: MONGODB_URI`);
    }
    assert.ok(secrets >= 10, `${secrets} secret variables checked`);
  });

  test('each service gets only the secrets it uses: operator tokens on the API, the model key on the workers', () => {
    const holders = (variable: string) =>
      services.filter(([, service]) => service.environment?.[variable] !== undefined).map(([name]) => name);
    assert.deepEqual(holders('ADMIN_TOKEN'), ['api']);
    assert.deepEqual(holders('CODEC_TOKEN'), ['api']);
    assert.deepEqual(holders('OPENAI_API_KEY'), ['worker']);
    assert.deepEqual(holders('SECRETS_ENCRYPTION_KEY'), ['api', 'worker']);
    assert.deepEqual(holders('MONGO_INITDB_ROOT_PASSWORD'), ['mongodb']);
    assert.deepEqual(holders('MONGODB_APP_PASSWORD'), ['mongodb-setup']);
    assert.deepEqual(holders('POSTGRES_PASSWORD'), ['postgresql']);
    assert.deepEqual(holders('POSTGRES_PWD'), ['temporal']);
    // Every value the script generates is used by some service, and the file asks for nothing it does not make.
    const generated = Object.keys(operatorEnv());
    const text = readFileSync(join(projectRoot, 'docker-compose.yml'), 'utf8');
    const asked = new Set([...text.matchAll(/\$\{(\w+):\?/g)].map((match) => match[1]));
    assert.deepEqual([...asked].sort(), [...generated].sort());
  });

  test('MongoDB and PostgreSQL require passwords; the application connects as its own MongoDB user', () => {
    const mongodb = compose.services.mongodb;
    assert.match(JSON.stringify(mongodb?.command), /--keyFile /, 'mongod runs with authentication (a key file)');
    assert.match(mongodb?.environment?.MONGO_INITDB_ROOT_PASSWORD ?? '', /^\$\{MONGODB_ROOT_PASSWORD:\?/);
    assert.match(JSON.stringify(mongodb?.healthcheck?.test), /--authenticationDatabase admin/);
    const api = compose.services.api?.environment?.MONGODB_URI ?? '';
    assert.match(api, /^mongodb:\/\/chatrelay:\$\{MONGODB_APP_PASSWORD:\?[^}]*\}@mongodb:27017\/.*authSource=admin/);
    assert.equal(compose.services.worker?.environment?.MONGODB_URI, api);
    for (const [name, variable] of [
      ['postgresql', 'POSTGRES_PASSWORD'],
      ['temporal', 'POSTGRES_PWD'],
    ] as const) {
      const value = compose.services[name]?.environment?.[variable] ?? '';
      assert.match(value, /^\$\{POSTGRES_PASSWORD:\?/, `${name}: ${variable}`);
    }
  });

  test('the API and workers, given the generated env file, start with the configuration chatrelay accepts for each', () => {
    const env = operatorEnv();
    for (const name of ['api', 'worker'] as const) {
      const environment = compose.services[name]?.environment ?? {};
      assert.doesNotMatch(JSON.stringify(environment), /localhost/, `${name}: nothing points at localhost`);
      assert.throws(() => interpolate(environment.PUBLIC_BASE_URL ?? '', {}), /PUBLIC_BASE_URL is required/);
      const given = Object.fromEntries(
        Object.entries(environment).map(([key, value]) => [key, interpolate(String(value), env)]),
      );
      const config = name === 'api' ? loadConfig(given, 'api') : loadConfig(given, 'worker');
      assert.equal(config.PUBLIC_BASE_URL, 'https://chatrelay.example.com');
      assert.equal(config.METRICS_TOKEN, env.METRICS_TOKEN);
      assert.equal(config.SECRETS_ENCRYPTION_KEY, env.SECRETS_ENCRYPTION_KEY);
      assert.equal(
        config.MONGODB_URI,
        `mongodb://chatrelay:${env.MONGODB_APP_PASSWORD}@mongodb:27017/?replicaSet=rs0&authSource=admin`,
      );
    }
    // Without its own variables, a process does not start: the API its admin token, a worker the model's key.
    assert.throws(
      () => interpolate(compose.services.api?.environment?.ADMIN_TOKEN ?? '', {}),
      /ADMIN_TOKEN is required/,
    );
    assert.throws(
      () => interpolate(compose.services.worker?.environment?.OPENAI_API_KEY ?? '', {}),
      /OPENAI_API_KEY is required/,
    );
  });

  test('scripts/compose-env.sh generates strong values, for its owner only, and never changes one', () => {
    const file = join(dir, 'compose.env');
    writeFileSync(file, 'ADMIN_TOKEN=kept-by-the-operator-0123456789abcdef\nOPENAI_API_KEY=sk-mine');
    composeEnv(file);
    const first = readEnvFile(file);
    assert.equal(first.ADMIN_TOKEN, 'kept-by-the-operator-0123456789abcdef');
    assert.equal(first.OPENAI_API_KEY, 'sk-mine');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(first.CODEC_TOKEN ?? '', /^[0-9a-f]{64}$/);
    assert.match(first.METRICS_TOKEN ?? '', /^[0-9a-f]{48}$/);
    for (const password of ['MONGODB_ROOT_PASSWORD', 'MONGODB_APP_PASSWORD', 'POSTGRES_PASSWORD'])
      assert.match(first[password] ?? '', /^[0-9a-f]{48}$/, password);
    assert.match(first.MONGODB_REPLICA_KEY ?? '', /^[A-Za-z0-9+/=]{1008}$/);
    assert.ok((first.SECRETS_ENCRYPTION_KEY ?? '').length >= 32);
    assert.equal(first.PUBLIC_BASE_URL, '');
    // Again: nothing changes.
    const before = readFileSync(file, 'utf8');
    assert.match(composeEnv(file), /nothing changed/);
    assert.equal(readFileSync(file, 'utf8'), before);
    // Two runs draw different values.
    const other = operatorEnv();
    assert.notEqual(other.CODEC_TOKEN, first.CODEC_TOKEN);
    assert.notEqual(other.POSTGRES_PASSWORD, first.POSTGRES_PASSWORD);
    // The generated operator tokens pass the API's strength check (24.3).
    assert.equal(loadConfig({ ...other, MONGODB_URI: 'mongodb://x' }, 'api').CODEC_TOKEN, other.CODEC_TOKEN);
  });
});
