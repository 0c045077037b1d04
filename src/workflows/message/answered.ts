import type { InlineDelivery } from '../../activities/index.js';
import type { ChannelSnapshot } from '../../domain/models.js';
import type { MessageResult, MessageRun } from './run.js';

/** A reply the model wrote, and what the answer step did of its plan. */
export interface ModelReply {
  partCount: number;
  /** Each part's length, when the plan paces the parts. */
  partLengths?: number[];
  /** The agent's handoff text: the model handed the chat to a person. */
  handoff: boolean;
  /** The answer step took the plan's first steps (src/domain/reply-plan.ts): what came of its deliveries. */
  answerStepDelivery?: InlineDelivery;
}

/** Where the path up to the reply led. */
export type Answered =
  /** The message ended without a reply of its own: refused, held for a person, or absorbed into a newer one. */
  | { kind: 'ended'; result: MessageResult }
  | { kind: 'written'; settings: ChannelSnapshot; reply: ModelReply }
  /** No reply could be written (`failure` says why): the fallback reply answers. `settings` once admission gave them. */
  | { kind: 'not_written'; failure: string; settings?: ChannelSnapshot | undefined };

export const ended = (result: MessageResult): Answered => ({ kind: 'ended', result });

/** No reply: the failure is kept for a fresh run, should a long wait for the turn still come (it sends the fallback). */
export function notWritten(run: MessageRun, failure: string, settings?: ChannelSnapshot): Answered {
  run.carried.failure = failure;
  return { kind: 'not_written', failure, settings };
}
