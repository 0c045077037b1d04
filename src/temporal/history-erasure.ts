import { isGrpcServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { randomId } from '../lib/secrets.js';
import type { historyErasureWorkflow } from '../workflows/history-erasure.js';
import { chatIdAttribute } from '../workflows/search-attributes.js';

/**
 * An erasure's Temporal side (issue 24, item 7): every workflow that ran for the erased user keeps
 * its history (encrypted payloads, but its ids, timings and search attributes, `ChatRelayChatId`
 * among them, in the clear) until the namespace's retention. Deleting a workflow execution removes
 * its history and its visibility record with them.
 */
export interface HistoryErasure {
  /**
   * Has the workflows' executions deleted, durably: once this returns, a workflow of Temporal's
   * does it (retrying while Temporal is away, waiting for runs still closing). Throws when that
   * workflow could not be started; the caller then erases nothing, and is asked again.
   */
  erase(workflowIds: readonly string[]): Promise<void>;
  /**
   * Which of the chat's `workflowIds` still run. A message's place in the chat's line ends in its
   * last step, before its workflow completes; if that workflow task is lost, the step runs again
   * (a local activity, from attempt 1) and, its records erased meanwhile, would take itself for a
   * first run and answer and POST again. So the erasure waits for these to close before it deletes.
   */
  stillRunning(chatId: string, workflowIds: readonly string[]): Promise<string[]>;
}

/** How long the start of the deleting workflow may take before the erasure answers 503. */
const START_DEADLINE_MS = 5_000;

/** Starts `historyErasureWorkflow`, its id random (one named after the chat would name the user). */
export function temporalHistoryErasure(client: Client, taskQueue: string): HistoryErasure {
  return {
    async erase(workflowIds) {
      if (workflowIds.length === 0) return;
      await client.connection.withDeadline(Date.now() + START_DEADLINE_MS, () =>
        client.workflow.start<typeof historyErasureWorkflow>('historyErasureWorkflow', {
          taskQueue,
          workflowId: `chatrelay-erasure-${randomId(12)}`,
          args: [{ workflowIds: [...workflowIds] }],
        }),
      );
    },
    async stillRunning(chatId, workflowIds) {
      if (workflowIds.length === 0) return [];
      const wanted = new Set(workflowIds);
      const running: string[] = [];
      // One visibility query for the chat (its workflows carry its id from their start); chat ids
      // are ours (`cht_…`), with nothing to escape.
      const query = `${chatIdAttribute.name} = "${chatId}" AND ExecutionStatus = "Running"`;
      await client.connection.withDeadline(Date.now() + START_DEADLINE_MS, async () => {
        for await (const run of client.workflow.list({ query }))
          if (wanted.has(run.workflowId)) running.push(run.workflowId);
      });
      return running;
    },
  };
}

/** What one pass over the workflows did: how many runs it deleted, and the workflows with a run still open. */
export interface HistoryDeletion {
  deleted: number;
  running: string[];
}

/** gRPC's NOT_FOUND: the execution is not there (never was, or deleted already), which is what deletion wants. */
const GRPC_NOT_FOUND = 5;
const isNotFound = (error: unknown): boolean =>
  error instanceof WorkflowNotFoundError || (isGrpcServiceError(error) && Number(error.code) === GRPC_NOT_FOUND);

/**
 * Deletes every run of each workflow (a workflow that continued as new has several): the runs
 * visibility lists and the current one, which a describe finds even before visibility does. A run
 * still open is left, and its workflow reported, unless `force`: Temporal then terminates it
 * before deleting. Idempotent: a run already gone counts as done.
 */
export async function deleteWorkflowExecutions(
  client: Client,
  options: { workflowIds: readonly string[]; force?: boolean },
): Promise<HistoryDeletion> {
  const namespace = client.options.namespace;
  let deleted = 0;
  const running: string[] = [];
  for (const workflowId of options.workflowIds) {
    const runs = new Map<string, boolean>(); // runId → still open
    try {
      const current = await client.workflow.getHandle(workflowId).describe();
      runs.set(current.runId, current.status.name === 'RUNNING');
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    // Our own ids (`chatrelay-…`, message ids): no quote or backslash to escape.
    if (!/["\\]/.test(workflowId)) {
      for await (const run of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
        if (!runs.has(run.runId)) runs.set(run.runId, run.status.name === 'RUNNING');
    }
    if (!options.force && [...runs.values()].some((open) => open)) {
      running.push(workflowId);
      continue;
    }
    for (const runId of runs.keys()) {
      try {
        await client.workflowService.deleteWorkflowExecution({ namespace, workflowExecution: { workflowId, runId } });
        deleted += 1;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }
  return { deleted, running };
}
