import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { OperationalEventStarter } from '../activities/events.js';
import { operationalEventWorkflowId } from '../domain/ids.js';
import type { operationalEventWorkflow } from '../workflows/operational-event.js';

/**
 * Starts one event's delivery workflow, its id derived from the event's: an event emitted again
 * (a retried activity) finds its workflow running or done and starts nothing (REJECT_DUPLICATE
 * for a closed one, USE_EXISTING for a running one).
 */
export function temporalEventStarter(client: Client, taskQueue: string): OperationalEventStarter {
  return {
    async start(input) {
      try {
        await client.workflow.start<typeof operationalEventWorkflow>('operationalEventWorkflow', {
          workflowId: operationalEventWorkflowId(input.eventId),
          taskQueue,
          args: [input],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
    },
  };
}
