import type { NativeConnection, Worker } from '@temporalio/worker';
import type { HealthChecks } from '../lib/health-checks.js';
import type { Database } from '../stores/db.js';

/** What the worker process has, as it comes up: nothing of Temporal's before it connected. */
export interface WorkerParts {
  database: Pick<Database, 'ping'>;
  connection(): NativeConnection | undefined;
  worker(): Pick<Worker, 'getState'> | undefined;
}

/**
 * The worker's readiness (GET /readyz on its metrics port): MongoDB answers a ping, Temporal
 * answers on the worker's own connection, and the worker is RUNNING, i.e. polling its task
 * queue. Starting up, draining on SIGTERM, or failed, it is not ready.
 */
export function workerReadiness(parts: WorkerParts): HealthChecks {
  return {
    mongodb: () => parts.database.ping(),
    temporal: async () => {
      const connection = parts.connection();
      if (!connection) throw new Error('not connected yet');
      await connection.withDeadline(Date.now() + 2_000, () => connection.workflowService.getSystemInfo({}));
    },
    worker: async () => {
      const state = parts.worker()?.getState() ?? 'STARTING';
      if (state !== 'RUNNING') throw new Error(`worker is ${state}, not polling`);
    },
  };
}
