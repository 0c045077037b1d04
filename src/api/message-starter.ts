import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { ChatLine } from '../chat-line/line.js';
import { messageWorkflowId } from '../domain/ids.js';
import type { InboundEnvelope, MessageWorkflowInput, ModelStep } from '../domain/models.js';
import type { Logger } from '../lib/logger.js';
import type { messageWorkflow } from '../workflows/message.js';
import { startSearchAttributes } from '../workflows/search-attributes.js';
import { unavailable } from './errors.js';
import type { MessageStarter } from './routes/webhook.js';

/**
 * Accepts a message: claims its place in its chat's line (one insert into MongoDB; this fixes the
 * order in which the chat's messages are answered: the order they were accepted in, so a platform
 * that waits for each 200 gets its replies in its order), then starts its workflow. The answer is
 * 200 only once Temporal has durably recorded the start. `modelStep` (MODEL_STEP, default `local`)
 * goes into the workflow's input, where its start event records it.
 */
export function createMessageStarter(
  client: Client,
  taskQueue: string,
  line: ChatLine,
  options: { timeoutMs?: number; logger?: Logger; modelStep?: ModelStep } = {},
): MessageStarter {
  const modelStep = options.modelStep ?? 'local';
  // A client platform is waiting: past this, answer 503 (it will retry) rather than hang.
  const timeoutMs = options.timeoutMs ?? 5_000;
  return {
    async start(envelope: InboundEnvelope) {
      const workflowId = messageWorkflowId(envelope.messageId);
      const deadline = Date.now() + timeoutMs;
      let lineSeq: number;
      try {
        lineSeq = await line.claim(envelope.chatId, { messageId: envelope.messageId, workflowId });
      } catch (error) {
        options.logger?.warn(
          { messageId: envelope.messageId, err: String(error).slice(0, 300) },
          'could not claim a place in the chat; answering 503',
        );
        throw unavailable('The message could not be accepted: the database is unavailable.');
      }
      const input: MessageWorkflowInput = { ...envelope, lineSeq, modelStep };
      try {
        await client.connection.withDeadline(deadline, () =>
          client.workflow.start<typeof messageWorkflow>('messageWorkflow', {
            taskQueue,
            workflowId,
            args: [input],
            // Its place, for whoever looks into a stuck line (src/chat-line/line.ts).
            memo: { lineSeq },
            // Its channel, chat and status, for `temporal workflow list --query` (docs/operations.md).
            typedSearchAttributes: startSearchAttributes(envelope),
            // A message id is answered once, even after its workflow has finished.
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          }),
        );
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) {
          // A retried POST: its first copy holds its own place; this one will never have an owner.
          await line.abandon(envelope.chatId, lineSeq).catch((releaseError: unknown) => {
            options.logger?.warn(
              { messageId: envelope.messageId, err: String(releaseError).slice(0, 300) },
              'could not void a duplicate place; it is voided when found',
            );
          });
          return { workflowId, duplicate: true };
        }
        // Under overload the start may have been recorded even though its answer came too late:
        // then the message is accepted, and a 503 would invite a retry that becomes a second message.
        if (!(await startedAnyway(client, workflowId))) {
          options.logger?.warn(
            { messageId: envelope.messageId, err: withCause(error).slice(0, 300) },
            'workflow start failed; answering 503',
          );
          // The place claimed is left as it is: whether the start was recorded is not known (a
          // describe that failed proves nothing), and voiding a place whose workflow runs would let
          // the next message go beside it. A workflow that never started is found missing by the
          // message waiting behind it, which voids the place (src/chat-line/line.ts); the
          // platform's retry of this POST voids it at once, as its own earlier place.
          throw unavailable('The message could not be accepted: Temporal is unavailable.');
        }
      }
      return { workflowId, duplicate: false };
    },
  };
}

/**
 * The error and the server's reason under it: the client's "Failed to start Workflow" wraps what
 * Temporal said (e.g. "no mapping defined for search attribute ChatRelayChatId").
 */
function withCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}

async function startedAnyway(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.connection.withDeadline(Date.now() + 1_000, () => client.workflow.getHandle(workflowId).describe());
    return true;
  } catch {
    return false;
  }
}
