import { proxyActivities, sleep } from '@temporalio/workflow';
import type { HistoryErasureActivities } from '../activities/history-erasure.js';

/**
 * A pass deletes what it can; Temporal unreachable or slow is retried without end, backing off:
 * an erasure that waits loses nothing, one that gives up leaves the user in Temporal.
 */
const { eraseWorkflowHistories } = proxyActivities<HistoryErasureActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Between two passes over runs still open. */
export const HISTORY_ERASURE_PAUSE_MS = 5_000;
/**
 * Passes that leave open runs alone. The erasure held the chat's turn once every workflow before
 * it had ended its place, so their runs are closing within moments; one still open after these
 * (about 5 minutes) is deleted anyway, which terminates it: its records are gone already.
 */
export const HISTORY_ERASURE_GENTLE_PASSES = 60;

/**
 * Workflows one activity takes at a time: each costs a describe, a visibility query and a delete
 * per run, a few round trips, so a batch stays well inside the activity's two minutes however
 * many messages the chat had.
 */
export const HISTORY_ERASURE_BATCH = 100;

export interface HistoryErasureInput {
  workflowIds: string[];
}

/**
 * Deletes the executions of an erased user's workflows (issue 24, item 7), started by the erasure
 * before it deletes the user's records: their histories and visibility records (search attributes
 * included) go with them. Its own history holds the workflow ids only, encrypted.
 */
export async function historyErasureWorkflow(input: HistoryErasureInput): Promise<{ deleted: number }> {
  let pending = input.workflowIds;
  let deleted = 0;
  for (let pass = 0; pending.length > 0; pass++) {
    if (pass > 0) await sleep(HISTORY_ERASURE_PAUSE_MS);
    const running: string[] = [];
    for (let from = 0; from < pending.length; from += HISTORY_ERASURE_BATCH) {
      const result = await eraseWorkflowHistories({
        workflowIds: pending.slice(from, from + HISTORY_ERASURE_BATCH),
        force: pass >= HISTORY_ERASURE_GENTLE_PASSES,
      });
      deleted += result.deleted;
      running.push(...result.running);
    }
    pending = running;
  }
  return { deleted };
}
