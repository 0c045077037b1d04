import type { ChannelSnapshot } from '../../domain/models.js';
import { writingPlan } from '../../domain/reply-plan.js';
import { composeReply } from '../activity-proxies.js';
import { withInterim } from '../interim.js';
import { ended, notWritten, type Answered } from './answered.js';
import { modelStep } from './model-step.js';
import type { MessageRun } from './run.js';

/** What the reply steps need of a message: its ids and the settings its snapshot fixed. */
export function replyInputFor(run: MessageRun, settings: ChannelSnapshot) {
  return {
    messageId: run.input.messageId,
    chatId: run.input.chatId,
    agentId: settings.agentId,
    voicePrefix: settings.voicePrefix,
    maxMessageLength: settings.maxMessageLength,
  };
}

/**
 * The model step as a step of the workflow's own (a voice message's, or a text message's whose
 * agent has a "one moment" part), as the reply's writing plan says: raced against the interim's
 * timer when there is one, and giving each part's length when the parts are paced.
 */
export async function writeReply(run: MessageRun, settings: ChannelSnapshot): Promise<Answered> {
  const plan = writingPlan(settings);
  const { messageId, chatId } = run.input;
  const input = { ...replyInputFor(run, settings), ...(plan.partLengths ? { partLengths: true } : {}) };
  const generation = modelStep(() => composeReply(input));
  const step = await (plan.interim === undefined
    ? generation
    : withInterim(generation, { messageId, chatId, snapshot: settings, interim: plan.interim }));
  if ('failure' in step) return notWritten(run, step.failure, settings);
  const written = step.result;
  // The chat is with a person: the message is in its history, with no answer.
  if (written.held !== undefined) return ended(await run.close('not_answered', 0, written.held));
  return {
    kind: 'written',
    settings,
    reply: {
      partCount: written.partCount,
      ...(written.partLengths !== undefined ? { partLengths: written.partLengths } : {}),
      handoff: written.handoff === true,
    },
  };
}
