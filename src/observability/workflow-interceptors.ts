/**
 * Workflow interceptors, bundled with the workflow code (WorkerOptions.interceptors.workflowModules,
 * or bundleWorkflowCode's workflowInterceptorModules for a prebuilt bundle). They run in the
 * workflow sandbox, so they are deterministic and do no I/O; none of what they do is recorded in
 * the workflow's history, so adding or removing them never breaks a replay.
 *
 * - Log context: the message's `messageId` and `pageId` (from the workflow's first argument) go on
 *   every workflow log line (getLogAttributes) and, as an activity header, to every activity, whose
 *   interceptor puts them on every log line the activity writes.
 * - Reply-delay waits of version 1 workflows (frozen: they cannot be changed to report it): the
 *   timer that follows `setStage({ stage: 'waiting_reply_delay' })` is the reply delay; its start
 *   and end are reported to the worker through the sink that version 2 calls explicitly (message.ts),
 *   for the `chatrelay_reply_delay_waits_in_progress` gauge. The sink also runs during replay, so a
 *   worker that picks up a waiting workflow counts it; waits that started and ended in the replayed
 *   part of the history cancel out. Version 2 never calls `setStage`, so nothing here fires for it.
 */
import {
  defaultPayloadConverter,
  proxySinks,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type Sinks,
  type TimerInput,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import {
  logContextHeader,
  messageLogContext,
  observabilitySinkName,
  replyDelayMarker,
  type MessageLogContext,
} from './workflow-context.js';
import type { MessageStage } from '../domain/models.js';

/** What workflows report to the worker's metrics, explicitly (src/workflows/progress.ts, message.ts). */
export interface ObservabilitySinks extends Sinks {
  [observabilitySinkName]: {
    replyDelayStarted(delayMs: number): void;
    replyDelayEnded(): void;
    /** The message (or redelivery) entered this stage. */
    stageEntered(stage: MessageStage): void;
  };
}

const sinks = proxySinks<ObservabilitySinks>();

export const interceptors: WorkflowInterceptorsFactory = () => {
  // One factory call per workflow execution: this state belongs to that execution only.
  let context: MessageLogContext = {};
  let replyDelayNext = false;

  // Version 1: setStage may run as a local or a regular activity; either way the timer after it is the delay.
  const noteReplyDelay = (input: ActivityInput | LocalActivityInput): void => {
    const stage = (input.args[0] as { stage?: unknown } | undefined)?.stage;
    if (input.activityType === replyDelayMarker.activityType && stage === replyDelayMarker.stage) replyDelayNext = true;
  };

  const withHeader = <T extends ActivityInput | LocalActivityInput>(input: T): T => {
    if (context.messageId === undefined && context.pageId === undefined) return input;
    return { ...input, headers: { ...input.headers, [logContextHeader]: defaultPayloadConverter.toPayload(context) } };
  };

  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
      noteReplyDelay(input);
      return next(withHeader(input));
    },
    scheduleLocalActivity(
      input: LocalActivityInput,
      next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
    ) {
      noteReplyDelay(input);
      return next(withHeader(input));
    },
    startTimer(input: TimerInput, next: Next<WorkflowOutboundCallsInterceptor, 'startTimer'>) {
      if (!replyDelayNext) return next(input);
      replyDelayNext = false;
      sinks[observabilitySinkName].replyDelayStarted(input.durationMs);
      const timer = next(input);
      const ended = (): void => sinks[observabilitySinkName].replyDelayEnded();
      timer.then(ended, ended);
      return timer;
    },
    getLogAttributes(input, next) {
      return next({ ...context, ...input });
    },
  };

  return {
    inbound: [
      {
        execute(input, next) {
          context = messageLogContext(input.args[0]);
          return next(input);
        },
      },
    ],
    outbound: [outbound],
  };
};
