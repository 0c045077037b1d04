import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { MessageStage } from '../domain/models.js';

/** What a running message workflow reports about itself. */
export interface MessageProgress {
  messageId: string;
  stage: MessageStage;
  partCount?: number;
  /** Index (from 0) of the part being delivered. */
  partIndex?: number;
  attempt?: number;
  nextRetryAt?: string;
  lastError?: string;
  reason?: string;
}

export const progressQuery = defineQuery<MessageProgress>('progress');

/** A message asks its chat's sequencer for a turn. */
export interface TurnRequest {
  messageId: string;
  workflowId: string;
}
export const requestTurnSignal = defineSignal<[TurnRequest]>('requestTurn');
export const releaseTurnSignal = defineSignal<[{ messageId: string }]>('releaseTurn');
/** The sequencer tells a message workflow that it is its turn. */
export const turnGrantedSignal = defineSignal('turnGranted');
/** An admin resumed the paused channel: try delivering again. */
export const resumeDeliverySignal = defineSignal('resumeDelivery');
