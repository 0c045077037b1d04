import { createAdmission, createAdmissionActivities } from './admission.js';
import { createAnswerActivities } from './answer.js';
import { createChatControlActivities } from './chat-control.js';
import { createBurst } from './burst.js';
import type { ActivityDeps } from './deps.js';
import { createDelivery, createDeliveryActivities } from './delivery.js';
import { createLineActivities } from '../chat-line/activities.js';
import { createReplies } from './reply.js';
import { createRetentionActivities } from './retention.js';
import { createVoiceActivities } from './voice.js';

export type { ActivityDeps, ActivityReporter, ActivitySettings } from './deps.js';
export type { Admission } from './admission.js';
export type { Answer, AnswerAfterBurst, AnswerInTurn } from './answer.js';
export type { InlineDelivery, SendPartInput, SendPartResult } from './delivery.js';
export type { Finish } from './finish.js';
export type { ReplyInput } from './reply.js';

/** The activities of the message and redelivery workflows, built from the stores and clients they use. */
export function createActivities(deps: ActivityDeps) {
  // One of each per worker: their caches (channels, agents, signing secrets) are shared by every step.
  const admission = createAdmission(deps);
  const delivery = createDelivery(deps);
  const replies = createReplies(deps);
  const burst = createBurst(deps);
  return {
    ...createAnswerActivities(
      admission,
      replies.compose,
      delivery,
      {
        burst,
        recordUnanswered: (input) => replies.activities.recordUnansweredMessage(input),
      },
      deps.settings.answerStepBudgetMs,
    ),
    ...burst.activities,
    ...createAdmissionActivities(admission),
    ...createVoiceActivities(deps),
    ...replies.activities,
    ...createDeliveryActivities(deps, delivery),
    ...createLineActivities(deps),
    ...createRetentionActivities(deps),
    ...createChatControlActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
