import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { messageWorkflowId } from '../domain/ids.js';
import type { InboundEnvelope } from '../domain/models.js';
import type { messageWorkflow } from '../workflows/message.js';
import { unavailable } from './errors.js';
import type { MessageStarter } from './routes/webhook.js';

/** Starts one workflow per message; the answer is 200 only once Temporal has durably recorded it. */
export function createMessageStarter(client: Client, taskQueue: string, options: { timeoutMs?: number } = {}): MessageStarter {
  // A client platform is waiting: past this, answer 503 (it will retry) rather than hang.
  const timeoutMs = options.timeoutMs ?? 5_000;
  return {
    async start(envelope: InboundEnvelope) {
      const workflowId = messageWorkflowId(envelope.messageId);
      try {
        await client.connection.withDeadline(Date.now() + timeoutMs, () =>
          client.workflow.start<typeof messageWorkflow>('messageWorkflow', {
            taskQueue,
            workflowId,
            args: [envelope],
            // A message id is answered once, even after its workflow has finished.
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          }),
        );
        return { workflowId, duplicate: false };
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, duplicate: true };
        throw unavailable(`The message could not be accepted: Temporal is unavailable (${(error as Error).message.slice(0, 200)}).`);
      }
    },
  };
}
