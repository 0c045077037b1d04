import type { FinalStatus } from '../domain/models.js';
import { activityLogger, type ActivityDeps } from './deps.js';

/** How a message (or a redelivery of it) ends; its place in the chat's line is released with it. */
export interface Finish {
  status: FinalStatus;
  reason?: string;
  partsDelivered: number;
  lineSeq: number;
  /** Coalesced or superseded: the message whose reply answers this one. */
  answeredBy?: string;
}

/**
 * What closes a message, whichever step ends it (the last part's delivery, or a failure): its
 * outcome recorded, then the chat's turn handed on. Each write is once-only, so it is safe to repeat.
 */
export function createFinisher(deps: ActivityDeps) {
  return async function finishAndRelease(
    messageId: string,
    chatId: string,
    finish: Finish,
    redelivery?: number,
  ): Promise<void> {
    await deps.stores.messages.saveOutcome(messageId, {
      ...finish,
      ...(redelivery !== undefined ? { redelivery } : {}),
    });
    await deps.line.release(chatId, finish.lineSeq);
    deps.report?.messageFinished(finish.status);
    activityLogger(deps.logger).info({ messageId, status: finish.status, reason: finish.reason }, 'message finished');
  };
}
