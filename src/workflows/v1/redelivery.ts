import { setHandler } from '@temporalio/workflow';
import { progressQuery, type MessageProgress } from './definitions.js';
import { deliverParts, store } from './delivery.js';
import { chatTurn } from './turns.js';

export interface RedeliveryInput {
  messageId: string;
  chatId: string;
  channelId: string;
  partCount: number;
  fromPart: number;
  redelivery: number;
  retryScheduleSeconds: number[];
}

/**
 * Sends a message's stored parts again, from one part on, to the channel's current reply URL,
 * without generating a new reply. It takes its turn in the chat like any message, so it never
 * interleaves with another reply of the same chat.
 */
export async function redeliveryWorkflow(
  input: RedeliveryInput,
): Promise<{ status: 'delivered' | 'failed'; reason?: string }> {
  const progress: MessageProgress = { messageId: input.messageId, stage: 'waiting_turn', partCount: input.partCount };
  setHandler(progressQuery, () => progress);
  const turn = chatTurn(input.chatId, `${input.messageId}:redelivery:${input.redelivery}`);
  await turn.request();
  try {
    await turn.wait();
    const result = await deliverParts(
      {
        messageId: input.messageId,
        channelId: input.channelId,
        partCount: input.partCount,
        fromPart: input.fromPart,
        retryScheduleSeconds: input.retryScheduleSeconds,
        redelivery: input.redelivery,
      },
      progress,
    );
    const status = result.error === undefined ? 'delivered' : 'failed';
    progress.stage = status;
    await store.finishMessage({
      messageId: input.messageId,
      status,
      partsDelivered: input.fromPart + result.delivered,
      ...(result.error !== undefined ? { reason: result.error } : {}),
    });
    return { status, ...(result.error !== undefined ? { reason: result.error } : {}) };
  } finally {
    await turn.release();
  }
}
