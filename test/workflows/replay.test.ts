import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundle, testDataConverter } from '../helpers/temporal.js';
import { historiesDir, workflowsPath } from '../helpers/workflow-harness.js';

// Histories recorded from the workflow tests (RECORD_HISTORIES=1), kept as an archive that only
// grows. Replaying them against today's workflow code fails when a change would break running
// workflows: such a change needs patched() or a new workflow type. Histories recorded since the
// payloads are encrypted replay through the test codec (older ones are plain, which it passes).
const files = readdirSync(historiesDir)
  .filter((name) => name.endsWith('.json'))
  .sort();
const workflowTypeOf = (file: string): string =>
  String(
    (
      JSON.parse(readFileSync(`${historiesDir}${file}`, 'utf8')) as {
        events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }>;
      }
    ).events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name,
  );

let workflowBundle: WorkflowBundleWithSourceMap;
before(async () => {
  workflowBundle = await bundle(workflowsPath);
});

test('the archive holds histories of every workflow type that can still be running', () => {
  const byType = new Map<string, number>();
  for (const file of files) byType.set(workflowTypeOf(file), (byType.get(workflowTypeOf(file)) ?? 0) + 1);
  // Version 1's message workflow (frozen), and version 2's message and redelivery workflows.
  assert.ok((byType.get('messageWorkflow') ?? 0) >= 8, JSON.stringify([...byType]));
  assert.ok((byType.get('messageWorkflowV2') ?? 0) >= 8, JSON.stringify([...byType]));
  assert.ok((byType.get('redeliveryWorkflowV2') ?? 0) >= 1, JSON.stringify([...byType]));
});

for (const file of files) {
  test(`replays ${file} (${workflowTypeOf(file)}) deterministically`, async () => {
    const history = historyFromJSON(JSON.parse(readFileSync(`${historiesDir}${file}`, 'utf8')));
    await Worker.runReplayHistory(
      { workflowBundle, dataConverter: testDataConverter },
      history,
      file.replace(/\.json$/, ''),
    );
  });
}
