import { proxySinks } from '@temporalio/workflow';
import type { MessageStage } from '../domain/models.js';
import { observabilitySinkName } from '../observability/workflow-context.js';
import type { ObservabilitySinks } from '../observability/workflow-interceptors.js';
import type { MessageProgress } from './definitions.js';

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
