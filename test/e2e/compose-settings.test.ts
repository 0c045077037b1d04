import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
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

test('the API and workers get a secrets key, a metrics token and a public URL the operator must give (no localhost default)', () => {
  for (const name of ['api', 'worker']) {
    const environment = compose.services[name]?.environment ?? {};
    for (const variable of ['SECRETS_ENCRYPTION_KEY', 'METRICS_TOKEN', 'PUBLIC_BASE_URL', 'ADMIN_TOKEN']) {
      assert.match(
        environment[variable] ?? '',
        new RegExp(`^\\$\\{${variable}:\\?`),
        `${name}: ${variable} is required from the operator`,
      );
    }
    assert.doesNotMatch(JSON.stringify(environment), /localhost/, `${name}: nothing points at localhost`);
    assert.throws(() => interpolate(environment.PUBLIC_BASE_URL ?? '', {}), /PUBLIC_BASE_URL is required/);

    // What an operator sets makes a configuration chatrelay accepts, for the processes as started.
    const operator = {
      OPENAI_API_KEY: 'sk-operator',
      ADMIN_TOKEN: 'operator-admin-token-0123456789',
      SECRETS_ENCRYPTION_KEY: 'operator-secrets-encryption-key-0123456789',
      METRICS_TOKEN: 'operator-metrics-token-0123',
      PUBLIC_BASE_URL: 'https://chatrelay.example.com',
    };
    const config = loadConfig(
      Object.fromEntries(
        Object.entries(environment).map(([key, value]) => [key, interpolate(String(value), operator)]),
      ),
    );
    assert.equal(config.PUBLIC_BASE_URL, 'https://chatrelay.example.com');
    assert.equal(config.METRICS_TOKEN, operator.METRICS_TOKEN);
    assert.equal(config.SECRETS_ENCRYPTION_KEY, operator.SECRETS_ENCRYPTION_KEY);
  }
});
