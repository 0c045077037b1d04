import { Context } from '@temporalio/activity';
import type { TurnState } from './line.js';
import type { ActivityDeps } from '../activities/deps.js';
import { createFinisher, type Finish } from '../activities/finish.js';

/** The chat's line: asking for the turn, and ending a message (which hands the turn on). */
export function createLineActivities(deps: ActivityDeps) {
  const finishAndRelease = createFinisher(deps);
  return {
    /**
     * Whether the message's turn in its chat has come. With `inspect` (a look that came due
     * without a hint), a place before it whose workflow ended without ending it, or was never
     * started, is voided on the way.
     */
    async checkChatTurn(input: { chatId: string; lineSeq: number; inspect?: boolean }): Promise<TurnState> {
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
      return deps.line.turn(input.chatId, input.lineSeq, workflowId, input.inspect ?? true);
    },

    /** Records how the message (or a redelivery) ended and hands the chat's turn on. Safe to repeat. */
    async closeMessage(input: Finish & { messageId: string; chatId: string; redelivery?: number }): Promise<void> {
      const { messageId, chatId, redelivery, ...finish } = input;
      await finishAndRelease(messageId, chatId, finish, redelivery);
    },
  };
}
