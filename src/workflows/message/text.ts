import type { ChannelSnapshot } from '../../domain/models.js';
import { ended, notWritten, type Answered } from './answered.js';
import { refuse } from './admission.js';
import { afterBurstWindow } from './burst.js';
import { modelStep } from './model-step.js';
import type { MessageRun } from './run.js';
import { takeAnswer } from './take-answer.js';

/**
 * A text message up to its reply: admission, the model call and the first steps of the reply's
 * plan in one step (the answer step), taken again each time it finds an earlier message of the
 * chat in the way, once its turn has come; a coalescing channel's message waits out its burst
 * window in between. A fresh run of a message that had failed goes straight to the fallback reply.
 */
export async function answerText(run: MessageRun): Promise<Answered> {
  run.enter('generating');
  if (run.carried.failure !== undefined) return { kind: 'not_written', failure: run.carried.failure };
  let settings: ChannelSnapshot | undefined;
  for (;;) {
    const step = await modelStep(() => run.answerStep.answer(run.input));
    if ('failure' in step) return notWritten(run, step.failure, settings);
    const answer = step.result;
    switch (answer.kind) {
      case 'refused':
        return ended(await refuse(run, answer));
      case 'waiting_turn':
        // The step read the line and found an earlier place still at work. It reads it again when
        // it runs next: after a hint that a place ended, or a look of the workflow's own.
        settings = answer.snapshot;
        run.enter('waiting_turn');
        await run.turn.untilWorthAsking();
        run.enter('generating');
        continue;
      case 'coalescing': {
        run.turn.grant();
        settings = answer.snapshot;
        const inBurst = await afterBurstWindow(run, settings);
        if ('failure' in inBurst) return notWritten(run, inBurst.failure, settings);
        return takeAnswer(run, inBurst.result);
      }
      default:
        // Every other answer was taken in the message's turn.
        run.turn.grant();
        return takeAnswer(run, answer);
    }
  }
}
