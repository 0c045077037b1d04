import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';

const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;
type TaskQueueStats = proto.temporal.api.taskqueue.v1.ITaskQueueStats;

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
 * With Worker Versioning (docs/upgrades.md) the task queue's own figures add up every version's
 * backlog, among them the tasks of runs pinned to an old version whose workers are gone (stopped
 * before it drained): those wait for ever, and would close the gate to every new message while
 * the current version's workers sit idle. So when the task queue routes new work to versions, the
 * backlog read is theirs: the current version's, and the ramping one's (the older head of the two),
 * from `DescribeWorkerDeploymentVersion` with `report_task_queue_stats`.
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
  const { namespace, taskQueue } = options;
  const backlogOf = (stats: TaskQueueStats | null | undefined): QueueBacklog => {
    const age = stats?.approximateBacklogAge;
    return {
      count: toNumber(stats?.approximateBacklogCount),
      ageMs: toNumber(age?.seconds) * 1000 + (age?.nanos ?? 0) / 1e6,
    };
  };
  const describe = (taskQueueType: proto.temporal.api.enums.v1.TaskQueueType) =>
    connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType,
      reportStats: true,
    });
  /** The task queue's backlog of one type within the versions new work goes to: the oldest head among them. */
  const withinVersions = (
    versions: Array<proto.temporal.api.workflowservice.v1.IDescribeWorkerDeploymentVersionResponse>,
    type: proto.temporal.api.enums.v1.TaskQueueType,
  ): QueueBacklog => {
    const backlogs = versions.map((version) =>
      backlogOf(version.versionTaskQueues?.find((queue) => queue.name === taskQueue && queue.type === type)?.stats),
    );
    const older = (a: QueueBacklog, b: QueueBacklog): boolean =>
      a.ageMs > b.ageMs || (a.ageMs === b.ageMs && a.count > b.count);
    return backlogs.reduce((worst, backlog) => (older(backlog, worst) ? backlog : worst), { count: 0, ageMs: 0 });
  };
  return () =>
    connection.withDeadline(Date.now() + timeoutMs, async () => {
      const [workflow, activity] = await Promise.all([
        describe(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        describe(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
      ]);
      const routing = workflow.versioningInfo;
      const routedTo = [
        routing?.currentDeploymentVersion,
        (routing?.rampingVersionPercentage ?? 0) > 0 ? routing?.rampingDeploymentVersion : undefined,
      ].filter((version) => !!version?.buildId);
      // Unversioned workers take new work (WORKER_VERSIONING=false, or no version made current yet).
      if (routedTo.length === 0) return { workflow: backlogOf(workflow.stats), activity: backlogOf(activity.stats) };
      const versions = await Promise.all(
        routedTo.map((deploymentVersion) =>
          connection.workflowService.describeWorkerDeploymentVersion({
            namespace,
            deploymentVersion,
            reportTaskQueueStats: true,
          }),
        ),
      );
      return {
        workflow: withinVersions(versions, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        activity: withinVersions(versions, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
      };
    });
}
