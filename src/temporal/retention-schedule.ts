import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { retentionWorkflow, RetentionInput } from '../workflows/retention.js';
import { RETENTION_WORKFLOW_ID } from '../workflows/retention.js';

export const RETENTION_SCHEDULE_ID = 'chatrelay-retention';

export interface RetentionScheduleOptions {
  taskQueue: string;
  /** RETENTION_DAYS; 0 removes the schedule. */
  retentionDays: number;
  batchSize?: number;
}

export type RetentionScheduleChange = 'created' | 'updated' | 'deleted' | 'absent';

/**
 * Makes Temporal's schedule of the retention job match the configuration, from any worker at start:
 * created when missing, its job's arguments and task queue updated when it exists (so a changed
 * RETENTION_DAYS applies), deleted when retention is off. Workers starting together are fine: one
 * creates, the others find it and update it to the same. Daily at 03:17 UTC, a time few other jobs
 * choose; a run still going when the next is due makes that one skip.
 */
export async function ensureRetentionSchedule(
  client: Client,
  options: RetentionScheduleOptions,
): Promise<RetentionScheduleChange> {
  const handle = client.schedule.getHandle(RETENTION_SCHEDULE_ID);
  if (options.retentionDays <= 0) {
    try {
      await handle.delete();
      return 'deleted';
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return 'absent';
      throw error;
    }
  }
  const args: [RetentionInput] = [
    {
      retentionDays: options.retentionDays,
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    },
  ];
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'retentionWorkflow',
    workflowId: RETENTION_WORKFLOW_ID,
    taskQueue: options.taskQueue,
    args,
  };
  try {
    await client.schedule.create<typeof retentionWorkflow>({
      scheduleId: RETENTION_SCHEDULE_ID,
      spec: { calendars: [{ hour: 3, minute: 17, comment: 'daily, 03:17 UTC' }] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  await handle.update((previous) => ({
    ...previous,
    action: { ...previous.action, ...action },
  }));
  return 'updated';
}
