import { proxySinks, sleep } from '@temporalio/workflow';
import type { ChannelSnapshot } from '../../domain/models.js';
import { observabilitySinkName } from '../../observability/workflow-context.js';
import type { ObservabilitySinks } from '../../observability/workflow-interceptors.js';
import { dropStaleReply, speakReply } from '../activity-proxies.js';
import type { MessageRun } from './run.js';

const sinks = proxySinks<ObservabilitySinks>();

/**
 * The plan's `speak`: every part's speech. Whether the parts go out with audio: a synthesis that
 * failed may have made some (the parts go out with the audio made so far, the rest as text; the
 * failure is in the history).
 */
export async function speak(run: MessageRun, settings: ChannelSnapshot): Promise<boolean> {
  run.enter('synthesizing');
  try {
    return (await speakReply({ messageId: run.input.messageId, agentId: settings.agentId })).spoken > 0;
  } catch {
    return true;
  }
}

/** The plan's `wait_reply_delay`: a durable timer, reported to the worker's gauge while it lasts. */
export async function waitReplyDelay(run: MessageRun, ms: number): Promise<void> {
  run.enter('waiting_reply_delay');
  sinks[observabilitySinkName].replyDelayStarted(ms);
  await sleep(ms);
  sinks[observabilitySinkName].replyDelayEnded();
}

/** The plan's `drop_if_stale`, just before the first part goes out: the newer message of the chat that makes the reply stale, if any. */
export async function dropIfStale(run: MessageRun): Promise<string | undefined> {
  const { messageId, chatId, lineSeq } = run.input;
  return (await dropStaleReply({ messageId, chatId, lineSeq })).supersededBy;
}
