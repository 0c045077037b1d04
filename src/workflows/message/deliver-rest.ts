import type { CarriedPlan } from '../delivery.js';
import { deliverParts } from '../delivery.js';
import type { MessageResult, MessageRun } from './run.js';

/** A fresh run of a message whose reply waited long for its paused channel: the rest of the delivery, as planned. */
export async function deliverRest(run: MessageRun, plan: CarriedPlan): Promise<MessageResult> {
  const { progress } = run;
  progress.partCount = plan.partCount;
  const delivered = await deliverParts({ ...plan, longWait: run.pausedWait }, progress);
  const partsDelivered = plan.finish.partsBefore + delivered.delivered;
  const { status, reason } = plan.finish;
  if (!delivered.finished)
    return run.close('failed', partsDelivered, reason ?? delivered.error ?? 'not every part was delivered', {
      events: plan.finish.events,
    });
  run.enter(status);
  return { status, partsDelivered, ...(reason !== undefined ? { reason } : {}) };
}
