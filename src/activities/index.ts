import { createAdmissionActivities } from './admission.js';
import { createLineActivities } from './line.js';
import type { ActivityDeps } from './deps.js';
import { createDeliveryActivities } from './delivery.js';
import { createReplyActivities } from './reply.js';
import { createVoiceActivities } from './voice.js';

export type { ActivityDeps, ActivityReporter, ActivitySettings } from './deps.js';
export type { Admission } from './admission.js';
export type { SendPartInput, SendPartResult } from './delivery.js';
export type { Finish } from './finish.js';
export type { ReplyInput } from './reply.js';

/** The activities of the message and redelivery workflows, built from the stores and clients they use. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createAdmissionActivities(deps),
    ...createVoiceActivities(deps),
    ...createReplyActivities(deps),
    ...createDeliveryActivities(deps),
    ...createLineActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
