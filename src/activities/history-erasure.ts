import type { Client } from '@temporalio/client';
import { deleteWorkflowExecutions, type HistoryDeletion } from '../temporal/history-erasure.js';

export interface EraseHistoriesInput {
  workflowIds: string[];
  /** Delete runs still open too (Temporal terminates them first). */
  force?: boolean;
}

/** The activity of `historyErasureWorkflow`: deleting workflow executions through the worker's Temporal client. */
export function createHistoryErasureActivities(client: Client) {
  return {
    async eraseWorkflowHistories(input: EraseHistoriesInput): Promise<HistoryDeletion> {
      return deleteWorkflowExecutions(client, input);
    },
  };
}

export type HistoryErasureActivities = ReturnType<typeof createHistoryErasureActivities>;
