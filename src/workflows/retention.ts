import { makeContinueAsNewFunc, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RetentionActivities, RetentionBatchResult } from '../activities/retention.js';
import { workflowNow } from './clock.js';
import { ABANDONED_AFTER_MS, addCounts, DAY_MS, type ErasureCounts } from '../domain/erasure.js';

/**
 * One batch of deletes per call: long enough for a few thousand deletes on FerretDB (which scans
 * on every delete), heartbeating between them; retried without end, backing off, since a daily job
 * that waits for MongoDB loses nothing (the schedule skips a day's run while this one goes on).
 */
const { retentionBatch } = proxyActivities<RetentionActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '15 minutes' },
});

export interface RetentionInput {
  /** Messages older than this many days are deleted; 0 deletes nothing. */
  retentionDays: number;
  /** Messages (or chats) one batch looks at. */
  batchSize?: number;
  /** Batches per run before the workflow continues as new, so its history stays small. */
  batchesPerRun?: number;
  /** Carried across continue-as-new: the run's cutoff (fixed at its start), position and counts. */
  cutoffMs?: number;
  next?: RetentionBatchResult['next'];
  counts?: ErasureCounts;
  runs?: number;
}

export interface RetentionResult {
  /** ISO time: what was received before it (and finished) is gone. */
  cutoff: string;
  counts: ErasureCounts;
  /** How many runs (continue-as-new included) the job took. */
  runs: number;
}

export const RETENTION_WORKFLOW_ID = 'chatrelay-retention';
export const DEFAULT_RETENTION_BATCH_SIZE = 500;
export const DEFAULT_RETENTION_BATCHES_PER_RUN = 100;

/**
 * Deletes what is older than the retention period (src/activities/retention.ts), in bounded
 * batches, started daily by a Temporal Schedule (src/temporal/retention-schedule.ts).
 */
export async function retentionWorkflow(input: RetentionInput): Promise<RetentionResult> {
  const runs = input.runs ?? 1;
  const counts: ErasureCounts = { ...input.counts };
  // Workflow time: deterministic on replay, and one cutoff for the whole job across its runs.
  const cutoffMs = input.cutoffMs ?? workflowNow() - input.retentionDays * DAY_MS;
  const result = (): RetentionResult => ({ cutoff: new Date(cutoffMs).toISOString(), counts, runs });
  if (input.retentionDays <= 0) return result();
  const batchSize = input.batchSize ?? DEFAULT_RETENTION_BATCH_SIZE;
  const batchesPerRun = input.batchesPerRun ?? DEFAULT_RETENTION_BATCHES_PER_RUN;
  let next = input.next ?? {};
  for (let batch = 0; ; batch++) {
    // A new current version of the worker deployment (docs/upgrades.md): the job goes on there
    // from the next batch, so that a long job does not hold the version it started on.
    const moved = batch > 0 && workflowInfo().targetWorkerDeploymentVersionChanged === true;
    if (batch >= batchesPerRun || moved)
      return makeContinueAsNewFunc<typeof retentionWorkflow>({ initialVersioningBehavior: 'AUTO_UPGRADE' })({
        ...input,
        cutoffMs,
        next,
        counts,
        runs: runs + 1,
      });
    const done = await retentionBatch({
      cutoffMs,
      abandonedBeforeMs: cutoffMs - ABANDONED_AFTER_MS,
      batchSize,
      ...next,
    });
    addCounts(counts, done.counts);
    if (done.next === undefined) return result();
    next = done.next;
  }
}
