import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import * as registered from '../../src/workflows/index.js';
import { bundle, testDataConverter } from '../helpers/temporal.js';
import { historiesDir, workflowsPath } from '../helpers/workflow-harness.js';

// Histories recorded from the workflow tests (RECORD_HISTORIES=1), kept as an archive that only
// grows. Replaying them against today's workflow code fails when a change would break running
// workflows: such a change needs patched() or a new workflow type. Histories recorded since the
// payloads are encrypted replay through the test codec (older ones are plain, which it passes).

interface ArchivedHistory {
  file: string;
  workflowType: string;
  json: unknown;
}

const archive: ArchivedHistory[] = readdirSync(historiesDir)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((file) => {
    const json = JSON.parse(readFileSync(`${historiesDir}${file}`, 'utf8')) as {
      events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }>;
    };
    return {
      file,
      workflowType: String(json.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name),
      json,
    };
  });

/**
 * Registered workflow types that have no archived history, and why. Every other registered type
 * must have at least one: a new workflow type fails here until histories of it are recorded.
 */
const withoutArchive: Record<string, string> = {
  chatTurnsWorkflow: 'version 1 sequencer, frozen before histories were archived; nothing starts it any more',
  redeliveryWorkflow: 'version 1 redelivery, frozen before histories were archived; nothing starts it any more',
};
const archivedTypes = Object.keys(registered)
  .filter((type) => !(type in withoutArchive))
  .sort();

let workflowBundle: WorkflowBundleWithSourceMap;
before(async () => {
  workflowBundle = await bundle(workflowsPath);
});

test('every archived history is of a registered workflow type, and the exemptions are registered types', () => {
  const known = new Set(Object.keys(registered));
  assert.deepEqual(
    archive.filter((history) => !known.has(history.workflowType)).map((history) => history.file),
    [],
  );
  assert.deepEqual(
    Object.keys(withoutArchive).filter((type) => !known.has(type)),
    [],
  );
});

describe('replay of the archived histories against today’s workflow code', () => {
  for (const workflowType of archivedTypes) {
    test(`${workflowType}: every archived history replays without a nondeterminism error`, async () => {
      const histories = archive.filter((history) => history.workflowType === workflowType);
      assert.ok(histories.length > 0, `no archived history of ${workflowType}: record some (RECORD_HISTORIES=1)`);
      const replayed: Array<{ file: string; error: string | undefined }> = [];
      const results = Worker.runReplayHistories(
        { workflowBundle, dataConverter: testDataConverter },
        histories.map((history) => ({
          workflowId: history.file.replace(/\.json$/, ''),
          history: historyFromJSON(history.json),
        })),
      );
      for await (const result of results) {
        replayed.push({ file: `${result.workflowId}.json`, error: result.error?.message });
      }
      assert.deepEqual(
        replayed,
        histories.map((history) => ({ file: history.file, error: undefined })),
      );
    });
  }
});
