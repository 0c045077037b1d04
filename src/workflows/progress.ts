import { proxySinks, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { FinalStatus, MessageStage } from '../domain/models.js';
import { observabilitySinkName } from '../observability/workflow-context.js';
import type { ObservabilitySinks } from '../observability/workflow-interceptors.js';
import type { MessageProgress } from './definitions.js';
import { statusAttribute } from './search-attributes.js';

const sinks = proxySinks<ObservabilitySinks>();

/**
 * A message's (or a redelivery's) progress, starting at `stage`: what the progress query answers.
 * Every stage it enters is also reported to the worker's metrics through a sink, by name, so the
 * time spent in each stage is measured whichever activities the stage happens to run.
 */
export function startProgress(
  messageId: string,
  stage: MessageStage,
  fields: Omit<MessageProgress, 'messageId' | 'stage'> = {},
): MessageProgress {
  sinks[observabilitySinkName].stageEntered(stage);
  return { messageId, stage, ...fields };
}

/** Moves the progress to `stage` and reports it (once: staying in a stage is not entering it again). */
export function enterStage(progress: MessageProgress, stage: MessageStage): void {
  if (progress.stage === stage) return;
  progress.stage = stage;
  sinks[observabilitySinkName].stageEntered(stage);
}

/**
 * Sets the search attribute `ChatRelayStatus` to how the message ended; called right before the
 * workflow returns, so the upsert is a command of the task that completes it: one history event.
 *
 * Only a workflow started with its search attributes (by the API since they exist) upserts: the
 * start event says so, identically on every replay, so workflows started without them replay
 * without this command and without a patch marker, which would be one more event on every message.
 */
export function recordFinalStatus(status: FinalStatus): void {
  if (workflowInfo().typedSearchAttributes.get(statusAttribute) === undefined) return;
  upsertSearchAttributes([{ key: statusAttribute, value: status }]);
}
