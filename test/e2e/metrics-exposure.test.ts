/**
 * GET /metrics (issue 24, item 6): its token is compared without telling a caller the token's
 * length, and no process serves it to the network without METRICS_TOKEN.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { describe, mock, test } from 'node:test';
import { checkMetricsExposure, ConfigError } from '../../src/config.js';
import { metricsAuthorized } from '../../src/observability/metrics.js';

const token = 'a-metrics-token-of-some-length-0123456789';

describe('GET /metrics', () => {
  test('a presented token of another length is compared in constant time all the same', (t) => {
    // timingSafeEqual throws on buffers of different lengths, so a compare of the raw tokens has to
    // answer a wrong length before it: that early answer is what a caller could time.
    const compared: number[][] = [];
    const original = crypto.timingSafeEqual;
    mock.method(crypto, 'timingSafeEqual', (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength]);
      return original(a, b);
    });
    syncBuiltinESMExports();
    t.after(() => {
      mock.restoreAll();
      syncBuiltinESMExports();
    });
    assert.equal(metricsAuthorized('Bearer short', token), false);
    assert.equal(metricsAuthorized(`Bearer ${token}x`, token), false);
    assert.equal(metricsAuthorized(`Bearer ${token}`, token), true);
    assert.deepEqual(compared, [
      [32, 32],
      [32, 32],
      [32, 32],
    ]);
  });

  const base = { METRICS_TOKEN: undefined, HOST: '0.0.0.0', METRICS_HOST: '0.0.0.0', METRICS_PORT: 9464 };
  const problem = (
    config: typeof base | (Omit<typeof base, 'METRICS_TOKEN'> & { METRICS_TOKEN: string }),
    process: 'api' | 'worker',
  ) => {
    try {
      checkMetricsExposure(config, process);
      return undefined;
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems.join('\n');
    }
  };

  test('without METRICS_TOKEN, a process serves it on loopback only', () => {
    assert.match(problem(base, 'api') ?? '', /^METRICS_TOKEN is required: the API listens on HOST=0\.0\.0\.0/);
    assert.match(
      problem(base, 'worker') ?? '',
      /^METRICS_TOKEN is required: the worker's metrics server listens on METRICS_HOST=0\.0\.0\.0/,
    );
    for (const host of ['127.0.0.1', '::1', '[::1]', 'localhost', '127.1.2.3']) {
      assert.equal(problem({ ...base, HOST: host }, 'api'), undefined, host);
      assert.equal(problem({ ...base, METRICS_HOST: host }, 'worker'), undefined, host);
    }
    for (const host of ['::', '10.0.0.5', '192.168.1.2', 'example.com'])
      assert.notEqual(problem({ ...base, HOST: host }, 'api'), undefined, host);
    assert.equal(problem({ ...base, METRICS_PORT: 0 }, 'worker'), undefined, 'no metrics server at all');
    assert.equal(problem({ ...base, METRICS_TOKEN: token }, 'api'), undefined);
    assert.equal(problem({ ...base, METRICS_TOKEN: token }, 'worker'), undefined);
  });

  test('the API and the worker do not start, naming the variable, when they would serve it openly', () => {
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      // Nothing listens there: the check comes before any connection.
      MONGODB_URI: 'mongodb://127.0.0.1:1',
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      OPENAI_API_KEY: 'sk-test',
      ADMIN_TOKEN: 'Xq7-metrics-exposure-ADMIN-token-8Kz2',
      SECRETS_ENCRYPTION_KEY: 'a-secrets-encryption-key-of-32-characters-or-more',
      HOST: '0.0.0.0',
      METRICS_HOST: '0.0.0.0',
    };
    for (const entry of ['src/api/main.ts', 'src/worker/main.ts']) {
      const result = spawnSync(process.execPath, ['--import', 'tsx', entry], {
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(result.status, 78, `${entry}: ${result.stderr}`);
      assert.match(result.stderr, /METRICS_TOKEN is required/);
    }
  });
});
