import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { MessageStage } from '../domain/models.js';

/** What a running message workflow (or redelivery) reports about itself. */
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

/** An admin resumed the paused channel: try delivering again. */
export const resumeDeliverySignal = defineSignal('resumeDelivery');

/** The place before this workflow's in its chat's line was settled: its turn may have come. */
export const lineTurnSignal = defineSignal('lineTurn');
