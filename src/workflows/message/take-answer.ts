import type { AnswerAfterBurst } from '../../activities/index.js';
import { ended, type Answered } from './answered.js';
import type { MessageRun } from './run.js';
import { writeReply } from './write.js';

/**
 * What the answer step did in the message's turn (at once, or once its burst window was over):
 * the message absorbed or held, or the reply written, or left for the workflow to write.
 */
export async function takeAnswer(run: MessageRun, answer: AnswerAfterBurst): Promise<Answered> {
  switch (answer.kind) {
    // The chat is with a person: the step put the message in its history; nothing to answer.
    case 'held':
      return ended(await run.close('not_answered', 0, answer.reason));
    // Absorbed into a newer message of the chat, whose reply answers this one.
    case 'coalesced':
    case 'superseded':
      if (answer.kind === 'superseded') run.progress.partCount = answer.partCount;
      return ended(await run.close(answer.kind, 0, undefined, { answeredBy: answer.answeredBy }));
    case 'answered':
      return {
        kind: 'written',
        settings: answer.snapshot,
        reply: {
          partCount: answer.partCount,
          ...(answer.partLengths !== undefined ? { partLengths: answer.partLengths } : {}),
          handoff: answer.handoff === true,
          ...(answer.delivery !== undefined ? { answerStepDelivery: answer.delivery } : {}),
        },
      };
    // The agent has a "one moment" part: the model step runs here, raced against its timer.
    case 'reply_to_write':
      return writeReply(run, answer.snapshot);
  }
}
