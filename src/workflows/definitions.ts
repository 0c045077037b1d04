import { defineQuery } from '@temporalio/workflow';
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
