import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import * as registered from '../../src/workflows/index.js';
import { bundle, testDataConverter } from '../helpers/temporal.js';
import { archivedHistories, recordingRelease, workflowsPath } from '../helpers/workflow-harness.js';

// Histories recorded from the workflow tests (RECORD_HISTORIES=1), one folder per release, kept as
// an archive that only grows. Replaying them against today's workflow code fails when a change
// would break workflows a release left running: such a change needs patched() or a new workflow
// type. Every payload is encrypted; they replay through the test codec.

const archive = archivedHistories();
const releases = [...new Set(archive.map((history) => history.release))];

let workflowBundle: WorkflowBundle;
before(async () => {
  workflowBundle = await bundle(workflowsPath);
});

test('every archived history is of a registered workflow type, and every registered type has archived histories', () => {
  const known = new Set(Object.keys(registered));
  assert.deepEqual(
    archive
      .filter((history) => !known.has(history.workflowType))
      .map((history) => `${history.release}/${history.name}`),
    [],
  );
  const archived = new Set(archive.map((history) => history.workflowType));
  assert.deepEqual(
    Object.keys(registered).filter((type) => !archived.has(type)),
    [],
    'a workflow type without history: record some (RECORD_HISTORIES=1)',
  );
  assert.ok(releases.includes(recordingRelease), `the release being prepared, ${recordingRelease}, has its histories`);
});

describe('replay of the archived histories against today’s workflow code', () => {
  for (const release of releases) {
    const ofRelease = archive.filter((history) => history.release === release);
    for (const workflowType of [...new Set(ofRelease.map((history) => history.workflowType))].sort()) {
      test(`release ${release}: every ${workflowType} history replays without a nondeterminism error`, async () => {
        const histories = ofRelease.filter((history) => history.workflowType === workflowType);
        const replayed: Array<{ name: string; error: string | undefined }> = [];
        const results = Worker.runReplayHistories(
          { workflowBundle, dataConverter: testDataConverter },
          histories.map((history) => ({ workflowId: history.workflowId, history: historyFromJSON(history.json) })),
        );
        // One result per history, in their order (two runs of one workflow share its id).
        for await (const result of results) {
          const history = histories[replayed.length];
          assert.equal(result.workflowId, history?.workflowId);
          replayed.push({ name: history?.name ?? result.workflowId, error: result.error?.message });
        }
        assert.deepEqual(
          replayed,
          histories.map((history) => ({ name: history.name, error: undefined })),
        );
      });
    }
  }
});
