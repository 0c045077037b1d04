import type { FinalStatus } from '../domain/models.js';
import type { FailureEvents } from '../domain/operational-events.js';
import { loggableReason } from '../lib/logger.js';
import { activityLogger, type ActivityDeps } from './deps.js';
import { createEventEmitter } from './events.js';

/** How a message (or a redelivery of it) ends; its place in the chat's line is released with it. */
export interface Finish {
  status: FinalStatus;
  reason?: string;
  partsDelivered: number;
  lineSeq: number;
  /**
   * The message holds the chat's turn (it delivers a reply, or a step read the line and found the
   * turn): its place ends `finished`. Absent: the line is read to tell (a message refused or failed
   * before its turn came ends its place `void`, and never moves the turn past an earlier place).
   */
  turnHeld?: boolean;
  /** Where a failure is reported (the snapshot's events URL); absent when the channel has none. */
  events?: FailureEvents;
  /** Coalesced or superseded: the message whose reply answers this one. */
  answeredBy?: string;
}

/**
 * What closes a message, whichever step ends it (the last part's delivery, or a failure): its
 * outcome recorded, then the chat's turn handed on, then, when the message failed and its channel
 * has an events URL, `message.failed` emitted. Each is once-only, so it is safe to repeat.
 */
export function createFinisher(deps: ActivityDeps) {
  const events = createEventEmitter(deps);
  return async function finishAndRelease(
    messageId: string,
    chatId: string,
    finish: Finish,
    redelivery?: number,
  ): Promise<void> {
    const { events: target, turnHeld, ...outcome } = finish;
    const first = await deps.stores.messages.saveOutcome(messageId, {
      ...outcome,
      ...(redelivery !== undefined ? { redelivery } : {}),
    });
    await deps.line.end(chatId, finish.lineSeq, turnHeld === true ? { turnHeld } : {});
    if (finish.status === 'failed' && target !== undefined && redelivery === undefined) {
      await events.messageFailed(target, {
        message_id: messageId,
        chat_id: chatId,
        client_id: target.clientId,
        reason: finish.reason ?? 'the message failed',
      });
    }
    // A re-run (its outcome there already) hands the turn on again, safe to repeat, but counts nothing twice.
    if (!first) return;
    deps.report?.messageFinished(finish.status);
    const reason = finish.reason === undefined ? undefined : loggableReason(finish.reason);
    activityLogger(deps.logger).info({ messageId, status: finish.status, reason }, 'message finished');
  };
}
