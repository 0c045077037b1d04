import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import {
  bundleBuildId,
  deploymentOptions,
  gitCommit,
  versionSearchValue,
  workerVersionOf,
} from '../../src/temporal/worker-versioning.js';
import { projectRoot } from '../../src/stack/tools.js';

const config = loadConfig({
  MONGODB_URI: 'mongodb://127.0.0.1:27017',
  OPENAI_API_KEY: 'sk-test',
  ADMIN_TOKEN: 'a-strong-Admin-token-0123456789',
  SECRETS_ENCRYPTION_KEY: 'a-secrets-encryption-key-of-32-characters-or-more',
});
const noGit = (): undefined => undefined;
/** Whether the tests run from a git checkout, with git at hand (a source tarball has neither). */
const inCheckout = existsSync(join(projectRoot, '.git')) && spawnSync('git', ['--version']).status === 0;

describe('the worker version (BUILD_ID, else the git commit, else the workflow bundle)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatrelay-version-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('BUILD_ID wins', () => {
    assert.deepEqual(
      workerVersionOf({ ...config, BUILD_ID: 'release-7' }, () => 'abc'),
      {
        deploymentName: 'chatrelay',
        buildId: 'release-7',
        source: 'BUILD_ID',
      },
    );
  });

  test('unset, the commit of the checkout the worker runs from (this one)', { skip: !inCheckout }, () => {
    const commit = gitCommit(projectRoot);
    assert.match(commit ?? '', /^[0-9a-f]{40}$/);
    assert.deepEqual(workerVersionOf(config), { deploymentName: 'chatrelay', buildId: commit, source: 'git commit' });
    // A folder that is no checkout has none, even inside one.
    assert.equal(gitCommit(join(projectRoot, 'src')), undefined);
    assert.equal(gitCommit(dir), undefined);
  });

  test('no checkout (the Docker image): the hash of the prebuilt bundle, the same for the same workflow code', () => {
    const bundle = join(dir, 'workflow-bundle.js');
    writeFileSync(bundle, 'workflow code, release 1');
    const first = workerVersionOf({ ...config, WORKFLOW_BUNDLE_PATH: bundle }, noGit);
    assert.equal(first?.source, 'workflow bundle');
    assert.match(first?.buildId ?? '', /^bundle-[0-9a-f]{20}$/);
    assert.equal(bundleBuildId(bundle), first?.buildId);
    writeFileSync(bundle, 'workflow code, release 2');
    assert.notEqual(bundleBuildId(bundle), first?.buildId);
  });

  test('nothing to name the build: start-up stops naming BUILD_ID; versioning off needs none', () => {
    assert.throws(
      () => workerVersionOf(config, noGit),
      (error: unknown) => error instanceof ConfigError && /^BUILD_ID is required/.test(error.problems[0] ?? ''),
    );
    assert.equal(workerVersionOf({ ...config, WORKER_VERSIONING: false }, noGit), undefined);
  });

  test('every workflow is pinned; the version as visibility queries name it', () => {
    const version = { deploymentName: 'chatrelay', buildId: 'b1' };
    assert.deepEqual(deploymentOptions(version), {
      useWorkerVersioning: true,
      version,
      defaultVersioningBehavior: 'PINNED',
    });
    assert.equal(versionSearchValue(version), 'chatrelay:b1');
  });
});
