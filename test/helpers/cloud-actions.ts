/**
 * What one workflow history costs: its events, its workflow tasks, and the Temporal Cloud billable
 * actions it shows, counted by Temporal's published rules (docs.temporal.io, "Temporal Cloud
 * Actions"):
 * - a workflow start is one action (client start, continue-as-new's next run: counted in that
 *   run's own history);
 * - all local activities of one workflow task are one action, retries within it included;
 * - every start or retry of a regular activity is one (the history keeps the last attempt's number);
 * - every timer started, signal received and search-attribute upsert is one (an upsert that only
 *   sets `TemporalChangeVersion`, patched()'s own, is free);
 * - a child workflow's start is two.
 * Heartbeats that reach the server are actions too, but a history does not show them.
 *
 * Reads the JSON form of a history (`historyToJSON`, the archive's files), so the capacity table in
 * docs/architecture.md comes from the same histories the replay test proves today's code makes.
 */
export interface HistoryCost {
  events: number;
  workflowTasks: number;
  actions: BillableActions;
}

export interface BillableActions {
  workflowStarts: number;
  localActivityTasks: number;
  activityAttempts: number;
  timers: number;
  signals: number;
  searchAttributeUpserts: number;
  childWorkflowStarts: number;
  total: number;
}

interface JsonEvent {
  eventId?: string;
  eventType?: string;
  markerRecordedEventAttributes?: { markerName?: string };
  activityTaskStartedEventAttributes?: { attempt?: number };
  upsertWorkflowSearchAttributesEventAttributes?: { searchAttributes?: { indexedFields?: Record<string, unknown> } };
}

const LOCAL_ACTIVITY_MARKER = 'core_local_activity';
const CHANGE_VERSION_ATTRIBUTE = 'TemporalChangeVersion';

function typeOf(event: JsonEvent): string {
  return String(event.eventType ?? '').replace(/^EVENT_TYPE_/, '');
}

function isFreeUpsert(event: JsonEvent): boolean {
  const fields = Object.keys(
    event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
  );
  return fields.length > 0 && fields.every((name) => name === CHANGE_VERSION_ATTRIBUTE);
}

/** The cost of one history in its JSON form (`{ events: [...] }`). */
export function historyCost(history: { events: readonly JsonEvent[] }): HistoryCost {
  const count = { workflowStarts: 0, activityAttempts: 0, timers: 0, signals: 0, upserts: 0, children: 0 };
  let workflowTasks = 0;
  // Local activities are billed per workflow task: the markers a task's completion recorded.
  let currentTask: string | undefined;
  const tasksWithLocalActivities = new Set<string>();
  for (const event of history.events) {
    switch (typeOf(event)) {
      case 'WORKFLOW_EXECUTION_STARTED':
        count.workflowStarts += 1;
        break;
      case 'WORKFLOW_TASK_COMPLETED':
        workflowTasks += 1;
        currentTask = event.eventId;
        break;
      case 'MARKER_RECORDED':
        if (event.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER) {
          tasksWithLocalActivities.add(currentTask ?? 'before the first task');
        }
        break;
      case 'ACTIVITY_TASK_STARTED':
        count.activityAttempts += Math.max(1, Number(event.activityTaskStartedEventAttributes?.attempt ?? 1));
        break;
      case 'TIMER_STARTED':
        count.timers += 1;
        break;
      case 'WORKFLOW_EXECUTION_SIGNALED':
        count.signals += 1;
        break;
      case 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES':
        if (!isFreeUpsert(event)) count.upserts += 1;
        break;
      case 'START_CHILD_WORKFLOW_EXECUTION_INITIATED':
        count.children += 2;
        break;
    }
  }
  const actions: Omit<BillableActions, 'total'> = {
    workflowStarts: count.workflowStarts,
    localActivityTasks: tasksWithLocalActivities.size,
    activityAttempts: count.activityAttempts,
    timers: count.timers,
    signals: count.signals,
    searchAttributeUpserts: count.upserts,
    childWorkflowStarts: count.children,
  };
  const total = Object.values(actions).reduce((sum, value) => sum + value, 0);
  return { events: history.events.length, workflowTasks, actions: { ...actions, total } };
}

/** The mean cost per message of several histories that together answer `messages` messages. */
export function costPerMessage(costs: readonly HistoryCost[], messages: number): HistoryCost {
  const mean = (pick: (cost: HistoryCost) => number) => costs.reduce((sum, cost) => sum + pick(cost), 0) / messages;
  return {
    events: mean((cost) => cost.events),
    workflowTasks: mean((cost) => cost.workflowTasks),
    actions: {
      workflowStarts: mean((cost) => cost.actions.workflowStarts),
      localActivityTasks: mean((cost) => cost.actions.localActivityTasks),
      activityAttempts: mean((cost) => cost.actions.activityAttempts),
      timers: mean((cost) => cost.actions.timers),
      signals: mean((cost) => cost.actions.signals),
      searchAttributeUpserts: mean((cost) => cost.actions.searchAttributeUpserts),
      childWorkflowStarts: mean((cost) => cost.actions.childWorkflowStarts),
      total: mean((cost) => cost.actions.total),
    },
  };
}
