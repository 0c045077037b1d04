import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';

const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

/** The two kinds of task chatrelay's task queue holds: workflow tasks and (model call) activity tasks. */
export const taskTypes = ['workflow', 'activity'] as const;
export type TaskType = (typeof taskTypes)[number];

/** What Temporal says of one task queue's backlog: tasks waiting for a worker, and how long the oldest has waited. */
export interface QueueBacklog {
  count: number;
  ageMs: number;
}

export type BacklogReading = Record<TaskType, QueueBacklog>;

/** Reads the task queue's backlog; rejects when Temporal does not answer in time. */
export type BacklogProbe = () => Promise<BacklogReading>;

type LongLike = number | { toString(): string } | null | undefined;
const toNumber = (value: LongLike): number =>
  typeof value === 'number' ? value : value ? Number(value.toString()) : 0;

/**
 * The backlog as Temporal's matching service counts it (`DescribeTaskQueue` with `report_stats`):
 * `approximate_backlog_count` and `approximate_backlog_age`, the age of the task at the head of
 * the queue. Tasks a worker has taken are not in it, nor are workflow tasks on a worker's sticky
 * queue (continuations of workflows it has cached): what it measures is how long new work waits
 * before any worker has room for it.
 *
 * The server computes these figures at most once per `matching.TaskQueueInfoByBuildIdTTL`
 * (dynamic config, 5 s by default) and answers from that cache in between; the load gate allows
 * for that (see load-gate.ts).
 */
export function temporalBacklogProbe(
  connection: Connection,
  options: { namespace: string; taskQueue: string; timeoutMs?: number },
): BacklogProbe {
  const timeoutMs = options.timeoutMs ?? 1_000;
  const describe = async (taskQueueType: number): Promise<QueueBacklog> => {
    const response = await connection.workflowService.describeTaskQueue({
      namespace: options.namespace,
      taskQueue: { name: options.taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType,
      reportStats: true,
    });
    const stats = response.stats;
    const age = stats?.approximateBacklogAge;
    return {
      count: toNumber(stats?.approximateBacklogCount),
      ageMs: toNumber(age?.seconds) * 1000 + (age?.nanos ?? 0) / 1e6,
    };
  };
  return () =>
    connection.withDeadline(Date.now() + timeoutMs, async () => {
      const [workflow, activity] = await Promise.all([
        describe(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        describe(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
      ]);
      return { workflow, activity };
    });
}
