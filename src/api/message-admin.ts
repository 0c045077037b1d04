import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { messageWorkflowId } from '../domain/ids.js';
import type { MessageStatusResponse, MessageSummary } from '../domain/message-schemas.js';
import type { MessageStage } from '../domain/models.js';
import type { MessageDoc } from '../stores/collections.js';
import type { Stores } from '../stores/index.js';
import { progressQuery, resumeDeliverySignal, type MessageProgress } from '../workflows/definitions.js';
import type { RedeliveryInput, redeliveryWorkflow } from '../workflows/redelivery.js';
import { conflict, notFound } from './errors.js';

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

export interface MessageAdminDeps {
  stores: Pick<Stores, 'messages' | 'channels'>;
  client: Client;
  taskQueue: string;
  publicBaseUrl: string;
}

/** The workflow doing the message's work right now: its latest redelivery, else its own. */
const activeWorkflowId = (message: MessageDoc): string => message.redelivery_workflow_id ?? message.workflow_id;

/**
 * Message status, redelivery and channel resume. Status comes from MongoDB, overlaid with the
 * running workflow's own progress (by query) while it runs, so a pending retry shows its time.
 */
export function createMessageAdmin(deps: MessageAdminDeps) {
  const { stores, client } = deps;

  async function liveProgress(message: MessageDoc): Promise<MessageProgress | undefined> {
    if (message.status !== 'accepted' && message.status !== 'processing') return undefined;
    try {
      return await client.connection.withDeadline(Date.now() + 2_000, () => client.workflow.getHandle(activeWorkflowId(message)).query(progressQuery));
    } catch {
      return undefined; // finished meanwhile, or Temporal is slow: MongoDB's record stands
    }
  }

  async function requireMessage(id: string): Promise<MessageDoc> {
    const message = await stores.messages.get(id);
    if (!message) throw notFound('Message');
    return message;
  }

  return {
    async status(id: string): Promise<MessageStatusResponse> {
      const message = await requireMessage(id);
      const [parts, attempts, live] = await Promise.all([stores.messages.parts(id), stores.messages.attempts(id), liveProgress(message)]);
      const stage: MessageStage = live?.stage ?? message.stage;
      const delivering = stage === 'delivering' || stage === 'retry_pending' || stage === 'paused';
      const currentPart = live?.partIndex !== undefined ? live.partIndex + 1 : delivering ? (message.parts_delivered ?? 0) + 1 : null;
      return {
        id: message._id,
        workflow_id: activeWorkflowId(message),
        channel_id: message.channel_id,
        page_id: message.page_id,
        client_id: message.client_id,
        status: message.status,
        stage,
        current_part: delivering ? currentPart : null,
        part_count: message.part_count ?? null,
        parts_delivered: parts.filter((part) => part.delivered_at).length,
        next_retry_at: live ? (live.nextRetryAt ?? null) : stage === 'retry_pending' ? iso(message.next_retry_at) : null,
        last_error: live?.lastError ?? message.last_error ?? null,
        reason: message.reason ?? null,
        live: live !== undefined,
        received_at: message.received_at.toISOString(),
        updated_at: message.updated_at.toISOString(),
        completed_at: iso(message.completed_at),
        parts: parts.map((part) => ({
          part: part.index + 1,
          delivery_id: part.delivery_id,
          characters: part.text.length,
          images: part.images ?? [],
          file: part.file ?? null,
          audio_url: part.audio_blob_id ? `${deps.publicBaseUrl}/media/${part.audio_blob_id}` : null,
          delivered_at: iso(part.delivered_at),
        })),
        attempts: attempts.map((attempt) => ({
          part: attempt.part_index + 1,
          attempt: attempt.attempt,
          ...(attempt.redelivery !== undefined ? { redelivery: attempt.redelivery } : {}),
          at: attempt.at.toISOString(),
          duration_ms: attempt.duration_ms,
          result: attempt.result,
          ...(attempt.http_status !== undefined ? { http_status: attempt.http_status } : {}),
          ...(attempt.error !== undefined ? { error: attempt.error } : {}),
        })),
      };
    },

    async listForChannel(channelId: string, options: { limit: number; before?: string }): Promise<{ data: MessageSummary[]; next_before: string | null }> {
      if (!(await stores.channels.get(channelId))) throw notFound('Channel');
      const docs = await stores.messages.listByChannel(channelId, {
        limit: options.limit + 1,
        ...(options.before ? { before: new Date(options.before) } : {}),
      });
      const page = docs.slice(0, options.limit);
      return {
        data: page.map((message) => ({
          id: message._id,
          client_id: message.client_id,
          status: message.status,
          stage: message.stage,
          part_count: message.part_count ?? null,
          parts_delivered: message.parts_delivered ?? 0,
          reason: message.reason ?? null,
          received_at: message.received_at.toISOString(),
          completed_at: iso(message.completed_at),
        })),
        next_before: docs.length > options.limit ? (page.at(-1)?.created_at.toISOString() ?? null) : null,
      };
    },

    /** Sends stored parts again, from `fromPart` (from 1), in the chat's turn, to the channel's current URL. */
    async redeliver(id: string, fromPart: number | undefined) {
      const message = await requireMessage(id);
      if (message.status === 'accepted' || message.status === 'processing') {
        throw conflict('The message is still being processed; redeliver it once it has finished.');
      }
      const partCount = message.part_count ?? 0;
      if (partCount === 0 || !message.snapshot) throw conflict('The message has no stored reply to deliver.');
      const delivered = message.parts_delivered ?? 0;
      const start = fromPart ?? delivered + 1;
      if (fromPart === undefined && delivered >= partCount) throw conflict('Every part was delivered; pass from_part to send parts again.');
      if (start > partCount) throw conflict(`The reply has ${partCount} part(s); from_part must be at most ${partCount}.`);
      const redelivery = await stores.messages.nextRedelivery(id);
      const workflowId = `${messageWorkflowId(id)}-redelivery-${redelivery}`;
      const input: RedeliveryInput = {
        messageId: id,
        chatId: message.chat_id,
        channelId: message.channel_id,
        partCount,
        fromPart: start - 1,
        redelivery,
        retryScheduleSeconds: message.snapshot.retryScheduleSeconds,
      };
      try {
        await client.workflow.start<typeof redeliveryWorkflow>('redeliveryWorkflow', { taskQueue: deps.taskQueue, workflowId, args: [input] });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
      await stores.messages.update(id, { status: 'processing', stage: 'waiting_turn', redelivery_workflow_id: workflowId });
      return { message_id: id, workflow_id: workflowId, from_part: start, part_count: partCount };
    },

    /** Lifts a channel's pause (after a 410) and wakes every reply that was waiting, each in its chat's order. */
    async resumeChannel(channelId: string) {
      const channel = await stores.channels.update(channelId, { delivery_paused: false, paused_reason: '' });
      if (!channel) throw notFound('Channel');
      const waiting = await stores.messages.findByStage(channelId, 'paused');
      let resumed = 0;
      for (const message of waiting) {
        try {
          await client.workflow.getHandle(activeWorkflowId(message)).signal(resumeDeliverySignal);
          resumed += 1;
        } catch {
          // Finished meanwhile: nothing to wake. Workflows also re-check the channel by themselves.
        }
      }
      return { channel_id: channelId, resumed_messages: resumed };
    },
  };
}

export type MessageAdmin = ReturnType<typeof createMessageAdmin>;
