// Runs test files with node's built-in test runner (through tsx for TypeScript): every file under
// test/ when given nothing, else the files given and every test file under each folder given
// (`node scripts/run-tests.mjs test/pure test/e2e/ordering.test.ts`; the npm scripts test:<folder>).
// Files run in separate processes; each starts the servers it needs on free ports. Workflow
// bundles are built once per run, by the first file that needs each, in a folder this run makes
// and removes (test/helpers/bundles.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
function collect(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return collect(path);
      return name.endsWith('.test.ts') ? [relative(root, path)] : [];
    })
    .sort();
}
const only = process.argv.slice(2);
const files = (only.length > 0 ? only : ['test']).flatMap((arg) =>
  statSync(resolve(root, arg)).isDirectory() ? collect(resolve(root, arg)) : [arg],
);
if (files.length === 0) {
  console.error(`no test files in ${only.join(' ')}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const bundles = mkdtempSync(join(tmpdir(), 'chatrelay-test-bundles-'));
let result;
try {
  result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files],
    { stdio: 'inherit', cwd: root, env: { ...process.env, CHATRELAY_TEST_BUNDLES: bundles } },
  );
} finally {
  rmSync(bundles, { recursive: true, force: true });
}
process.exit(result?.status ?? 1);
