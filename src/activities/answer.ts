import { HANDOFF_REQUESTED_REASON } from '../domain/handoff.js';
import type { ChannelSnapshot, MessageWorkflowInput } from '../domain/models.js';
import type { FailureEvents } from '../domain/operational-events.js';
import { pacesParts } from '../domain/pacing.js';
import { wantsVoice } from '../domain/snapshot.js';
import type { AdmissionService } from './admission.js';
import type { Burst } from './burst.js';
import type { Delivery, InlineDelivery } from './delivery.js';
import type { Composed, ReplyInput } from './reply.js';

/** What the one step of a text message did. */
export type Answer =
  /** The channel refuses the message (deleted, token rotated) or does not answer it (assistant off). */
  | {
      kind: 'refused';
      outcome: 'not_answered' | 'failed';
      reason: string;
      turn: boolean;
      voicePrefix?: string;
      events?: FailureEvents;
    }
  /** An earlier message of the chat is still being answered: the workflow is registered to be woken. */
  | { kind: 'waiting'; snapshot: ChannelSnapshot }
  /** The chat is with a person (human handoff): the message is in the chat's history, with no answer. */
  | { kind: 'held'; snapshot: ChannelSnapshot; reason: string }
  /**
   * Admitted, with the turn, and the agent has a "one moment" part: the workflow runs the model
   * step itself, raced against the interim's timer (a step that called the model could not tell it).
   */
  | { kind: 'admitted'; snapshot: ChannelSnapshot }
  /**
   * The reply is stored; with `delivery`, its parts' first attempts were made too (only the first
   * part's when the parts are paced: `partLengths` then gives the workflow the pauses before the
   * rest). `handoff`: the reply is the agent's handoff text, the model having handed the chat to a person.
   */
  | {
      kind: 'answered';
      snapshot: ChannelSnapshot;
      partCount: number;
      delivery?: InlineDelivery;
      partLengths?: number[];
      handoff?: true;
    }
  /** The turn is there, and the channel coalesces bursts: the workflow waits out the window, then `answerInBurst`. */
  | { kind: 'coalescing'; snapshot: ChannelSnapshot }
  /** Absorbed into a later message of its burst (kept in the history, not answered on its own). */
  | { kind: 'coalesced'; snapshot: ChannelSnapshot; answeredBy: string }
  /** The reply was written but dropped unsent: a newer message of the chat is there. */
  | { kind: 'superseded'; snapshot: ChannelSnapshot; partCount: number; answeredBy: string };

/**
 * The whole of a text message in one step when nothing stands in the way: admission, the model
 * call, the reply stored and, when the channel has no reply delay and no speech, the first
 * attempt of every part. The common case is then one activity between the workflow's start and
 * its end; anything else (a wait for the turn, a delay, a retry, speech) goes back to the
 * workflow. Every part of it is safe to repeat, as each of the steps it stands for is.
 */
export function createAnswerActivities(
  admission: AdmissionService,
  compose: (input: ReplyInput) => Promise<Composed>,
  delivery: Delivery,
  bursts: {
    burst: Burst;
    recordUnanswered: (input: { messageId: string; chatId: string; voicePrefix?: string }) => Promise<void>;
  },
) {
  const { burst } = bursts;

  /**
   * The reply written, and its parts' first attempts made when nothing (a delay, speech, a newer
   * message making it stale) comes between; when the agent has a "one moment" part, the workflow
   * runs the model step itself instead (`admitted`).
   */
  async function replyAndDeliver(input: MessageWorkflowInput, snapshot: ChannelSnapshot): Promise<Answer> {
    if (snapshot.interim !== undefined) return { kind: 'admitted', snapshot };
    const { messageId, chatId } = input;
    const composed = await compose({
      messageId,
      chatId,
      agentId: snapshot.agentId,
      voicePrefix: snapshot.voicePrefix,
      maxMessageLength: snapshot.maxMessageLength,
    });
    if ('held' in composed) return { kind: 'held', snapshot, reason: composed.held };
    const { partLengths, writtenBefore } = composed;
    const partCount = partLengths.length;
    const handoff = composed.handoff ? ({ handoff: true } as const) : {};
    // Paced parts: the workflow waits before each part after the first, so it needs their lengths.
    const paced = pacesParts(snapshot, partCount);
    const lengths = paced ? { partLengths } : {};
    if (snapshot.replyDelaySeconds > 0 || wantsVoice(snapshot, input.message))
      return { kind: 'answered', snapshot, partCount, ...lengths, ...handoff };
    // A handoff reply is never stale: it tells the user a person is coming, and the chat is paused.
    if (snapshot.supersedeStaleReplies && !composed.handoff) {
      const answeredBy = await burst.dropIfStale(input);
      if (answeredBy !== undefined) return { kind: 'superseded', snapshot, partCount, answeredBy };
    }
    const delivered = await delivery.deliverAtOnce({
      messageId,
      chatId,
      channelId: snapshot.channelId,
      url: snapshot.replyWebhookUrl,
      partCount,
      retryScheduleSeconds: snapshot.retryScheduleSeconds,
      mayHaveSent: writtenBefore,
      finish: {
        status: 'delivered',
        lineSeq: input.lineSeq,
        ...(composed.handoff ? { reason: HANDOFF_REQUESTED_REASON } : {}),
      },
      ...(paced ? { upTo: 1 } : {}),
    });
    return { kind: 'answered', snapshot, partCount, delivery: delivered, ...lengths, ...handoff };
  }

  return {
    async answerMessage(input: MessageWorkflowInput): Promise<Answer> {
      const admitted = await admission.admit(input);
      if (admitted.outcome !== 'accepted') {
        const { outcome, reason, turn } = admitted;
        return {
          kind: 'refused',
          outcome,
          reason,
          turn,
          ...(admitted.voicePrefix !== undefined ? { voicePrefix: admitted.voicePrefix } : {}),
          ...(admitted.events !== undefined ? { events: admitted.events } : {}),
        };
      }
      const { snapshot } = admitted;
      if (!admitted.turn) return { kind: 'waiting', snapshot };
      if (snapshot.coalesceWindowSeconds) return { kind: 'coalescing', snapshot };
      return replyAndDeliver(input, snapshot);
    },

    /**
     * A text message of a coalescing channel, in its turn, once its window is over: absorbed into
     * the later message of its chat that arrived within the window (kept in the history, not
     * answered), or answered as `answerMessage` would (with whatever arrived before it in the history).
     */
    async answerInBurst(input: MessageWorkflowInput & { snapshot: ChannelSnapshot }): Promise<Answer> {
      const { snapshot, ...message } = input;
      const answeredBy = await burst.absorbedInto(message, snapshot.coalesceWindowSeconds ?? 0);
      if (answeredBy === undefined) return replyAndDeliver(message, snapshot);
      await bursts.recordUnanswered({
        messageId: message.messageId,
        chatId: message.chatId,
        voicePrefix: snapshot.voicePrefix,
      });
      return { kind: 'coalesced', snapshot, answeredBy };
    },
  };
}
