import type { WorkerDeploymentVersion } from '@temporalio/common';
import type proto from '@temporalio/proto';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type Config } from '../config.js';

/**
 * Worker Versioning (docs/upgrades.md): every worker polls as one version of the Worker
 * Deployment TEMPORAL_DEPLOYMENT_NAME, named by its build id, and every workflow it starts is
 * pinned to that version until it ends, so a deploy never replays a running workflow on other code.
 */

type WorkflowService = proto.temporal.api.workflowservice.v1.WorkflowService;

/** Where a worker's build id came from, for its start-up log line. */
export type BuildIdSource = 'BUILD_ID' | 'git commit' | 'workflow bundle';

export interface WorkerVersion extends WorkerDeploymentVersion {
  readonly source: BuildIdSource;
}

/** The checkout this code runs from (src/temporal or dist/temporal, two levels down). */
const checkoutRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The commit checked out at `root`, when it is a git checkout and git is at hand; undefined otherwise. */
export function gitCommit(root: string = checkoutRoot): string | undefined {
  // .git is a folder in a clone and a file in a worktree; without it, git would find an enclosing repository.
  if (!existsSync(join(root, '.git'))) return undefined;
  const result = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 5_000 });
  const commit = result.status === 0 ? result.stdout.trim() : '';
  return /^[0-9a-f]{40,64}$/.test(commit) ? commit : undefined;
}

/** The build id of a prebuilt workflow bundle: its content's hash, the same for every build of the same workflow code. */
export function bundleBuildId(bundlePath: string): string {
  return `bundle-${createHash('sha256').update(readFileSync(bundlePath)).digest('hex').slice(0, 20)}`;
}

/**
 * The worker's version, read once at its start: BUILD_ID when set; else the commit of the git
 * checkout it runs from; else (the Docker image, built without `--build-arg BUILD_ID`) the hash of
 * its prebuilt workflow bundle, WORKFLOW_BUNDLE_PATH. None of them: start-up stops naming BUILD_ID.
 * Undefined when WORKER_VERSIONING is off.
 */
export function workerVersionOf(
  config: Pick<Config, 'WORKER_VERSIONING' | 'TEMPORAL_DEPLOYMENT_NAME' | 'BUILD_ID' | 'WORKFLOW_BUNDLE_PATH'>,
  commit: () => string | undefined = gitCommit,
): WorkerVersion | undefined {
  if (!config.WORKER_VERSIONING) return undefined;
  const deploymentName = config.TEMPORAL_DEPLOYMENT_NAME;
  if (config.BUILD_ID !== undefined) return { deploymentName, buildId: config.BUILD_ID, source: 'BUILD_ID' };
  const fromGit = commit();
  if (fromGit !== undefined) return { deploymentName, buildId: fromGit, source: 'git commit' };
  if (config.WORKFLOW_BUNDLE_PATH !== undefined && existsSync(config.WORKFLOW_BUNDLE_PATH))
    return { deploymentName, buildId: bundleBuildId(config.WORKFLOW_BUNDLE_PATH), source: 'workflow bundle' };
  throw new ConfigError([
    'BUILD_ID is required: this worker runs neither from a git checkout nor from a prebuilt workflow bundle ' +
      '(WORKFLOW_BUNDLE_PATH), so nothing names its build; set it to the release (e.g. its git commit), ' +
      'or WORKER_VERSIONING=false on a Temporal cluster without Worker Deployments',
  ]);
}

/**
 * The worker's deployment options. Every workflow type is PINNED (the default behaviour, not an
 * annotation per type: an annotated workflow fails its tasks on an unversioned worker, which
 * WORKER_VERSIONING=false runs). Why pinned suits each is in src/workflows/index.ts.
 */
export function deploymentOptions(version: WorkerDeploymentVersion): WorkerDeploymentOptions {
  return {
    useWorkerVersioning: true,
    version: { deploymentName: version.deploymentName, buildId: version.buildId },
    defaultVersioningBehavior: 'PINNED',
  };
}

/** The version as the `TemporalWorkerDeploymentVersion` search attribute holds it (`deployment:build`), for queries. */
export function versionSearchValue(version: WorkerDeploymentVersion): string {
  return `${version.deploymentName}:${version.buildId}`;
}

/** The commands an operator runs for this version (README, Upgrading). */
export function setCurrentCommand(version: WorkerDeploymentVersion): string {
  return `temporal worker deployment set-current-version --deployment-name ${version.deploymentName} --build-id ${version.buildId}`;
}

const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;
const UNAVAILABLE = 14;
/** What the server answers while it has not yet seen this version's pollers (its first poll registers it). */
const NOT_YET = new Set([NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE]);
const codeOf = (error: unknown): unknown => (error as { code?: unknown }).code;

/**
 * The deployment's current version: null while none is (new workflows then go to unversioned
 * workers); undefined while the server knows no such deployment (none of its workers polled yet).
 */
export async function currentVersion(
  service: WorkflowService,
  namespace: string,
  deploymentName: string,
): Promise<WorkerDeploymentVersion | null | undefined> {
  try {
    const { workerDeploymentInfo } = await service.describeWorkerDeployment({ namespace, deploymentName });
    const current = workerDeploymentInfo?.routingConfig?.currentDeploymentVersion;
    return current?.buildId
      ? { deploymentName: current.deploymentName ?? deploymentName, buildId: current.buildId }
      : null;
  } catch (error) {
    if (codeOf(error) === NOT_FOUND) return undefined;
    throw error;
  }
}

/**
 * Makes `version` the deployment's current version (WORKER_SET_CURRENT): new workflows go to it,
 * running ones stay on theirs. The server refuses a version whose pollers it has not seen yet, so
 * this is called once the worker polls, and tries again for a while. Resolves with the version
 * that was current before (null: none); rejects when `keepTrying` says stop or the time is up.
 */
export async function makeCurrent(
  service: WorkflowService,
  namespace: string,
  version: WorkerDeploymentVersion,
  options: { timeoutMs?: number; intervalMs?: number; keepTrying?: () => boolean } = {},
): Promise<WorkerDeploymentVersion | null> {
  const { timeoutMs = 60_000, intervalMs = 200, keepTrying = () => true } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await service.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        identity: 'chatrelay worker (WORKER_SET_CURRENT)',
      });
      const previous = response.previousDeploymentVersion;
      return previous?.buildId
        ? { deploymentName: previous.deploymentName ?? version.deploymentName, buildId: previous.buildId }
        : null;
    } catch (error) {
      if (!NOT_YET.has(codeOf(error) as number) || Date.now() > deadline || !keepTrying()) throw error;
    }
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}
