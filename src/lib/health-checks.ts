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
    check().then(resolve, reject).finally(() => clearTimeout(timer));
  });

export async function runHealthChecks(checks: HealthChecks, timeoutMs = 3_000): Promise<Readiness> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check, timeoutMs);
        return [name, { ok: true }] as const;
      } catch (error) {
        return [name, { ok: false, error: error instanceof Error ? error.message : String(error) }] as const;
      }
    }),
  );
  const ready = results.every(([, result]) => result.ok);
  return { ready, body: { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) } };
}
