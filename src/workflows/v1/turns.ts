import {
  condition,
  getExternalWorkflowHandle,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/v1/index.js';
import { chatTurnsWorkflowId } from '../../domain/ids.js';
import { releaseTurnSignal, turnGrantedSignal } from './definitions.js';

/** A short call to Temporal itself; a local activity keeps it off the task queue round trip. */
const local = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds' },
});

/** This workflow's place in its chat's line (see chatTurnsWorkflow). */
export function chatTurn(chatId: string, messageId: string) {
  let granted = false;
  setHandler(turnGrantedSignal, () => {
    granted = true;
  });
  return {
    request: () => local.requestChatTurn({ chatId, messageId, workflowId: workflowInfo().workflowId }),
    /**
     * Waits for the turn. The API queued the message when it accepted it; should that call have
     * failed, the workflow queues itself after a while (the sequencer keeps a first place).
     */
    async wait(): Promise<void> {
      if (await condition(() => granted, '1 minute')) return;
      await local.requestChatTurn({ chatId, messageId, workflowId: workflowInfo().workflowId });
      await condition(() => granted);
    },
    async release(): Promise<void> {
      try {
        await getExternalWorkflowHandle(chatTurnsWorkflowId(chatId)).signal(releaseTurnSignal, { messageId });
      } catch {
        // The sequencer is gone (it only ends when idle): there is nothing to release.
      }
    },
  };
}
