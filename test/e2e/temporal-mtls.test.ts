import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startChild } from '../../src/lib/child.js';
import { createTestAuthority } from '../helpers/certificates.js';
import { channelReplyingTo } from '../helpers/fixtures.js';
import { startProcessStack, type ProcessStack } from '../helpers/process-stack.js';
import { startTlsTerminator, type TlsTerminator } from '../helpers/tls-terminator.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Temporal through mTLS, for real: the dev server speaks plaintext, so a TLS terminator that
 * requires and verifies a client certificate stands in front of it, with a CA and certificates made
 * here. The API and the worker reach Temporal only through it (TEMPORAL_ADDRESS is the terminator),
 * with the settings every Temporal tool reads (src/temporal/connection.ts).
 */
describe('Temporal through a TLS terminator that requires client certificates', () => {
  let dir: string;
  let stack: ProcessStack;
  let terminator: TlsTerminator | undefined;
  const files: Record<'ca' | 'otherCa' | 'cert' | 'key' | 'expiredCert' | 'expiredKey', string> = {
    ca: '',
    otherCa: '',
    cert: '',
    key: '',
    expiredCert: '',
    expiredKey: '',
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'chatrelay-mtls-'));
    const ca = await createTestAuthority('temporal CA');
    const other = await createTestAuthority('another CA');
    const server = await ca.server(['127.0.0.1', 'localhost']);
    const client = await ca.client('chatrelay');
    const expired = await ca.client('chatrelay-expired', { expired: true });
    const write = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    files.ca = write('ca.pem', ca.cert);
    files.otherCa = write('other-ca.pem', other.cert);
    files.cert = write('client.pem', client.cert);
    files.key = write('client.key', client.key);
    files.expiredCert = write('expired.pem', expired.cert);
    files.expiredKey = write('expired.key', expired.key);
    stack = await startProcessStack({
      envFor: async ({ temporalAddress }) => {
        terminator = await startTlsTerminator({
          upstream: temporalAddress,
          cert: server.cert,
          key: server.key,
          ca: ca.cert,
        });
        return {
          TEMPORAL_ADDRESS: terminator.address,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
          TEMPORAL_TLS_CLIENT_CERT_PATH: files.cert,
          TEMPORAL_TLS_CLIENT_KEY_PATH: files.key,
        };
      },
    });
  });
  after(async () => {
    await stack?.close();
    await terminator?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the API and the worker work end to end through it with mTLS', async () => {
    assert.ok(terminator);
    const channel = await channelReplyingTo(stack.stores, stack.receiver);
    const posted = await stack.postMessage(channel.token, {
      client_id: 'mtls-client',
      page_id: channel.channel.page_id,
      platform: 'CustomApp',
      text: 'hello through mTLS',
      message_id: 'mtls-1',
    });
    assert.equal(posted.status, 200, `${JSON.stringify(posted)}\n${stack.diagnostics()}`);
    const [settled] = await stack.settled([String(posted.body.message_id)], 60_000);
    assert.equal(settled?.status, 'delivered', stack.diagnostics());
    const replies = stack.receiver.postsTo(channel.endpoint.path);
    assert.ok(replies.length >= 1, 'the reply reached the receiver');
    // Every connection it took presented the client certificate (the API's, the worker's, and the
    // start-up checks' handshakes), and it refused none.
    assert.ok(terminator.clients.length >= 2, JSON.stringify(terminator.clients));
    assert.ok(
      terminator.clients.every((name) => name === 'chatrelay'),
      JSON.stringify(terminator.clients),
    );
    assert.deepEqual(terminator.refused, []);
    for (const output of [stack.api.output, stack.worker.output])
      assert.ok(
        output.some((line) => line.includes('"msg":"Temporal connection"') && line.includes('"mtls":true')),
        'each process says it connects with a client certificate',
      );
  });

  /** Starts the API or the worker with the stack's environment changed; resolves with its exit and output. */
  async function startFails(
    role: 'api' | 'worker',
    changes: Record<string, string>,
  ): Promise<{ exit: number | string; output: string }> {
    const child = startChild(
      `${role}-bad-tls`,
      process.execPath,
      ['--import', 'tsx', join(projectRoot, `src/${role}/main.ts`)],
      {
        env: { ...stack.env, PORT: '0', ...changes },
        cwd: projectRoot,
      },
    );
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, 90_000, 'timeout').unref());
    const exit = await Promise.race([child.exited, timeout]);
    if (exit === 'timeout') await child.stop(1_000);
    return { exit, output: child.recentOutput() };
  }

  const cases: { name: string; changes: () => Record<string, string>; names: RegExp }[] = [
    {
      name: 'a CA that did not issue the server certificate',
      changes: () => ({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.otherCa }),
      names: /TEMPORAL_TLS_SERVER_CA_CERT_PATH does not verify the server's certificate/,
    },
    {
      name: 'no client certificate',
      changes: () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: '', TEMPORAL_TLS_CLIENT_KEY_PATH: '' }),
      names: /TEMPORAL_TLS_CLIENT_CERT_PATH is unset and the server requires a client certificate/,
    },
    {
      name: 'an expired client certificate',
      changes: () => ({
        TEMPORAL_TLS_CLIENT_CERT_PATH: files.expiredCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: files.expiredKey,
      }),
      names: /TEMPORAL_TLS_CLIENT_CERT_PATH: the client certificate expired on/,
    },
  ];
  for (const { name, changes, names } of cases)
    test(`${name}: the API and the worker stop at start (exit 78), naming the setting`, async () => {
      const [api, worker] = await Promise.all([startFails('api', changes()), startFails('worker', changes())]);
      for (const [role, result] of [
        ['api', api],
        ['worker', worker],
      ] as const) {
        assert.equal(result.exit, 78, `${role} exit ${String(result.exit)}\n${result.output}`);
        assert.match(result.output, names, `${role}:\n${result.output}`);
      }
    });
});
