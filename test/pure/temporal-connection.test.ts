import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../../src/config.js';
import {
  classifyTlsFailure,
  clientConnectionOptions,
  loadTemporalProfile,
  nativeConnectionOptions,
  temporalTlsConfig,
} from '../../src/temporal/connection.js';
import { createTestAuthority, type Issued, type TestAuthority } from '../helpers/certificates.js';

const valid = {
  MONGODB_URI: 'mongodb://127.0.0.1:27017',
  OPENAI_API_KEY: 'sk-test',
  ADMIN_TOKEN: 'a-strong-Admin-token-0123456789',
  SECRETS_ENCRYPTION_KEY: 'a-secrets-encryption-key-of-32-characters-or-more',
};

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('the Temporal connection (envconfig)', () => {
  let dir: string;
  let ca: TestAuthority;
  let client: Issued;
  let expired: Issued;
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  let mtlsEnv: Record<string, string>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chatrelay-temporal-conn-'));
    ca = await createTestAuthority();
    client = await ca.client('worker');
    expired = await ca.client('old', { expired: true });
    mtlsEnv = {
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.pem', ca.cert),
      TEMPORAL_TLS_CLIENT_CERT_PATH: file('client.pem', client.cert),
      TEMPORAL_TLS_CLIENT_KEY_PATH: file('client.key', client.key),
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('nothing set: plaintext to 127.0.0.1:7233, namespace default, as before', () => {
    const config = loadConfig(valid);
    assert.equal(config.TEMPORAL_ADDRESS, '127.0.0.1:7233');
    assert.equal(config.TEMPORAL_NAMESPACE, 'default');
    assert.equal(config.temporal.tls, undefined);
    assert.deepEqual(nativeConnectionOptions(config.temporal), { address: '127.0.0.1:7233' });
  });

  test('an API key is sent as Temporal Cloud expects: over TLS (system CAs), as a bearer key, no mTLS', () => {
    const profile = loadTemporalProfile({
      TEMPORAL_ADDRESS: 'chatrelay.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'chatrelay.a1b2c',
      TEMPORAL_API_KEY: 'key-123',
    });
    for (const options of [clientConnectionOptions(profile), nativeConnectionOptions(profile)]) {
      assert.equal(options.address, 'chatrelay.a1b2c.tmprl.cloud:7233');
      // The SDKs turn apiKey into `authorization: Bearer key-123` on every call.
      assert.equal(options.apiKey, 'key-123');
      // TLS on, trusting the system's CAs (Cloud's certificates are public), no client certificate.
      assert.deepEqual(options.tls, {});
      // Nothing else claims the authorization header (the SDKs refuse both).
      assert.equal(options.metadata, undefined);
    }
    assert.equal(profile.namespace, 'chatrelay.a1b2c');
  });

  test("the API key reaches the frontend as `authorization: Bearer`, over TLS, from the API's and the worker's connections", async () => {
    const server = await ca.server(['127.0.0.1']);
    const seen: { authorization?: string; namespace?: string; path?: string }[] = [];
    // A TLS HTTP/2 server standing in for the frontend: it records each call's headers and answers
    // UNIMPLEMENTED (12), as gRPC does for a method it lacks.
    const frontend = createSecureServer({ cert: server.cert, key: server.key, ALPNProtocols: ['h2'] });
    frontend.on('stream', (stream, headers) => {
      seen.push({
        ...(typeof headers.authorization === 'string' ? { authorization: headers.authorization } : {}),
        ...(typeof headers[':path'] === 'string' ? { path: headers[':path'] } : {}),
      });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
    });
    await new Promise<void>((resolve) => frontend.listen(0, '127.0.0.1', resolve));
    const { port } = frontend.address() as AddressInfo;
    const profile = loadTemporalProfile({
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      TEMPORAL_API_KEY: 'key-123',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: mtlsEnv.TEMPORAL_TLS_SERVER_CA_CERT_PATH ?? '',
    });
    try {
      const api = Connection.lazy({ ...clientConnectionOptions(profile), interceptors: [] });
      await assert.rejects(api.workflowService.getSystemInfo({}));
      await api.close();
      // The worker's (Rust core): its connect calls GetSystemInfo too.
      await NativeConnection.connect(nativeConnectionOptions(profile)).then(
        (connection) => connection.close(),
        () => undefined,
      );
      const calls = seen.filter((call) => call.path?.endsWith('/GetSystemInfo'));
      assert.ok(calls.length >= 2, JSON.stringify(seen));
      for (const call of calls) assert.equal(call.authorization, 'Bearer key-123', JSON.stringify(seen));
    } finally {
      frontend.close();
    }
  });

  test('mTLS from the variables: the files are read, and the name overrides SNI', () => {
    const profile = loadTemporalProfile({ ...mtlsEnv, TEMPORAL_TLS_SERVER_NAME: 'frontend.internal' });
    const tls = temporalTlsConfig(profile);
    assert.ok(tls);
    assert.equal(Buffer.from(tls.serverRootCACertificate ?? []).toString(), ca.cert);
    assert.equal(Buffer.from(tls.clientCertPair?.crt ?? []).toString(), client.cert);
    assert.equal(Buffer.from(tls.clientCertPair?.key ?? []).toString(), client.key);
    assert.equal(tls.serverNameOverride, 'frontend.internal');
  });

  test('the TOML profile, TEMPORAL_PROFILE choosing it, and the variables over it', () => {
    const toml = file(
      'temporal.toml',
      [
        '[profile.prod]',
        'address = "prod.example:7233"',
        'namespace = "prod-ns"',
        '[profile.prod.tls]',
        `client_cert_path = "${mtlsEnv.TEMPORAL_TLS_CLIENT_CERT_PATH}"`,
        `client_key_path = "${mtlsEnv.TEMPORAL_TLS_CLIENT_KEY_PATH}"`,
        `server_ca_cert_path = "${mtlsEnv.TEMPORAL_TLS_SERVER_CA_CERT_PATH}"`,
        '',
      ].join('\n'),
    );
    const config = loadConfig({
      ...valid,
      TEMPORAL_CONFIG_FILE: toml,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'override-ns',
    });
    assert.equal(config.TEMPORAL_ADDRESS, 'prod.example:7233');
    assert.equal(config.TEMPORAL_NAMESPACE, 'override-ns');
    assert.ok(temporalTlsConfig(config.temporal)?.clientCertPair);
    // A setting from the file is named by its key and profile.
    assert.match(config.temporal.names.clientCert, /tls\.client_cert_path .*profile "prod"/);
    assert.deepEqual(
      problemsOf(() => loadConfig({ ...valid, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging' })),
      ["TEMPORAL_PROFILE: Profile 'staging' not found in config data"],
    );
    const bad = file('bad.toml', '[profile.default]\nadress = "x:1"\n');
    assert.match(
      problemsOf(() => loadConfig({ ...valid, TEMPORAL_CONFIG_FILE: bad }))[0] ?? '',
      /^TEMPORAL_CONFIG_FILE: .*adress/,
    );
  });

  test('what envconfig would take silently is refused, naming the variable', () => {
    assert.deepEqual(
      problemsOf(() => loadConfig({ ...valid, TEMPORAL_TLS: 'yes' })),
      ['TEMPORAL_TLS must be true or false (it is "yes")'],
    );
    assert.match(
      problemsOf(() => loadConfig({ ...valid, TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }))[0] ?? '',
      /^TEMPORAL_API_KEY is set but TEMPORAL_TLS turns TLS off/,
    );
    assert.deepEqual(
      problemsOf(() =>
        loadConfig({ ...valid, TEMPORAL_TLS_CLIENT_CERT_PATH: mtlsEnv.TEMPORAL_TLS_CLIENT_CERT_PATH ?? '' }),
      ),
      ['TEMPORAL_TLS_CLIENT_CERT_PATH is set without TEMPORAL_TLS_CLIENT_KEY_PATH: a client certificate needs its key'],
    );
    assert.match(problemsOf(() => loadConfig({ ...valid, TEMPORAL_ADDRESS: 'no-port' }))[0] ?? '', /^TEMPORAL_ADDRESS/);
  });

  test('the files: missing, expired, not the key of the certificate, not PEM: each named', () => {
    const missing = loadTemporalProfile({ ...mtlsEnv, TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'nope.pem') });
    assert.deepEqual(
      problemsOf(() => nativeConnectionOptions(missing)),
      [`TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read ${join(dir, 'nope.pem')} (ENOENT)`],
    );
    const old = loadTemporalProfile({
      ...mtlsEnv,
      TEMPORAL_TLS_CLIENT_CERT_PATH: file('old.pem', expired.cert),
      TEMPORAL_TLS_CLIENT_KEY_PATH: file('old.key', expired.key),
    });
    assert.match(
      problemsOf(() => clientConnectionOptions(old))[0] ?? '',
      /^TEMPORAL_TLS_CLIENT_CERT_PATH: the client certificate expired on /,
    );
    const mismatched = loadTemporalProfile({
      ...mtlsEnv,
      TEMPORAL_TLS_CLIENT_KEY_PATH: file('other.key', expired.key),
    });
    assert.deepEqual(
      problemsOf(() => nativeConnectionOptions(mismatched)),
      ['TEMPORAL_TLS_CLIENT_KEY_PATH is not the key of the certificate in TEMPORAL_TLS_CLIENT_CERT_PATH'],
    );
    const notPem = loadTemporalProfile({ ...mtlsEnv, TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('junk.pem', 'junk') });
    assert.deepEqual(
      problemsOf(() => nativeConnectionOptions(notPem)),
      ['TEMPORAL_TLS_SERVER_CA_CERT_PATH holds no PEM certificate'],
    );
  });

  test('a failed handshake names the setting at fault; an unreachable server names none', () => {
    const profile = loadTemporalProfile(mtlsEnv);
    const failure = (code: string): string | undefined =>
      classifyTlsFailure(profile, Object.assign(new Error(code), { code }));
    assert.match(failure('UNABLE_TO_VERIFY_LEAF_SIGNATURE') ?? '', /^TEMPORAL_TLS_SERVER_CA_CERT_PATH does not verify/);
    assert.match(failure('SELF_SIGNED_CERT_IN_CHAIN') ?? '', /^TEMPORAL_TLS_SERVER_CA_CERT_PATH/);
    assert.match(
      failure('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') ?? '',
      /^TEMPORAL_TLS_CLIENT_CERT_PATH: the server refused/,
    );
    assert.match(failure('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED') ?? '', /^TEMPORAL_TLS_CLIENT_CERT_PATH: .*expired/);
    assert.match(failure('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA') ?? '', /^TEMPORAL_TLS_CLIENT_CERT_PATH: the server refused/);
    assert.match(failure('ERR_SSL_WRONG_VERSION_NUMBER') ?? '', /^TEMPORAL_TLS.*: the server .* does not speak TLS/);
    assert.match(failure('ERR_TLS_CERT_ALTNAME_INVALID') ?? '', /TEMPORAL_TLS_SERVER_NAME/);
    const noClientCert = loadTemporalProfile({
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: mtlsEnv.TEMPORAL_TLS_SERVER_CA_CERT_PATH ?? '',
    });
    assert.match(
      classifyTlsFailure(
        noClientCert,
        Object.assign(new Error('alert'), { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' }),
      ) ?? '',
      /^TEMPORAL_TLS_CLIENT_CERT_PATH is unset and the server requires a client certificate/,
    );
    assert.equal(failure('ECONNREFUSED'), undefined);
    assert.equal(failure('ETIMEDOUT'), undefined);
  });
});
