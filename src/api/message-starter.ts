import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { createTurnsClient } from '../activities/turns-client.js';
import { messageWorkflowId } from '../domain/ids.js';
import type { InboundEnvelope } from '../domain/models.js';
import type { Logger } from '../lib/logger.js';
import type { messageWorkflow } from '../workflows/message.js';
import { unavailable } from './errors.js';
import type { MessageStarter } from './routes/webhook.js';

/**
 * Starts one workflow per message; the answer is 200 only once Temporal has durably recorded it.
 * Then it puts the message in its chat's line, so that the line follows the order in
 * which messages were accepted (a platform that waits for each 200 gets its replies in its order),
 * not the order in which their workflows happen to get going. The workflow asks for its turn
 * again itself; the sequencer keeps a message's first place, so a failed call here loses nothing.
 */
export function createMessageStarter(
  client: Client,
  taskQueue: string,
  options: { timeoutMs?: number; logger?: Logger } = {},
): MessageStarter {
  // A client platform is waiting: past this, answer 503 (it will retry) rather than hang.
  const timeoutMs = options.timeoutMs ?? 5_000;
  const turns = createTurnsClient(client, taskQueue);
  return {
    async start(envelope: InboundEnvelope) {
      const workflowId = messageWorkflowId(envelope.messageId);
      const deadline = Date.now() + timeoutMs;
      try {
        await client.connection.withDeadline(deadline, () =>
          client.workflow.start<typeof messageWorkflow>('messageWorkflow', {
            taskQueue,
            workflowId,
            args: [envelope],
            // A message id is answered once, even after its workflow has finished.
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          }),
        );
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, duplicate: true };
        // Under overload the start may have been recorded even though its answer came too late:
        // then the message is accepted, and a 503 would invite a retry that becomes a second message.
        if (!(await startedAnyway(client, workflowId))) {
          throw unavailable(`The message could not be accepted: Temporal is unavailable (${String((error as Error).message).slice(0, 200)}).`);
        }
      }
      // After the start, so that the sequencer never hands a turn to a workflow that does not exist yet.
      try {
        await client.connection.withDeadline(deadline, () => turns.requestTurn(envelope.chatId, { messageId: envelope.messageId, workflowId }));
      } catch (error) {
        options.logger?.warn({ messageId: envelope.messageId, err: String(error).slice(0, 200) }, 'could not queue the message in its chat; its workflow will');
      }
      return { workflowId, duplicate: false };
    },
  };
}

async function startedAnyway(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.connection.withDeadline(Date.now() + 1_000, () => client.workflow.getHandle(workflowId).describe());
    return true;
  } catch {
    return false;
  }
}
