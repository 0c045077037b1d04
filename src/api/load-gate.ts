import type { Logger } from '../lib/logger.js';
import { taskTypes, type BacklogProbe, type BacklogReading, type TaskType } from './task-queue-backlog.js';

/**
 * Load shedding at the door. Every message the API accepts becomes work in Temporal's task queue;
 * when more is offered than the workers can do, that work waits, and without a limit it waits
 * until timeouts fire on it and it is done twice (the collapse issue 11 measured). The gate
 * refuses new messages while the oldest task in the queue (workflow or activity) has waited
 * longer than `maxBacklogMs`, so what was accepted is answered within about that bound plus its
 * own processing time, and the stack keeps completing at the rate it can sustain.
 *
 * The backlog is read from Temporal in the background, at most every `refreshMs`, never on a
 * request's path: `admit()` only looks at the last reading.
 */

export type BacklogMs = Record<TaskType, number>;

/**
 * Turns Temporal's readings into the age of the oldest waiting task now. The server refreshes
 * its figures only every few seconds (see task-queue-backlog.ts), so a reading can be seconds old:
 * while it is unchanged and the queue was not empty, its head task has aged since it was first
 * seen, unless a worker took it meanwhile. The estimate counts that time, so the gate closes as
 * soon as the head has waited too long; the price is that it may reopen up to one server refresh
 * late, once the backlog is gone. A reading older than `staleAfterMs` (Temporal not answering)
 * says nothing: then the estimate is unknown, and the gate is open (the message start fails on
 * its own if Temporal is down: 503 `unavailable`).
 */
export function createBacklogEstimator(options: { staleAfterMs: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  let latest: { reading: BacklogReading; firstSeenAt: BacklogMs; at: number } | undefined;
  return {
    record(reading: BacklogReading): void {
      const at = now();
      const firstSeenAt = {} as BacklogMs;
      for (const type of taskTypes) {
        const previous = latest?.reading[type];
        const unchanged =
          previous !== undefined && previous.count === reading[type].count && previous.ageMs === reading[type].ageMs;
        firstSeenAt[type] = unchanged && latest ? latest.firstSeenAt[type] : at;
      }
      latest = { reading, firstSeenAt, at };
    },
    /** Milliseconds the oldest task of each type has waited by now; undefined when no recent reading. */
    estimate(): BacklogMs | undefined {
      const at = now();
      if (!latest || at - latest.at > options.staleAfterMs) return undefined;
      const estimate = {} as BacklogMs;
      for (const type of taskTypes) {
        const { count, ageMs } = latest.reading[type];
        estimate[type] = count > 0 ? ageMs + (at - latest.firstSeenAt[type]) : 0;
      }
      return estimate;
    },
  };
}

export interface LoadGateOptions {
  probe: BacklogProbe;
  /** Refuse new messages while the oldest waiting task has waited longer than this. */
  maxBacklogMs: number;
  /** The `Retry-After` of a refusal. */
  retryAfterSeconds: number;
  /** How often the backlog is read (default 500 ms). */
  refreshMs?: number;
  /** How long a reading counts when Temporal stops answering (default 2 s); after that the gate is open. */
  staleAfterMs?: number;
  logger?: Logger;
  /** Called for every message refused. */
  onShed?: () => void;
  /** Called after every refresh with the backlog assumed (0 when unknown). */
  onBacklog?: (backlog: BacklogMs) => void;
  now?: () => number;
}

export interface LoadGate {
  /** Undefined to accept a message; else refuse it, asking to retry after so many seconds. Never waits. */
  admit(): { retryAfterSeconds: number } | undefined;
  /** The backlog the gate assumes now; undefined when it has no recent reading. */
  backlog(): BacklogMs | undefined;
  /** Stops the background reading (and waits for one in progress). */
  stop(): Promise<void>;
}

export function startLoadGate(options: LoadGateOptions): LoadGate {
  const refreshMs = options.refreshMs ?? 500;
  const estimator = createBacklogEstimator({
    staleAfterMs: options.staleAfterMs ?? 2_000,
    ...(options.now ? { now: options.now } : {}),
  });
  let shedding = false;
  let failing = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> | undefined;

  /** Whether to shed now; logs each change, so the log shows when and why shedding started and ended. */
  const decide = (): boolean => {
    const backlog = estimator.estimate();
    const oldest = backlog ? Math.max(...taskTypes.map((type) => backlog[type])) : 0;
    const shed = oldest > options.maxBacklogMs;
    if (shed !== shedding) {
      shedding = shed;
      if (shed)
        options.logger?.warn(
          { backlogMs: backlog, maxBacklogMs: options.maxBacklogMs },
          'overloaded: refusing new messages until the backlog is worked down',
        );
      else
        options.logger?.info(
          { backlogMs: backlog ?? 'unknown', maxBacklogMs: options.maxBacklogMs },
          'backlog under the bound: accepting new messages again',
        );
    }
    return shed;
  };

  const refresh = async (): Promise<void> => {
    try {
      estimator.record(await options.probe());
      if (failing) options.logger?.info('task queue backlog readable again');
      failing = false;
    } catch (error) {
      if (!failing)
        options.logger?.warn(
          { err: String(error).slice(0, 300) },
          'cannot read the task queue backlog; the last reading counts for a moment, then the gate is open',
        );
      failing = true;
    }
    decide();
    const backlog = estimator.estimate();
    options.onBacklog?.({ workflow: backlog?.workflow ?? 0, activity: backlog?.activity ?? 0 });
  };

  const loop = (): void => {
    refreshing = refresh().finally(() => {
      refreshing = undefined;
      if (stopped) return;
      timer = setTimeout(loop, refreshMs);
      timer.unref();
    });
  };
  loop();

  return {
    admit() {
      if (!decide()) return undefined;
      options.onShed?.();
      return { retryAfterSeconds: options.retryAfterSeconds };
    },
    backlog: () => estimator.estimate(),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await refreshing;
    },
  };
}
