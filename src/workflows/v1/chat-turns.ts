import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/v1/index.js';
import { nonRetryableErrorTypes } from '../../domain/errors.js';
import { releaseTurnSignal, requestTurnSignal, turnGrantedSignal, type TurnRequest } from './definitions.js';

const checks = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes },
});

export interface ChatTurnsState {
  queue: TurnRequest[];
  holder?: TurnRequest;
}

/** How long a chat's sequencer stays open with nothing to do before it ends (a new message starts it again). */
const IDLE_TIMEOUT = '5 minutes';
/** How often a long turn is checked: a holder that has ended without releasing its turn loses it. */
const HOLDER_CHECK_INTERVAL = '10 minutes';
const MAX_TURNS_PER_RUN = 200;

/**
 * One per chat: hands out turns, one message at a time, in the order their requests arrived, so
 * that replies are generated with every earlier message in the history and their parts never
 * interleave. Messages of other chats have sequencers of their own and never wait for this one.
 * Reached by signal-with-start (Temporal's mutex pattern); continues as new to keep history short.
 */
export async function chatTurnsWorkflow(state: ChatTurnsState = { queue: [] }): Promise<void> {
  const queue = [...state.queue];
  let holder = state.holder;
  let served = 0;

  setHandler(requestTurnSignal, (request) => {
    // A retried request (the activity that sent it ran twice) keeps its first place.
    if (holder?.messageId === request.messageId || queue.some((item) => item.messageId === request.messageId)) return;
    queue.push(request);
  });
  setHandler(releaseTurnSignal, ({ messageId }) => {
    if (holder?.messageId === messageId) holder = undefined;
    else {
      // Released before its turn came (it ended early): leave the line.
      const index = queue.findIndex((item) => item.messageId === messageId);
      if (index >= 0) queue.splice(index, 1);
    }
  });

  for (;;) {
    if (holder === undefined) {
      const hasWork = await condition(() => queue.length > 0, IDLE_TIMEOUT);
      if (!hasWork) return; // idle: end; signals that raced with this are delivered to a new run by Temporal
      holder = queue.shift()!;
      served += 1;
      await getExternalWorkflowHandle(holder.workflowId)
        .signal(turnGrantedSignal)
        .catch(() => {
          // The holder is gone (finished, terminated): it cannot release, so skip it.
          holder = undefined;
        });
    }
    while (holder !== undefined) {
      const current: TurnRequest = holder;
      const released = await condition(() => holder?.messageId !== current.messageId, HOLDER_CHECK_INTERVAL);
      if (!released && !(await checks.isWorkflowRunning({ workflowId: current.workflowId }))) holder = undefined;
    }
    if (served >= MAX_TURNS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof chatTurnsWorkflow>({ queue, ...(holder ? { holder } : {}) });
    }
  }
}
