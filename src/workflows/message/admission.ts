import type { ChannelSnapshot } from '../../domain/models.js';
import type { FailureEvents } from '../../domain/operational-events.js';
import { admitMessage, recordUnansweredMessage } from '../activity-proxies.js';
import type { MessageResult, MessageRun } from './run.js';

/** Why a message gets no answer: refused by its channel, or not answered (the assistant is off). */
export interface Refusal {
  outcome: 'not_answered' | 'failed';
  reason: string;
  /** Whether admission found the turn there. */
  turn: boolean;
  voicePrefix?: string;
  events?: FailureEvents;
}

/** Nothing is answered, but a message not answered is kept: in the chat's history, in its turn. */
export async function refuse(run: MessageRun, refusal: Refusal): Promise<MessageResult> {
  // Admission read the line: the turn is there (or, when not, closing reads it again).
  if (refusal.turn) run.turn.grant();
  if (refusal.outcome === 'not_answered') {
    run.enter('waiting_turn');
    await run.turn.wait();
    await recordUnansweredMessage({
      messageId: run.input.messageId,
      chatId: run.input.chatId,
      ...(refusal.voicePrefix !== undefined ? { voicePrefix: refusal.voicePrefix } : {}),
    });
  }
  return run.close(refusal.outcome, 0, refusal.reason, { events: refusal.events });
}

/** Admission as a step of its own: the message's settings (and the turn, when it is there already), or its refusal. */
export async function admit(run: MessageRun): Promise<{ settings: ChannelSnapshot } | { refused: MessageResult }> {
  run.enter('validating');
  const admission = await admitMessage(run.input);
  if (admission.outcome !== 'accepted') return { refused: await refuse(run, admission) };
  if (admission.turn) run.turn.grant();
  return { settings: admission.snapshot };
}

/**
 * The settings of a text message whose one step failed before admission could say (the fallback
 * reply needs them): admission again, as a step of its own, then the turn.
 */
export async function admitAfterFailure(
  run: MessageRun,
): Promise<{ settings: ChannelSnapshot } | { refused: MessageResult }> {
  const admission = await admit(run);
  if ('refused' in admission) return admission;
  run.enter('waiting_turn');
  await run.turn.wait();
  return admission;
}
