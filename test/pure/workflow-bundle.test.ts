/**
 * The workflow bundle's modules, as scripts/imports.mjs follows them from src/workflows/index.ts:
 * only workflow code (no activity, store, API or worker module, which lint also bans one import at
 * a time), and as many as docs/architecture.md says, so the figure there cannot go stale.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../src/stack/tools.js';

const bundleModules = (): string[] => {
  const output = execFileSync(
    process.execPath,
    [join(projectRoot, 'scripts', 'imports.mjs'), 'src/workflows/index.ts'],
    {
      cwd: projectRoot,
      encoding: 'utf8',
    },
  );
  return output.trim().split('\n').slice(0, -1);
};

test('the workflow bundle holds only workflow code, and docs/architecture.md gives its size', () => {
  const modules = bundleModules();
  assert.ok(modules.includes('src/workflows/message.ts'), modules.join('\n'));
  assert.ok(modules.includes('src/domain/reply-plan.ts'), 'a value import is followed');
  const io = modules.filter((file) => /^src\/(activities|stores|api|worker|lib)\//.test(file));
  assert.deepEqual(io, [], 'modules that do I/O reached from the workflows');
  const architecture = readFileSync(join(projectRoot, 'docs', 'architecture.md'), 'utf8');
  const stated = /workflow bundle holds (\d+) modules/.exec(architecture.replace(/\s+/g, ' '))?.[1];
  assert.equal(Number(stated), modules.length, 'docs/architecture.md: "The files a message crosses" is stale');
});
