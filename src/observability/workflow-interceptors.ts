/**
 * Workflow interceptors, bundled with the workflow code (WorkerOptions.interceptors.workflowModules,
 * or bundleWorkflowCode's workflowInterceptorModules for a prebuilt bundle). They run in the
 * workflow sandbox, so they are deterministic and do no I/O; none of what they do is recorded in
 * the workflow's history, so adding or removing them never breaks a replay.
 *
 * - Log context: the message's `messageId` and `pageId` (from the workflow's first argument) go on
 *   every workflow log line (getLogAttributes) and, as an activity header, to every activity, whose
 *   interceptor puts them on every log line the activity writes.
 */
import {
  defaultPayloadConverter,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type Sinks,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import {
  logContextHeader,
  messageLogContext,
  observabilitySinkName,
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

export const interceptors: WorkflowInterceptorsFactory = () => {
  // One factory call per workflow execution: this state belongs to that execution only.
  let context: MessageLogContext = {};

  const withHeader = <T extends ActivityInput | LocalActivityInput>(input: T): T => {
    if (context.messageId === undefined && context.pageId === undefined) return input;
    return { ...input, headers: { ...input.headers, [logContextHeader]: defaultPayloadConverter.toPayload(context) } };
  };

  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
      return next(withHeader(input));
    },
    scheduleLocalActivity(
      input: LocalActivityInput,
      next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
    ) {
      return next(withHeader(input));
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
