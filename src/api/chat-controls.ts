import type { Client } from '@temporalio/client';
import type { ChatLine } from '../chat-line/line.js';
import type { ChatControlResponse } from './contracts/handoff.js';
import { chatControlWorkflowId } from '../domain/ids.js';
import { randomId } from '../lib/secrets.js';
import { chatOfChannel } from '../stores/chats.js';
import type { Stores } from '../stores/index.js';
import type { ChatControlInput, chatControlWorkflow } from '../workflows/chat-control.js';
import { notFound, unavailable } from './errors.js';

export interface ChatControlDeps {
  stores: Pick<Stores, 'channels' | 'chats'>;
  client: Client;
  line: ChatLine;
  taskQueue: string;
  /** How long the request waits for the change to apply before it answers `applied: false` (default 5 s). */
  waitMs?: number;
}

/**
 * An admin's pause and resume of a chat's assistant (human handoff). The change takes a place in
 * the chat's line, like a message, and is written in its turn by a workflow
 * (src/workflows/chat-control.ts): the chat record has one writer at a time.
 */
export function createChatControls(deps: ChatControlDeps) {
  const { stores, client } = deps;
  const waitMs = deps.waitMs ?? 5_000;

  async function control(channelId: string, chatId: string, paused: boolean): Promise<ChatControlResponse> {
    const channel = await stores.channels.get(channelId);
    if (!channel) throw notFound('Channel');
    const chat = await stores.chats.get(chatId);
    if (!chat || !chatOfChannel(chat, channel.id)) throw notFound('Chat');
    const workflowId = chatControlWorkflowId(chatId, paused, randomId(8));
    const lineSeq = await deps.line.claim(chatId, { messageId: workflowId, workflowId });
    const input: ChatControlInput = { chatId, lineSeq, paused, requestedAt: new Date().toISOString() };
    let handle;
    try {
      handle = await client.workflow.start<typeof chatControlWorkflow>('chatControlWorkflow', {
        taskQueue: deps.taskQueue,
        workflowId,
        args: [input],
        // The line reads a workflow's place from its memo (src/chat-line/temporal.ts).
        memo: { lineSeq },
      });
    } catch {
      // The place is left: whether the start was recorded is not known. A control that never
      // started is found missing by whoever waits behind it, which voids the place.
      throw unavailable("The chat's assistant could not be paused or resumed: Temporal is unavailable.");
    }
    let applied = false;
    try {
      // Usually at once; behind a message being answered, once it is done.
      await client.connection.withDeadline(Date.now() + waitMs, () => handle.result());
      applied = true;
    } catch {
      // Not yet: the workflow applies it in its turn.
    }
    return { chat_id: chatId, assistant_paused: paused, applied, workflow_id: workflowId };
  }

  return {
    pause: (channelId: string, chatId: string) => control(channelId, chatId, true),
    resume: (channelId: string, chatId: string) => control(channelId, chatId, false),
  };
}

export type ChatControls = ReturnType<typeof createChatControls>;
