import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { chatTurnsWorkflowId } from '../../domain/ids.js';
import type { chatTurnsWorkflow } from '../../workflows/v1/chat-turns.js';
import { requestTurnSignal, type TurnRequest } from '../../workflows/v1/definitions.js';

/** What the activities need from Temporal itself: reaching a chat's sequencer, and asking whether a workflow still runs. */
export interface TurnsClient {
  requestTurn(chatId: string, request: TurnRequest): Promise<void>;
  isWorkflowRunning(workflowId: string): Promise<boolean>;
}

export function createTurnsClient(client: Client, taskQueue: string): TurnsClient {
  return {
    async requestTurn(chatId, request) {
      // Signal-with-start: starts the chat's sequencer if it is not running, in one atomic call.
      await client.workflow.signalWithStart<typeof chatTurnsWorkflow, [TurnRequest]>('chatTurnsWorkflow', {
        workflowId: chatTurnsWorkflowId(chatId),
        taskQueue,
        args: [{ queue: [] }],
        signal: requestTurnSignal,
        signalArgs: [request],
      });
    },
    async isWorkflowRunning(workflowId) {
      try {
        const description = await client.workflow.getHandle(workflowId).describe();
        return description.status.name === 'RUNNING';
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      }
    },
  };
}
