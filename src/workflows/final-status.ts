import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { FinalStatus } from '../domain/models.js';
import { statusAttribute } from './search-attributes.js';

/**
 * Sets the search attribute `ChatRelayStatus` to how the message ended; called right before the
 * workflow returns, so the upsert is a command of the task that completes it: one history event.
 *
 * Only a workflow started with its search attributes (by the API since they exist) upserts: the
 * start event says so, identically on every replay, so workflows started without them replay
 * without this command and without a patch marker, which would be one more event on every message.
 */
export function recordFinalStatus(status: FinalStatus): void {
  if (workflowInfo().typedSearchAttributes.get(statusAttribute) === undefined) return;
  upsertSearchAttributes([{ key: statusAttribute, value: status }]);
}
