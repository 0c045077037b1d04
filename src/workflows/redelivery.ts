import { ContinueAsNew, isCancellation, setHandler } from '@temporalio/workflow';
import { checkChatTurn, closeMessage } from './activity-proxies.js';
import { progressQuery, type MessageProgress } from './definitions.js';
import { deliverParts } from './delivery.js';
import { chatLineTurn, continueWithMemo } from '../chat-line/wait.js';
import { enterStage, recordFinalStatus, startProgress } from './progress.js';

export interface RedeliveryInput {
  messageId: string;
  chatId: string;
  channelId: string;
  partCount: number;
  fromPart: number;
  redelivery: number;
  retryScheduleSeconds: number[];
  /** The redelivery's own place in the chat's line, claimed by the API. */
  lineSeq: number;
  /** Set by the workflow itself when a long pause continued it as new: attempts made of part `fromPart`. */
  attemptsMade?: number;
  /** With attemptsMade: part `fromPart` was waiting for the paused channel. */
  paused?: boolean;
}

export interface RedeliveryResult {
  status: 'delivered' | 'failed';
  reason?: string;
}

/**
 * Sends a message's stored parts again, from one part on, to the channel's current reply URL,
 * without generating a new reply. It takes a place in the chat's line like any message, so it
 * never interleaves with another reply of the same chat.
 */
export async function redeliveryWorkflow(input: RedeliveryInput): Promise<RedeliveryResult> {
  const { messageId, chatId, lineSeq } = input;
  const progress = startProgress(messageId, 'waiting_turn', { partCount: input.partCount });
  setHandler(progressQuery, () => progress);
  // A long wait for the turn goes on in a fresh run (src/chat-line/wait.ts): it has done nothing yet.
  const turn = chatLineTurn(chatId, lineSeq, {
    continueAsNew: () => continueWithMemo<typeof redeliveryWorkflow>(input),
  });
  const end = async (
    status: 'delivered' | 'failed',
    partsDelivered: number,
    reason?: string,
  ): Promise<RedeliveryResult> => {
    enterStage(progress, status);
    await closeMessage({
      messageId,
      chatId,
      lineSeq,
      ...(turn.held ? { turnHeld: true } : {}),
      status,
      partsDelivered,
      redelivery: input.redelivery,
      ...(reason !== undefined ? { reason } : {}),
    });
    return { status, ...(reason !== undefined ? { reason } : {}) };
  };
  const result = await redeliver(input, progress, turn, end);
  recordFinalStatus(result.status);
  return result;
}

async function redeliver(
  input: RedeliveryInput,
  progress: MessageProgress,
  turn: ReturnType<typeof chatLineTurn>,
  end: (status: 'delivered' | 'failed', partsDelivered: number, reason?: string) => Promise<RedeliveryResult>,
): Promise<RedeliveryResult> {
  const { messageId, chatId, lineSeq } = input;
  try {
    if ((await checkChatTurn({ chatId, lineSeq })).granted) turn.grant();
    await turn.wait();
    const result = await deliverParts(
      {
        messageId,
        chatId,
        channelId: input.channelId,
        partCount: input.partCount,
        fromPart: input.fromPart,
        ...(input.attemptsMade !== undefined ? { attemptsMade: input.attemptsMade } : {}),
        ...(input.paused ? { paused: true } : {}),
        retryScheduleSeconds: input.retryScheduleSeconds,
        redelivery: input.redelivery,
        // Speech made for the first delivery is sent again with its part.
        withAudio: true,
        finish: { status: 'delivered', lineSeq, turnHeld: true, partsBefore: input.fromPart },
        // A long pause goes on in a fresh run, from the part that waits.
        longWait: {
          continueAsNew: (rest) =>
            continueWithMemo<typeof redeliveryWorkflow>({
              ...input,
              fromPart: rest.fromPart,
              ...(rest.attemptsMade !== undefined ? { attemptsMade: rest.attemptsMade } : {}),
              ...(rest.paused ? { paused: true } : {}),
            }),
        },
      },
      progress,
    );
    if (result.finished) {
      enterStage(progress, 'delivered');
      return { status: 'delivered' };
    }
    return await end('failed', input.fromPart + result.delivered, result.error ?? 'not every part was delivered');
  } catch (error) {
    if (isCancellation(error) || error instanceof ContinueAsNew) throw error;
    return end('failed', input.fromPart, error instanceof Error ? error.message : String(error));
  }
}
