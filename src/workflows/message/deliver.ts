/**
 * A message's path from its reply written to its last part delivered, as the reply's plan
 * (src/domain/reply-plan.ts) says: speech, the reply delay, the stale-reply check, then the parts
 * (their pauses, retries and a paused channel are the delivery loop's: src/workflows/delivery.ts).
 */
import { proxySinks, sleep } from '@temporalio/workflow';
import { HANDOFF_REQUESTED_REASON } from '../../domain/handoff.js';
import type { ChannelSnapshot, FinalStatus } from '../../domain/models.js';
import { failureEventsOf } from '../../domain/operational-events.js';
import { deliveriesOf, replyPlan, type WrittenReply } from '../../domain/reply-plan.js';
import { observabilitySinkName } from '../../observability/workflow-context.js';
import type { ObservabilitySinks } from '../../observability/workflow-interceptors.js';
import { dropStaleReply, speakReply } from '../activity-proxies.js';
import { deliverParts, type CarriedPlan } from '../delivery.js';
import type { MessageResult, MessageRun } from '../message.js';
import type { ModelReply } from './answer.js';

const sinks = proxySinks<ObservabilitySinks>();

/** A written reply as the workflow delivers it: the model's (with what the answer step did of it), or the fallback. */
export type ReplyToDeliver = WrittenReply & Pick<ModelReply, 'partLengths' | 'answerStepDelivery'>;

/**
 * From the reply written to its last part delivered, following the reply's plan from where the
 * answer step left it. `failure`: why the reply is the fallback; the message then ends as failed,
 * its parts delivered all the same.
 */
export async function deliverReply(
  run: MessageRun,
  settings: ChannelSnapshot,
  reply: ReplyToDeliver,
  failure?: string,
): Promise<MessageResult> {
  const { input, progress } = run;
  const { partCount } = reply;
  progress.partCount = partCount;
  const status: FinalStatus = failure === undefined ? 'delivered' : 'failed';
  const events = failureEventsOf(input, settings);
  const reason = failure ?? (reply.handoff ? HANDOFF_REQUESTED_REASON : undefined);
  if (reason !== undefined) progress.reason = reason;
  const ended = (partsDelivered: number): MessageResult => {
    run.enter(status);
    return { status, partsDelivered, ...(reason !== undefined ? { reason } : {}) };
  };

  const inAnswerStep = reply.answerStepDelivery;
  const steps = replyPlan({
    settings,
    userSentVoice: input.message.audio !== undefined,
    reply,
    ...(inAnswerStep !== undefined ? { done: { answerStepDelivered: inAnswerStep.delivered } } : {}),
  });
  // The answer step delivered every part (and the message ended with the last): nothing is left.
  if (inAnswerStep?.finished) return ended(inAnswerStep.delivered);

  // The steps before the first part, one by one; then the parts, by the delivery loop.
  const firstPart = steps.findIndex((step) => step.kind === 'deliver' || step.kind === 'typing_pause');
  let withAudio = false;
  for (const step of firstPart < 0 ? steps : steps.slice(0, firstPart)) {
    switch (step.kind) {
      case 'speak':
        withAudio = await speak(run, settings);
        break;
      case 'wait_reply_delay':
        await waitReplyDelay(run, step.ms);
        break;
      case 'drop_if_stale': {
        const supersededBy = await dropIfStale(run);
        if (supersededBy !== undefined) return run.close('superseded', 0, failure, { answeredBy: supersededBy });
        break;
      }
    }
  }

  const partsBefore = inAnswerStep?.delivered ?? 0;
  const deliveries = deliveriesOf(steps, partCount) ?? { fromPart: partsBefore };
  const delivered = await deliverParts(
    {
      messageId: input.messageId,
      chatId: input.chatId,
      channelId: settings.channelId,
      url: settings.replyWebhookUrl,
      partCount,
      fromPart: deliveries.fromPart,
      ...(inAnswerStep?.stopped ? { firstAttempt: inAnswerStep.stopped.result } : {}),
      retryScheduleSeconds: settings.retryScheduleSeconds,
      withAudio,
      ...(deliveries.pausesMs !== undefined ? { pausesMs: deliveries.pausesMs } : {}),
      finish: {
        status,
        lineSeq: input.lineSeq,
        // A reply is delivered only in its message's turn.
        turnHeld: true,
        partsBefore,
        ...(reason !== undefined ? { reason } : {}),
        // Carried with the parts, so a run continued as new during a long pause still knows it.
        ...(events !== undefined ? { events } : {}),
      },
      longWait: run.pausedWait,
    },
    progress,
  );
  const partsDelivered = partsBefore + delivered.delivered;
  if (delivered.finished) return ended(partsDelivered);
  return run.close('failed', partsDelivered, failure ?? delivered.error ?? 'not every part was delivered', { events });
}

/** A fresh run of a message whose reply waited long for its paused channel: the rest of the delivery, as planned. */
export async function deliverRest(run: MessageRun, plan: CarriedPlan): Promise<MessageResult> {
  const { progress } = run;
  progress.partCount = plan.partCount;
  const delivered = await deliverParts({ ...plan, longWait: run.pausedWait }, progress);
  const partsDelivered = plan.finish.partsBefore + delivered.delivered;
  const { status, reason } = plan.finish;
  if (!delivered.finished)
    return run.close('failed', partsDelivered, reason ?? delivered.error ?? 'not every part was delivered', {
      events: plan.finish.events,
    });
  run.enter(status);
  return { status, partsDelivered, ...(reason !== undefined ? { reason } : {}) };
}

/**
 * The plan's `speak`: every part's speech. Whether the parts go out with audio: a synthesis that
 * failed may have made some (the parts go out with the audio made so far, the rest as text; the
 * failure is in the history).
 */
async function speak(run: MessageRun, settings: ChannelSnapshot): Promise<boolean> {
  run.enter('synthesizing');
  try {
    return (await speakReply({ messageId: run.input.messageId, agentId: settings.agentId })).spoken > 0;
  } catch {
    return true;
  }
}

/** The plan's `wait_reply_delay`: a durable timer, reported to the worker's gauge while it lasts. */
async function waitReplyDelay(run: MessageRun, ms: number): Promise<void> {
  run.enter('waiting_reply_delay');
  sinks[observabilitySinkName].replyDelayStarted(ms);
  await sleep(ms);
  sinks[observabilitySinkName].replyDelayEnded();
}

/** The plan's `drop_if_stale`, just before the first part goes out: the newer message of the chat that makes the reply stale, if any. */
async function dropIfStale(run: MessageRun): Promise<string | undefined> {
  const { messageId, chatId, lineSeq } = run.input;
  return (await dropStaleReply({ messageId, chatId, lineSeq })).supersededBy;
}
