import { transcribeVoiceMessage } from '../activity-proxies.js';
import { ended, notWritten, type Answered } from './answered.js';
import { admit } from './admission.js';
import { afterBurstWindow } from './burst.js';
import { failureReason } from './model-step.js';
import type { MessageRun } from './run.js';
import { takeAnswer } from './take-answer.js';
import { writeReply } from './write.js';

/**
 * A voice message up to its reply: admission, then its transcription (both its own, so they run
 * at once), then its turn; then, as a text message's, its burst window on a coalescing channel,
 * or the model step. A transcription that fails leaves the fallback reply, unless the user typed
 * text as well: that is answered alone.
 */
export async function answerVoice(run: MessageRun): Promise<Answered> {
  const { input, carried } = run;
  const admission = await admit(run);
  if ('refused' in admission) return ended(admission.refused);
  const { settings } = admission;
  let failure = carried.failure;
  if (!carried.transcribed) {
    run.enter('transcribing');
    try {
      await transcribeVoiceMessage({ messageId: input.messageId, agentId: settings.agentId });
    } catch (error) {
      // With typed text as well, the message is still answered from the text alone.
      if (input.message.text === undefined) failure = carried.failure = failureReason(error);
    }
    carried.transcribed = true;
  }
  run.enter('waiting_turn');
  await run.turn.wait();
  if (failure !== undefined) return notWritten(run, failure, settings);
  run.enter('generating');
  if (settings.coalesceWindowSeconds) {
    // A coalescing channel: the same window as a text message's, then absorbed or answered.
    const inBurst = await afterBurstWindow(run, settings);
    if ('failure' in inBurst) return notWritten(run, inBurst.failure, settings);
    return takeAnswer(run, inBurst.result);
  }
  return writeReply(run, settings);
}
