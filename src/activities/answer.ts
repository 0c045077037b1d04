import { HANDOFF_REQUESTED_REASON } from '../domain/handoff.js';
import type { ChannelSnapshot, MessageWorkflowInput } from '../domain/models.js';
import type { FailureEvents } from '../domain/operational-events.js';
import {
  answerStepShare,
  DEFAULT_ANSWER_STEP_BUDGET_MS,
  pacesReply,
  replyPlan,
  writingPlan,
} from '../domain/reply-plan.js';
import type { AdmissionService } from './admission.js';
import type { Burst } from './burst.js';
import type { Delivery, InlineDelivery } from './delivery.js';
import type { Composed, ReplyInput } from './reply.js';

/**
 * What the answer step did once the message had its turn: the reply written (and its plan's first
 * steps taken), or why there is none of its own.
 */
export type AnswerInTurn =
  /** The chat is with a person (human handoff): the message is in the chat's history, with no answer. */
  | { kind: 'held'; snapshot: ChannelSnapshot; reason: string }
  /**
   * Admitted, with the turn, but the reply is not written: the agent has a "one moment" part, so
   * the workflow writes it, raced against the interim's timer (a step that called the model could
   * not tell it). See writingPlan (src/domain/reply-plan.ts).
   */
  | { kind: 'reply_to_write'; snapshot: ChannelSnapshot }
  /**
   * The reply is written; with `delivery`, the step also took the first steps of its plan (the
   * stale-reply check, the first attempts of the parts up to the first step the workflow must take:
   * src/domain/reply-plan.ts). `partLengths`: given when the plan paces the parts, for the pauses
   * the workflow waits. `handoff`: the reply is the agent's handoff text, the model having handed
   * the chat to a person.
   */
  | {
      kind: 'answered';
      snapshot: ChannelSnapshot;
      partCount: number;
      delivery?: InlineDelivery;
      partLengths?: number[];
      handoff?: true;
    }
  /** The reply was written but dropped unsent: a newer message of the chat is there. */
  | { kind: 'superseded'; snapshot: ChannelSnapshot; partCount: number; answeredBy: string };

/** What the answer step of a coalescing channel's message did once its burst window was over. */
export type AnswerAfterBurst =
  | AnswerInTurn
  /** Absorbed into a later message of its burst (kept in the history, not answered on its own). */
  | { kind: 'coalesced'; snapshot: ChannelSnapshot; answeredBy: string };

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
  /** An earlier message of the chat is still being answered: the workflow waits for a hint (or its own look), then asks again. */
  | { kind: 'waiting_turn'; snapshot: ChannelSnapshot }
  /** The turn is there, and the channel coalesces bursts: the workflow waits out the window, then `answerInBurst`. */
  | { kind: 'coalescing'; snapshot: ChannelSnapshot }
  | AnswerInTurn;

/**
 * The whole of a text message in one step when nothing stands in the way: admission, the model
 * call, the reply stored and the steps of its plan that need no workflow (src/domain/reply-plan.ts):
 * with no reply delay, no speech and no pacing, the first attempt of every part. The common case is
 * then one activity between the workflow's start and its end; anything else (a wait for the turn, a
 * delay, a retry, speech) goes back to the workflow, which follows the same plan. Every part of it
 * is safe to repeat, as each of the steps it stands for is.
 *
 * `budgetMs` (ANSWER_STEP_BUDGET_MS): no part's POST starts later than this after the step
 * started; the parts left go to the workflow's delivery steps, one step each. A long reply to a
 * slow receiver then never keeps the step up to its timeout, whose retry would send the parts
 * still in flight a second time (docs/reliability.md, 23.8).
 */
export function createAnswerActivities(
  admission: AdmissionService,
  compose: (input: ReplyInput, run?: { firstRun: boolean }) => Promise<Composed>,
  delivery: Delivery,
  bursts: {
    burst: Burst;
    recordUnanswered: (input: { messageId: string; chatId: string; voicePrefix?: string }) => Promise<void>;
  },
  budgetMs: number = DEFAULT_ANSWER_STEP_BUDGET_MS,
) {
  const { burst } = bursts;

  /**
   * The reply written, and the first steps of its plan taken (answerStepShare); when the agent has
   * a "one moment" part, the workflow writes the reply instead (`reply_to_write`). `firstRun`:
   * admission inserted the message just now, so nothing of it is stored to look up.
   */
  async function replyAndDeliver(
    input: MessageWorkflowInput,
    snapshot: ChannelSnapshot,
    startedAt: number,
    firstRun = false,
  ): Promise<AnswerInTurn> {
    if (writingPlan(snapshot).interim !== undefined) return { kind: 'reply_to_write', snapshot };
    const { messageId, chatId } = input;
    const composed = await compose(
      {
        messageId,
        chatId,
        agentId: snapshot.agentId,
        voicePrefix: snapshot.voicePrefix,
        maxMessageLength: snapshot.maxMessageLength,
      },
      { firstRun },
    );
    if ('held' in composed) return { kind: 'held', snapshot, reason: composed.held };
    const { partLengths, writtenBefore } = composed;
    const partCount = partLengths.length;
    const handoff = composed.handoff === true;
    const plan = replyPlan({
      settings: snapshot,
      userSentVoice: input.message.audio !== undefined,
      reply: { partCount, partLengths, fallback: false, handoff },
    });
    // Paced parts: the workflow waits before each part after the first, so it needs their lengths.
    const lengths = pacesReply(plan) ? { partLengths } : {};
    const handedOff = handoff ? ({ handoff: true } as const) : {};
    const share = answerStepShare(plan);
    // Speech or the reply delay comes first: every step is the workflow's.
    if (share.parts === 0) return { kind: 'answered', snapshot, partCount, ...lengths, ...handedOff };
    if (share.dropIfStale) {
      const answeredBy = await burst.dropIfStale(input, { ranBefore: writtenBefore });
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
        // This step runs only once admission found the message's turn.
        turnHeld: true,
        ...(handoff ? { reason: HANDOFF_REQUESTED_REASON } : {}),
      },
      upTo: share.parts,
      until: startedAt + budgetMs,
    });
    return { kind: 'answered', snapshot, partCount, delivery: delivered, ...lengths, ...handedOff };
  }

  return {
    async answerMessage(input: MessageWorkflowInput): Promise<Answer> {
      const startedAt = Date.now();
      const verdict = await admission.admit(input);
      if (verdict.outcome !== 'accepted') {
        const { outcome, reason, turn } = verdict;
        return {
          kind: 'refused',
          outcome,
          reason,
          turn,
          ...(verdict.voicePrefix !== undefined ? { voicePrefix: verdict.voicePrefix } : {}),
          ...(verdict.events !== undefined ? { events: verdict.events } : {}),
        };
      }
      const { snapshot } = verdict;
      if (!verdict.turn) return { kind: 'waiting_turn', snapshot };
      if (snapshot.coalesceWindowSeconds) return { kind: 'coalescing', snapshot };
      return replyAndDeliver(input, snapshot, startedAt, verdict.firstRun);
    },

    /**
     * A text message of a coalescing channel, in its turn, once its window is over: absorbed into
     * the later message of its chat that arrived within the window (kept in the history, not
     * answered), or answered as `answerMessage` would (with whatever arrived before it in the history).
     */
    async answerInBurst(input: MessageWorkflowInput & { snapshot: ChannelSnapshot }): Promise<AnswerAfterBurst> {
      const startedAt = Date.now();
      const { snapshot, ...message } = input;
      const answeredBy = await burst.absorbedInto(message, snapshot.coalesceWindowSeconds ?? 0);
      if (answeredBy === undefined) return replyAndDeliver(message, snapshot, startedAt);
      await bursts.recordUnanswered({
        messageId: message.messageId,
        chatId: message.chatId,
        voicePrefix: snapshot.voicePrefix,
      });
      return { kind: 'coalesced', snapshot, answeredBy };
    },
  };
}
