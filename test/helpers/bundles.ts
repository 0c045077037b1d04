/**
 * Workflow bundles shared by every test file of a run. Bundling is webpack over the workflow code,
 * 4-5 s of CPU a time on this 2-core machine, and dozens of test files need the same few bundles:
 * scripts/run-tests.mjs makes one folder for a run (CHATRELAY_TEST_BUNDLES) and removes it at the
 * end; the first file that needs a bundle builds it there, under an exclusive lock file, and every
 * other file reads it. A file run alone (`node --import tsx --test file`) gets a folder of its own,
 * removed when its process exits. A run never outlives its sources, so a bundle never goes stale.
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { failureConverterPath } from '../../src/temporal/data-converter.js';

/** What a bundle is made of: the workflow code and the interceptor modules bundled with it. */
export interface BundleSpec {
  workflowsPath: string;
  workflowInterceptorModules: readonly string[];
}

/** Longest wait for a bundle another test file is building (it takes seconds; minutes under load). */
const BUILD_WAIT_MS = 300_000;

let ownFolder: string | undefined;
function bundleFolder(): string {
  const shared = process.env.CHATRELAY_TEST_BUNDLES;
  if (shared) {
    mkdirSync(shared, { recursive: true });
    return shared;
  }
  if (!ownFolder) {
    const folder = mkdtempSync(join(tmpdir(), 'chatrelay-bundles-'));
    ownFolder = folder;
    process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  }
  return ownFolder;
}

function keyOf(spec: BundleSpec): string {
  const parts = [spec.workflowsPath, ...spec.workflowInterceptorModules, failureConverterPath];
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}

/**
 * The path of a file holding the bundle `spec` describes, with production's failure converter
 * (failure messages encoded, as the worker does), built by whichever test file asked first.
 */
export async function sharedBundleFile(spec: BundleSpec): Promise<string> {
  const folder = bundleFolder();
  const key = keyOf(spec);
  const file = join(folder, `${key}.js`);
  const lock = join(folder, `${key}.lock`);
  const deadline = Date.now() + BUILD_WAIT_MS;
  for (;;) {
    if (existsSync(file)) return file;
    let fd: number;
    try {
      fd = openSync(lock, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Another file is building it: wait for the file, or for the lock to go (its build failed: try ours).
      if (Date.now() > deadline)
        throw new Error(`waited ${BUILD_WAIT_MS} ms for the workflow bundle another test file builds (${lock})`);
      await delay(100);
      continue;
    }
    try {
      if (existsSync(file)) return file; // built between our check and our lock
      const { code } = await bundleWorkflowCode({
        workflowsPath: spec.workflowsPath,
        workflowInterceptorModules: [...spec.workflowInterceptorModules],
        failureConverterPath,
        logger: { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} },
      });
      // Written aside and renamed, so a reader never sees half a bundle.
      const partial = `${file}.${process.pid}.partial`;
      writeFileSync(partial, code);
      renameSync(partial, file);
      return file;
    } finally {
      closeSync(fd);
      unlinkSync(lock);
    }
  }
}
