import { sleep } from '@temporalio/workflow';
import type { ChannelSnapshot } from '../../domain/models.js';
import { workflowNow } from '../clock.js';
import { modelStep } from './model-step.js';
import type { MessageRun } from './run.js';

/**
 * A message of a coalescing channel, holding its turn: waits out the window after its own receipt
 * (one durable timer, none when the window is already over, as after a wait for the turn), then is
 * either absorbed into a later message of its chat or answered.
 */
export async function afterBurstWindow(run: MessageRun, settings: ChannelSnapshot) {
  const windowEnd = Date.parse(run.input.receivedAt) + (settings.coalesceWindowSeconds ?? 0) * 1000;
  const waitMs = windowEnd - workflowNow();
  if (waitMs > 0) {
    run.enter('waiting_burst');
    await sleep(waitMs);
    run.enter('generating');
  }
  return modelStep(() => run.answerStep.inBurst({ ...run.input, snapshot: settings }));
}
