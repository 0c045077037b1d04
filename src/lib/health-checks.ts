/**
 * Readiness checks shared by the API (/readyz) and the worker's metrics port (/readyz): each check
 * resolves when its dependency answers and rejects otherwise; all run at once, each within a time
 * limit, and the answer names the ones that failed.
 */

/** Each check resolves when its dependency answers and rejects otherwise. */
export type HealthChecks = Record<string, () => Promise<void>>;

export interface Readiness {
  ready: boolean;
  body: { status: 'ready' | 'unavailable'; checks: Record<string, { ok: boolean; error?: string }> };
}

const withTimeout = (check: () => Promise<void>, ms: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    check()
      .then(resolve, reject)
      .finally(() => clearTimeout(timer));
  });

/** Told each check's result, with a failure's detail: readiness answers carry none (see below). */
export type HealthObserver = (name: string, failure: string | undefined) => void;

/**
 * Runs every check. The endpoints that show the result are open to anyone who reaches the port,
 * so a failing check is answered `{ ok: false, error: "unavailable" }` only (a driver's error text
 * names hosts, ports and addresses); the detail goes to `observe`, for the log.
 */
export async function runHealthChecks(
  checks: HealthChecks,
  options: { timeoutMs?: number; observe?: HealthObserver } = {},
): Promise<Readiness> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, { ok: boolean; error?: string }]> => {
      try {
        await withTimeout(check, options.timeoutMs ?? 3_000);
        options.observe?.(name, undefined);
        return [name, { ok: true }];
      } catch (error) {
        options.observe?.(name, error instanceof Error ? error.message : String(error));
        return [name, { ok: false, error: 'unavailable' }];
      }
    }),
  );
  const ready = results.every(([, result]) => result.ok);
  return { ready, body: { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) } };
}

/** A HealthObserver that logs a check's failure once per change of its detail, and its recovery. */
export function loggingHealthObserver(
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void } | undefined,
): HealthObserver {
  const lastError = new Map<string, string>();
  return (name, failure) => {
    if (failure === undefined) {
      if (lastError.delete(name)) logger?.info({ check: name }, 'readiness check answers again');
      return;
    }
    if (lastError.get(name) !== failure) logger?.warn({ check: name, err: failure }, 'readiness check failed');
    lastError.set(name, failure);
  };
}

/** How long a readiness answer is reused: `/readyz` is open, so a flood of it must not become a flood of pings. */
export const READINESS_CACHE_MS = 1_000;

/**
 * Readiness that runs the checks at most once per `cacheMs`: callers within that time, and callers
 * while a run is under way, share its answer. The endpoints are unauthenticated, and each run pings
 * MongoDB and Temporal; a second of staleness is nothing to an orchestrator that polls every few.
 */
export function cachedReadiness(
  checks: HealthChecks,
  options: { cacheMs?: number; now?: () => number; observe?: HealthObserver } = {},
): () => Promise<Readiness> {
  const cacheMs = options.cacheMs ?? READINESS_CACHE_MS;
  const now = options.now ?? Date.now;
  let last: { at: number; answer: Promise<Readiness> } | undefined;
  return () => {
    if (last === undefined || now() - last.at >= cacheMs) {
      // Timed from the start of the run: an answer is never reused more than cacheMs after it was asked.
      last = { at: now(), answer: runHealthChecks(checks, options.observe ? { observe: options.observe } : {}) };
    }
    return last.answer;
  };
}
