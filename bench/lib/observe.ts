import proto from '@temporalio/proto';
/**
 * What one message costs the durable machinery: Temporal history events (from workflow histories)
 * and MongoDB commands (from the server's own counters).
 */
import { Client, Connection } from '@temporalio/client';
import { clientConnectionOptions, loadTemporalProfile } from '../../src/temporal/connection.js';
import type { Db } from 'mongodb';

export interface WorkflowTypeFigures {
  executions: number;
  /** Executions that had finished when counted. */
  finished: number;
  sampled: number;
  meanEvents: number | null;
  minEvents: number | null;
  maxEvents: number | null;
  /** Mean count per execution of each event type, e.g. ActivityTaskScheduled. */
  meanEventTypes: Record<string, number>;
}

export interface TemporalFigures {
  /** How executions were found: every execution on the task queue, or only the sampled message workflows. */
  method: 'visibility' | 'acknowledged-ids';
  /** Estimated events of every workflow type that ran / message workflows started. */
  eventsPerMessage: number | null;
  activitiesPerMessage: number | null;
  /** Local activities (their MarkerRecorded events; patched() markers count too, and are rare). */
  localActivitiesPerMessage: number | null;
  /** Durable timers started (TimerStarted): reply delays, retries, burst windows, pacing. */
  timersPerMessage: number | null;
  workflowTasksPerMessage: number | null;
  byWorkflowType: Record<string, WorkflowTypeFigures>;
  note?: string;
}

interface HistoryEventLike {
  [key: string]: unknown;
}

/** `activityTaskScheduledEventAttributes` -> `ActivityTaskScheduled`. */
function eventTypeName(event: HistoryEventLike): string {
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventAttributes') && value !== null && value !== undefined) {
      const name = key.slice(0, -'EventAttributes'.length);
      return name.charAt(0).toUpperCase() + name.slice(1);
    }
  }
  return 'Unknown';
}

function sampleEvenly<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step)] as T);
}

/** chatrelay's own way in (src/temporal/connection.ts): TLS, mTLS and API key from the environment. */
function connectTemporal(address: string): Promise<Connection> {
  return Connection.connect(
    clientConnectionOptions(loadTemporalProfile({ ...process.env, TEMPORAL_ADDRESS: address })),
  );
}

/**
 * Counts history events per message (message workflows: finished ones are sampled, so an
 * overloaded run still reports a whole message's cost). With visibility, every execution on the task queue since
 * `since` is listed and grouped by workflow type (message workflows and any per-chat or helper
 * workflows), up to `samplePerType` histories of each type are fetched, and each type's total is
 * estimated as its mean times its count. Without visibility, only sampled message workflows count.
 */
export async function temporalFigures(options: {
  address: string;
  namespace: string;
  taskQueue: string;
  since: Date;
  acceptedMessages: number;
  acknowledgedWorkflowIds: readonly string[];
  samplePerType: number;
}): Promise<TemporalFigures> {
  const connection = await connectTemporal(options.address);
  try {
    const client = new Client({ connection, namespace: options.namespace });
    const executions = new Map<string, Array<{ workflowId: string; runId: string; closed: boolean }>>();
    let method: TemporalFigures['method'] = 'visibility';
    let note: string | undefined;
    try {
      const query = `TaskQueue = '${options.taskQueue}' AND StartTime >= '${options.since.toISOString()}'`;
      // Raw pages: the client would decode each execution's memo, which is encrypted (the payload codec).
      let nextPageToken: Uint8Array | undefined;
      do {
        const page = await client.workflowService.listWorkflowExecutions({
          namespace: options.namespace,
          query,
          pageSize: 1000,
          ...(nextPageToken ? { nextPageToken } : {}),
        });
        for (const execution of page.executions ?? []) {
          const type = execution.type?.name ?? 'unknown';
          const list = executions.get(type) ?? [];
          list.push({
            workflowId: execution.execution?.workflowId ?? '',
            runId: execution.execution?.runId ?? '',
            closed:
              execution.status !==
              proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
          });
          executions.set(type, list);
        }
        nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
      } while (nextPageToken);
    } catch (error) {
      method = 'acknowledged-ids';
      note = `listing workflows failed (${(error as Error).message.slice(0, 120)}); counted sampled acknowledged workflows only`;
    }
    if (executions.size === 0) {
      method = 'acknowledged-ids';
      executions.set(
        'messageWorkflow',
        [...new Set(options.acknowledgedWorkflowIds)].map((workflowId) => ({ workflowId, runId: '', closed: false })),
      );
    }

    const byWorkflowType: Record<string, WorkflowTypeFigures> = {};
    let totalEvents = 0;
    let totalActivities = 0;
    let totalMarkers = 0;
    let totalTimers = 0;
    let totalWorkflowTasks = 0;
    for (const [type, list] of executions) {
      // A message workflow still running has only part of its history: sample finished ones when there are any.
      const finished = list.filter((execution) => execution.closed);
      const sample = sampleEvenly(
        type.startsWith('messageWorkflow') && finished.length > 0 ? finished : list,
        options.samplePerType,
      );
      const counts: number[] = [];
      const typeTotals: Record<string, number> = {};
      for (const { workflowId, runId } of sample) {
        const history = await client.workflow.getHandle(workflowId, runId || undefined).fetchHistory();
        const events = (history.events ?? []) as unknown as HistoryEventLike[];
        counts.push(events.length);
        for (const event of events) {
          const name = eventTypeName(event);
          typeTotals[name] = (typeTotals[name] ?? 0) + 1;
        }
      }
      const mean = counts.length > 0 ? counts.reduce((a, b) => a + b, 0) / counts.length : null;
      const meanEventTypes: Record<string, number> = {};
      for (const [name, total] of Object.entries(typeTotals))
        meanEventTypes[name] = Number((total / Math.max(1, counts.length)).toFixed(2));
      byWorkflowType[type] = {
        executions: list.length,
        finished: finished.length,
        sampled: counts.length,
        meanEvents: mean === null ? null : Number(mean.toFixed(1)),
        minEvents: counts.length > 0 ? Math.min(...counts) : null,
        maxEvents: counts.length > 0 ? Math.max(...counts) : null,
        meanEventTypes,
      };
      if (mean !== null) {
        totalEvents += mean * list.length;
        totalActivities += (meanEventTypes.ActivityTaskScheduled ?? 0) * list.length;
        totalMarkers += (meanEventTypes.MarkerRecorded ?? 0) * list.length;
        totalTimers += (meanEventTypes.TimerStarted ?? 0) * list.length;
        totalWorkflowTasks += (meanEventTypes.WorkflowTaskCompleted ?? 0) * list.length;
      }
    }
    // Per message workflow started (one per message, including any the API timed out on but Temporal started).
    const messages = executions.get('messageWorkflow')?.length || options.acceptedMessages;
    const perMessage = (total: number): number | null =>
      messages > 0 && method === 'visibility' ? Number((total / messages).toFixed(1)) : null;
    if (method === 'acknowledged-ids') {
      const only = byWorkflowType.messageWorkflow;
      return {
        method,
        eventsPerMessage: only?.meanEvents ?? null,
        activitiesPerMessage: only ? (only.meanEventTypes.ActivityTaskScheduled ?? null) : null,
        localActivitiesPerMessage: only ? (only.meanEventTypes.MarkerRecorded ?? null) : null,
        timersPerMessage: only ? (only.meanEventTypes.TimerStarted ?? null) : null,
        workflowTasksPerMessage: only ? (only.meanEventTypes.WorkflowTaskCompleted ?? null) : null,
        byWorkflowType,
        ...(note ? { note } : {}),
      };
    }
    return {
      method,
      eventsPerMessage: perMessage(totalEvents),
      activitiesPerMessage: perMessage(totalActivities),
      localActivitiesPerMessage: perMessage(totalMarkers),
      timersPerMessage: perMessage(totalTimers),
      workflowTasksPerMessage: perMessage(totalWorkflowTasks),
      byWorkflowType,
      ...(note ? { note } : {}),
    };
  } finally {
    await connection.close();
  }
}

/** Commands the driver sends for itself (handshakes, heartbeats) or we send to measure: not the application's work. */
const HOUSEKEEPING = new Set([
  'hello',
  'ismaster',
  'ping',
  'serverstatus',
  'buildinfo',
  'saslstart',
  'saslcontinue',
  'endsessions',
  'getparameter',
  'unknown',
  '<unknown>',
]);

export interface CommandCounters {
  method: string;
  counts: Record<string, number>;
}

/** The server's per-command counters (`serverStatus.metrics.commands`), or undefined when it has none. */
export async function commandCounters(db: Db): Promise<CommandCounters | undefined> {
  try {
    const status = await db.admin().command({ serverStatus: 1 });
    const commands = (status.metrics as { commands?: Record<string, unknown> } | undefined)?.commands;
    if (!commands || typeof commands !== 'object') return undefined;
    const counts: Record<string, number> = {};
    for (const [name, value] of Object.entries(commands)) {
      if (value && typeof value === 'object' && 'total' in value) counts[name] = Number(value.total);
    }
    const server =
      typeof status.ferretdbVersion === 'string'
        ? `FerretDB ${status.ferretdbVersion}`
        : `MongoDB ${String(status.version)}`;
    return { method: `serverStatus.metrics.commands (${server})`, counts };
  } catch {
    return undefined;
  }
}

export interface MongoFigures {
  measured: boolean;
  method: string;
  /** Application commands (all processes) / accepted messages. */
  opsPerMessage: number | null;
  /** Per command name, per message. */
  byCommand: Record<string, number>;
  totalCommands: number | null;
  note?: string;
}

export function mongoFigures(
  before: CommandCounters | undefined,
  after: CommandCounters | undefined,
  acceptedMessages: number,
): MongoFigures {
  if (!before || !after) {
    return {
      measured: false,
      method: 'none',
      opsPerMessage: null,
      byCommand: {},
      totalCommands: null,
      note: 'the server reports no per-command counters (serverStatus.metrics.commands); not measured',
    };
  }
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [name, value] of Object.entries(after.counts)) {
    const delta = value - (before.counts[name] ?? 0);
    if (delta <= 0 || HOUSEKEEPING.has(name.toLowerCase())) continue;
    total += delta;
    byCommand[name] = acceptedMessages > 0 ? Number((delta / acceptedMessages).toFixed(2)) : delta;
  }
  return {
    measured: true,
    method: after.method,
    opsPerMessage: acceptedMessages > 0 ? Number((total / acceptedMessages).toFixed(1)) : null,
    byCommand,
    totalCommands: total,
    note: 'every process that talks to this server counts (API and worker); driver handshakes and heartbeats are left out',
  };
}

/**
 * Message workflows still running on the task queue: when reply parts are missing at the end of a
 * run, this tells late (still being worked on) from lost (finished without delivering).
 */
export async function runningMessageWorkflows(options: {
  address: string;
  namespace: string;
  taskQueue: string;
  since: Date;
}): Promise<number | null> {
  const connection = await connectTemporal(options.address);
  try {
    const client = new Client({ connection, namespace: options.namespace });
    const query = `TaskQueue = '${options.taskQueue}' AND WorkflowType = 'messageWorkflow' AND ExecutionStatus = 'Running' AND StartTime >= '${options.since.toISOString()}'`;
    const { count } = await client.workflow.count(query);
    return count;
  } catch {
    return null;
  } finally {
    await connection.close();
  }
}
