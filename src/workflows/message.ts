import { ContinueAsNew, isCancellation } from '@temporalio/workflow';
import { admitAfterFailure } from './message/admission.js';
import { deliverReply } from './message/deliver-reply.js';
import { deliverRest } from './message/deliver-rest.js';
import { writeFallback } from './message/fallback.js';
import { failureReason } from './message/model-step.js';
import { startRun, type MessageResult, type MessageRun, type MessageRunInput } from './message/run.js';
import { answerText } from './message/text.js';
import { answerVoice } from './message/voice.js';
import { recordFinalStatus } from './final-status.js';

export type { MessageResult, MessageRunInput } from './message/run.js';

/**
 * Handles one inbound message from acceptance to the last part delivered (or a recorded failure).
 * Steps that only concern this message (admission, transcription) run at once; the steps that
 * touch the chat's history and its receiver wait for the message's turn in its chat's line, which
 * the API gave it when it accepted the message. In the common case (text, no reply delay, one
 * part, nobody ahead in the chat) that is one step: admission, the model call and the delivery,
 * as a local activity (one workflow task, 7 history events: docs/architecture.md) or, with
 * `modelStep: 'activity'` in the input (MODEL_STEP), as a regular activity with heartbeats.
 *
 * What happens once the reply is written is the reply's plan (src/domain/reply-plan.ts), which the
 * answer step and this workflow both follow; each step of the path is a module of
 * src/workflows/message/.
 */
export async function messageWorkflow(input: MessageRunInput): Promise<MessageResult> {
  const run = startRun(input);
  let result: MessageResult;
  try {
    result = await messagePath(run);
  } catch (error) {
    // A failure no retry can heal (a record deleted under us): the message ends as failed, and the
    // chat's turn is handed on, instead of the chat waiting behind a failed workflow.
    if (isCancellation(error) || error instanceof ContinueAsNew) throw error;
    result = await run.close('failed', 0, failureReason(error));
  }
  recordFinalStatus(result.status);
  return result;
}

/** A message's path: its reply written (or why there is none), then delivered as the reply's plan says. */
async function messagePath(run: MessageRun): Promise<MessageResult> {
  // A fresh run of a reply that waited long for its paused channel: the rest of its delivery.
  if (run.carried.delivery) return deliverRest(run, run.carried.delivery);

  const answered = run.input.message.audio === undefined ? await answerText(run) : await answerVoice(run);
  if (answered.kind === 'ended') return answered.result;
  if (answered.kind === 'written') return deliverReply(run, answered.settings, { ...answered.reply, fallback: false });

  // No reply could be written: the agent's fallback reply, with the settings (a text message's one
  // step that failed before admission could say: admission again, as a step of its own).
  let settings = answered.settings;
  if (settings === undefined) {
    const admission = await admitAfterFailure(run);
    if ('refused' in admission) return admission.refused;
    settings = admission.settings;
  } else if (!run.turn.held) {
    // The step failed while the message waited for its turn: the fallback goes out in it too.
    run.enter('waiting_turn');
    await run.turn.wait();
  }
  const partCount = await writeFallback(run, settings, answered.failure);
  return deliverReply(run, settings, { partCount, fallback: true, handoff: false }, answered.failure);
}
