import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundle } from '../helpers/temporal.js';
import { historiesDir, workflowsPath } from '../helpers/workflow-harness.js';

// Histories recorded from the workflow tests (RECORD_HISTORIES=1). Replaying them against today's
// workflow code fails when a change would break running workflows: such a change needs patched().
const files = readdirSync(historiesDir).filter((name) => name.endsWith('.json')).sort();

let workflowBundle: WorkflowBundleWithSourceMap;
before(async () => {
  workflowBundle = await bundle(workflowsPath);
});

test('recorded histories exist for the main paths', () => {
  assert.ok(files.length >= 8, `expected recorded histories, found ${files.join(', ')}`);
});

for (const file of files) {
  test(`replays ${file} deterministically`, async () => {
    const history = historyFromJSON(JSON.parse(readFileSync(`${historiesDir}${file}`, 'utf8')));
    await Worker.runReplayHistory({ workflowBundle }, history, file.replace(/\.json$/, ''));
  });
}
