import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { lineTurnSignal } from '../workflows/definitions.js';
import type { LineWorkflows } from './line.js';

/** The line's Temporal side: a signal to wake a waiting workflow, a describe to tell whether one runs. */
export function temporalLineWorkflows(client: Client): LineWorkflows {
  return {
    async wake(workflowId) {
      try {
        await client.workflow.getHandle(workflowId).signal(lineTurnSignal);
      } catch (error) {
        // Not started yet (it will read the place before its own when it starts) or ended: nobody to wake.
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
    },
    async status(workflowId) {
      try {
        const description = await client.workflow.getHandle(workflowId).describe();
        if (description.status.name !== 'RUNNING') return { state: 'closed' };
        const lineSeq = description.memo?.lineSeq;
        return { state: 'running', ...(typeof lineSeq === 'number' ? { lineSeq } : {}) };
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return { state: 'missing' };
        throw error;
      }
    },
  };
}
