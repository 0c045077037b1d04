import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config.js';
import { stackEnv } from '../helpers/stack-env.js';

const stackWhere = {
  port: 1,
  mongoUri: 'mongodb://127.0.0.1:1',
  mongoDb: 'x',
  temporalAddress: '127.0.0.1:1',
  modelBaseUrl: 'http://127.0.0.1:1',
};

const valid = {
  MONGODB_URI: 'mongodb://127.0.0.1:27017',
  OPENAI_API_KEY: 'sk-test',
  ADMIN_TOKEN: 'a-strong-Admin-token-0123456789',
  SECRETS_ENCRYPTION_KEY: 'a-secrets-encryption-key-of-32-characters-or-more',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  test('each process needs only its own secrets: the API no model key, a worker no operator token (issue 24 item 13)', () => {
    const { OPENAI_API_KEY: _key, ...withoutModelKey } = valid;
    const { ADMIN_TOKEN: _token, ...withoutAdminToken } = valid;
    assert.equal(loadConfig(withoutModelKey, 'api').ADMIN_TOKEN, valid.ADMIN_TOKEN);
    assert.equal(loadConfig(withoutAdminToken, 'worker').OPENAI_API_KEY, valid.OPENAI_API_KEY);
    // Not read at all: a worker given a weak admin token (or codec token) is not refused for it.
    const worker = loadConfig({ ...valid, ADMIN_TOKEN: 'weak', CODEC_TOKEN: 'weak' }, 'worker');
    assert.equal('ADMIN_TOKEN' in worker || 'CODEC_TOKEN' in worker, false);
    assert.equal('OPENAI_API_KEY' in loadConfig(valid, 'api'), false);
    // Each role still requires what it reads; every variable without a role.
    assert.throws(() => loadConfig(withoutAdminToken, 'api'), /ADMIN_TOKEN is required/);
    assert.throws(() => loadConfig(withoutModelKey, 'worker'), /OPENAI_API_KEY is required/);
    assert.deepEqual(problemsOf(withoutAdminToken), ['ADMIN_TOKEN is required']);
    assert.deepEqual(problemsOf(withoutModelKey), ['OPENAI_API_KEY is required']);
  });

  test('a minimal environment gets documented defaults', () => {
    const config = loadConfig(valid);
    assert.equal(config.PORT, 8080);
    assert.equal(config.MONGODB_DB, 'chatrelay');
    assert.equal(config.TEMPORAL_ADDRESS, '127.0.0.1:7233');
    assert.equal(config.TEMPORAL_NAMESPACE, 'default');
    assert.equal(config.TEMPORAL_TASK_QUEUE, 'chatrelay');
    assert.equal(config.OPENAI_BASE_URL, 'https://api.openai.com/v1');
    assert.equal(config.PUBLIC_BASE_URL, 'http://localhost:8080');
    assert.deepEqual(config.DELIVERY_RETRY_SCHEDULE, [5, 300, 1800, 7200, 18000, 36000, 36000]);
    assert.deepEqual(config.SECRETS_ENCRYPTION_OLD_KEYS, []);
  });

  test('there is no secrets key derived from ADMIN_TOKEN: a process without SECRETS_ENCRYPTION_KEY does not start', () => {
    const { SECRETS_ENCRYPTION_KEY: _key, ...withoutKey } = valid;
    assert.deepEqual(problemsOf(withoutKey), ['SECRETS_ENCRYPTION_KEY is required']);
  });

  test('old keys are a comma-separated list', () => {
    const old = ['an-old-secrets-key-of-32-characters-or-more-1', 'an-old-secrets-key-of-32-characters-or-more-2'];
    assert.deepEqual(
      loadConfig({ ...valid, SECRETS_ENCRYPTION_OLD_KEYS: ` ${old[0]} , ${old[1]} ` }).SECRETS_ENCRYPTION_OLD_KEYS,
      old,
    );
  });

  for (const name of Object.keys(valid)) {
    test(`missing ${name} is named as required`, () => {
      const env: Record<string, string> = { ...valid };
      delete env[name];
      assert.deepEqual(problemsOf(env), [`${name} is required`]);
    });
    test(`empty ${name} counts as missing`, () => {
      assert.deepEqual(problemsOf({ ...valid, [name]: '' }), [`${name} is required`]);
    });
  }

  const malformed: Array<[string, string, RegExp]> = [
    ['PORT', 'eighty', /^PORT /],
    ['PORT', '70000', /^PORT /],
    ['PUBLIC_BASE_URL', 'ftp://example.com', /^PUBLIC_BASE_URL /],
    ['MONGODB_URI', 'postgres://x', /^MONGODB_URI must be a mongodb:\/\//],
    ['MONGODB_DB', 'bad name!', /^MONGODB_DB must be a database name/],
    ['TEMPORAL_ADDRESS', 'localhost', /^TEMPORAL_ADDRESS must be host:port/],
    ['OPENAI_BASE_URL', 'not a url', /^OPENAI_BASE_URL /],
    ['ADMIN_TOKEN', 'short', /^ADMIN_TOKEN must be at least 24 characters \(it has 5\)/],
    // Long enough for the old rule (16 characters of anything), not for one that counts entropy.
    ['ADMIN_TOKEN', 'admintoken-admintoken', /^ADMIN_TOKEN must be at least 24 characters/],
    ['ADMIN_TOKEN', 'abcdefghijklmnopqrstuvwx', /^ADMIN_TOKEN is too easy to guess: about 112 bits/],
    ['ADMIN_TOKEN', 'ab'.repeat(20), /^ADMIN_TOKEN repeats itself: it has 2 different characters/],
    ['LOG_LEVEL', 'loud', /^LOG_LEVEL /],
    ['DELIVERY_RETRY_SCHEDULE', '5,x', /^DELIVERY_RETRY_SCHEDULE must be a comma-separated list of seconds/],
    ['FETCH_ALLOW_PRIVATE', 'maybe', /^FETCH_ALLOW_PRIVATE /],
    ['SECRETS_ENCRYPTION_KEY', 'too-short', /^SECRETS_ENCRYPTION_KEY must be at least 32 characters/],
    [
      'SECRETS_ENCRYPTION_OLD_KEYS',
      'a-good-old-key-of-32-characters-or-more,short',
      /^SECRETS_ENCRYPTION_OLD_KEYS must be comma-separated keys of at least 32 characters each/,
    ],
    ['CODEC_TOKEN', 'short', /^CODEC_TOKEN must be at least 24 characters/],
    ['CODEC_TOKEN', 'codectokencodectokencodectoken', /^CODEC_TOKEN repeats itself/],
    ['CODEC_CORS_ORIGINS', 'http://127.0.0.1:8233/ui', /^CODEC_CORS_ORIGINS must be comma-separated origins/],
    ['CODEC_CORS_ORIGINS', 'https://ui.example, 127.0.0.1:8233', /^CODEC_CORS_ORIGINS must be comma-separated origins/],
    ['OVERLOAD_MAX_BACKLOG_MS', '-1', /^OVERLOAD_MAX_BACKLOG_MS /],
    ['OVERLOAD_MAX_BACKLOG_MS', '2s', /^OVERLOAD_MAX_BACKLOG_MS /],
    ['OVERLOAD_RETRY_AFTER_SECONDS', '0', /^OVERLOAD_RETRY_AFTER_SECONDS /],
    ['WORKER_VERSIONING', 'sometimes', /^WORKER_VERSIONING /],
    ['WORKER_SET_CURRENT', 'please', /^WORKER_SET_CURRENT /],
    ['TEMPORAL_DEPLOYMENT_NAME', 'chat.relay', /^TEMPORAL_DEPLOYMENT_NAME must be letters, digits/],
    ['TEMPORAL_DEPLOYMENT_NAME', '__chatrelay', /^TEMPORAL_DEPLOYMENT_NAME must be letters, digits/],
    ['BUILD_ID', '__unversioned__', /^BUILD_ID must be letters, digits/],
    ['BUILD_ID', 'v1 2', /^BUILD_ID must be letters, digits/],
    ['BUILD_ID', 'x'.repeat(256), /^BUILD_ID must be letters, digits/],
  ];
  for (const [name, value, expected] of malformed) {
    test(`${name}=${value} is rejected naming ${name}`, () => {
      const problems = problemsOf({ ...valid, [name]: value });
      assert.equal(problems.length, 1, problems.join('; '));
      assert.match(problems[0] ?? '', expected);
    });
  }

  test('every admin token the project generates or suggests passes the entropy rule', () => {
    const generated = {
      // test/helpers/stack-env.ts (every test stack) and src/stack/main.ts (the local stack).
      'stack tokens': () => randomBytes(24).toString('base64url'),
      // docker-compose.yml and the README: openssl rand -hex 24 / 32.
      'openssl rand -hex 24': () => randomBytes(24).toString('hex'),
      'openssl rand -hex 32': () => randomBytes(32).toString('hex'),
    };
    for (const [what, make] of Object.entries(generated))
      for (let i = 0; i < 200; i += 1) {
        const token = make();
        assert.deepEqual(
          problemsOf({ ...valid, ADMIN_TOKEN: token, MONGODB_URI: 'x' }),
          ['MONGODB_URI must be a mongodb:// or mongodb+srv:// connection string'],
          `${what}: ${token}`,
        );
      }
    assert.equal(loadConfig({ ...valid, ADMIN_TOKEN: stackEnv(stackWhere).ADMIN_TOKEN ?? '' }).ADMIN_TOKEN.length, 32);
  });

  test('codec endpoint settings: origins are a list, the token is optional', () => {
    const config = loadConfig({ ...valid, CODEC_CORS_ORIGINS: 'http://127.0.0.1:8233, https://temporal.example' });
    assert.deepEqual(config.CODEC_CORS_ORIGINS, ['http://127.0.0.1:8233', 'https://temporal.example']);
    assert.equal(config.CODEC_TOKEN, undefined);
    assert.deepEqual(loadConfig(valid).CODEC_CORS_ORIGINS, []);
  });

  test('load shedding: on by default (5 s of backlog, retry after 5 s), 0 turns it off', () => {
    const config = loadConfig(valid);
    assert.equal(config.OVERLOAD_MAX_BACKLOG_MS, 5_000);
    assert.equal(config.OVERLOAD_RETRY_AFTER_SECONDS, 5);
    assert.equal(loadConfig({ ...valid, OVERLOAD_MAX_BACKLOG_MS: '0' }).OVERLOAD_MAX_BACKLOG_MS, 0);
  });

  test('worker versioning: on, deployment chatrelay, the build from the checkout, the rollout makes a version current', () => {
    const config = loadConfig(valid);
    assert.equal(config.WORKER_VERSIONING, true);
    assert.equal(config.TEMPORAL_DEPLOYMENT_NAME, 'chatrelay');
    assert.equal(config.BUILD_ID, undefined);
    assert.equal(config.WORKER_SET_CURRENT, false);
    const set = loadConfig({
      ...valid,
      BUILD_ID: '1.4.0+3f2c9ab',
      TEMPORAL_DEPLOYMENT_NAME: 'chatrelay-eu',
      WORKER_SET_CURRENT: 'true',
    });
    assert.equal(set.BUILD_ID, '1.4.0+3f2c9ab');
    assert.equal(set.TEMPORAL_DEPLOYMENT_NAME, 'chatrelay-eu');
    assert.equal(set.WORKER_SET_CURRENT, true);
    assert.equal(loadConfig({ ...valid, WORKER_VERSIONING: 'false' }).WORKER_VERSIONING, false);
  });

  test("long replies: the model's output is bounded, and the answer step's budget and a POST's timeout fit within its timeout", () => {
    const config = loadConfig(valid);
    assert.equal(config.OPENAI_MAX_TOKENS, 1024);
    assert.equal(config.ANSWER_STEP_BUDGET_MS, 60_000);
    assert.equal(loadConfig({ ...valid, ANSWER_STEP_BUDGET_MS: '90000' }).ANSWER_STEP_BUDGET_MS, 90_000);
    assert.match(problemsOf({ ...valid, OPENAI_MAX_TOKENS: '0' })[0] ?? '', /^OPENAI_MAX_TOKENS /);
    assert.match(problemsOf({ ...valid, DELIVERY_TIMEOUT_MS: '60000' })[0] ?? '', /^DELIVERY_TIMEOUT_MS /);
    assert.deepEqual(
      problemsOf({ ...valid, ANSWER_STEP_BUDGET_MS: '95000' }).map((problem) => problem.split(' (')[0]),
      ['ANSWER_STEP_BUDGET_MS plus DELIVERY_TIMEOUT_MS must be at most 100000'],
    );
  });

  test("every timeout within the step that contains it: a model call, and a voice note's download with its transcription", () => {
    assert.equal(loadConfig({ ...valid, OPENAI_TIMEOUT_MS: '85000' }).OPENAI_TIMEOUT_MS, 85_000);
    const head = (env: Record<string, string>): string[] =>
      problemsOf({ ...valid, ...env }).map((problem) => problem.split(' (')[0] ?? '');
    assert.deepEqual(head({ OPENAI_TIMEOUT_MS: '300000' }), ['OPENAI_TIMEOUT_MS must be at most 100000']);
    assert.deepEqual(head({ OPENAI_TIMEOUT_MS: '90000', FETCH_TIMEOUT_MS: '15000' }), [
      'FETCH_TIMEOUT_MS plus OPENAI_TIMEOUT_MS must be at most 100000',
    ]);
    // Each named at once, with what contains it.
    assert.deepEqual(head({ OPENAI_TIMEOUT_MS: '300000', ANSWER_STEP_BUDGET_MS: '95000' }), [
      'ANSWER_STEP_BUDGET_MS plus DELIVERY_TIMEOUT_MS must be at most 100000',
      'OPENAI_TIMEOUT_MS must be at most 100000',
    ]);
  });

  test('every problem is reported at once', () => {
    const problems = problemsOf({ PORT: 'x' });
    assert.deepEqual(problems.map((problem) => problem.split(' ')[0]).sort(), [
      'ADMIN_TOKEN',
      'MONGODB_URI',
      'OPENAI_API_KEY',
      'PORT',
      'SECRETS_ENCRYPTION_KEY',
    ]);
  });

  test('the process entry point exits naming the variable', async () => {
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/api/main.ts'], {
      env: {
        PATH: process.env.PATH,
        MONGODB_URI: valid.MONGODB_URI,
        OPENAI_API_KEY: 'x',
        ADMIN_TOKEN: 'abcdefghijklmnopqrstuvwx',
      },
      encoding: 'utf8',
    });
    assert.equal(result.status, 78);
    assert.match(result.stderr, /ADMIN_TOKEN is too easy to guess: .* e\.g\. `openssl rand -hex 32`/);
  });

  test('the entry points read their own secrets only: the API starts without the model key, a worker without the admin token', async () => {
    const { spawnSync } = await import('node:child_process');
    const { OPENAI_API_KEY: _key, ...apiEnv } = valid;
    const { ADMIN_TOKEN: _token, ...workerEnv } = valid;
    // Each gets as far as the next check, which refuses metrics on every interface without a token:
    // past the configuration it loads, without the variable it does not read.
    for (const [entry, env] of [
      ['src/api/main.ts', apiEnv],
      ['src/worker/main.ts', workerEnv],
    ] as const) {
      const result = spawnSync(process.execPath, ['--import', 'tsx', entry], {
        env: { PATH: process.env.PATH, ...env },
        encoding: 'utf8',
      });
      assert.equal(result.status, 78, entry);
      assert.match(result.stderr, /METRICS_TOKEN is required/, entry);
      assert.doesNotMatch(result.stderr, /ADMIN_TOKEN|OPENAI_API_KEY/, entry);
    }
  });
});
