import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { architectureDocPath, renderArchitectureDoc } from '../../scripts/capacity-docs.js';
import { historyCost } from '../helpers/cloud-actions.js';
import { capacityRows } from '../helpers/capacity.js';
import { archivedHistories, recordingRelease } from '../helpers/history-archive.js';

// The capacity table of docs/architecture.md is rendered from the archived histories, which the
// replay test proves today's workflow code makes; this test keeps the committed table equal to it.

test('docs/architecture.md’s capacity table is what the archived histories show (npm run docs:capacity)', () => {
  const committed = readFileSync(architectureDocPath, 'utf8');
  assert.equal(committed, renderArchitectureDoc(), 'the capacity table is stale: run `npm run docs:capacity`');
});

test('the common case costs 7 events, one workflow task and 3 billable actions: start, its local activities, one upsert', () => {
  const [common] = capacityRows(archivedHistories(), recordingRelease);
  assert.deepEqual(common?.cost, {
    events: 7,
    workflowTasks: 1,
    actions: {
      workflowStarts: 1,
      localActivityTasks: 1,
      activityAttempts: 0,
      timers: 0,
      signals: 0,
      searchAttributeUpserts: 1,
      childWorkflowStarts: 0,
      total: 3,
    },
  });
});

test('billable actions follow Temporal’s rules: local activities per workflow task, activity attempts, free change-version upserts', () => {
  const event = (eventId: number, eventType: string, attributes: Record<string, unknown> = {}) => ({
    eventId: String(eventId),
    eventType: `EVENT_TYPE_${eventType}`,
    ...attributes,
  });
  const marker = { markerRecordedEventAttributes: { markerName: 'core_local_activity' } };
  const cost = historyCost({
    events: [
      event(1, 'WORKFLOW_EXECUTION_STARTED'),
      event(2, 'WORKFLOW_TASK_COMPLETED'),
      event(3, 'MARKER_RECORDED', marker),
      event(4, 'MARKER_RECORDED', marker),
      event(5, 'MARKER_RECORDED', { markerRecordedEventAttributes: { markerName: 'core_patch' } }),
      event(6, 'ACTIVITY_TASK_STARTED', { activityTaskStartedEventAttributes: { attempt: 3 } }),
      event(7, 'WORKFLOW_TASK_COMPLETED'),
      event(8, 'MARKER_RECORDED', marker),
      event(9, 'TIMER_STARTED'),
      event(10, 'WORKFLOW_EXECUTION_SIGNALED'),
      event(11, 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', {
        upsertWorkflowSearchAttributesEventAttributes: {
          searchAttributes: { indexedFields: { TemporalChangeVersion: {} } },
        },
      }),
      event(12, 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', {
        upsertWorkflowSearchAttributesEventAttributes: { searchAttributes: { indexedFields: { ChatRelayStage: {} } } },
      }),
      event(13, 'START_CHILD_WORKFLOW_EXECUTION_INITIATED'),
      event(14, 'WORKFLOW_EXECUTION_COMPLETED'),
    ],
  });
  assert.deepEqual(cost, {
    events: 14,
    workflowTasks: 2,
    actions: {
      workflowStarts: 1,
      localActivityTasks: 2,
      activityAttempts: 3,
      timers: 1,
      signals: 1,
      searchAttributeUpserts: 1,
      childWorkflowStarts: 2,
      total: 11,
    },
  });
});
