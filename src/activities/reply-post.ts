/** The outcome of one delivery attempt, as the workflow's retry schedule needs it. */
export type PostOutcome =
  | { result: 'delivered'; status: number }
  | { result: 'retry'; status?: number; retryAfterSeconds?: number; error: string }
  | { result: 'gone'; status: 410; error: string }
  | { result: 'rejected'; status: number; error: string };

/** Parses Retry-After (seconds or an HTTP date) into seconds from now; undefined when absent or bad. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * POSTs a form to a receiver and classifies the answer: 2xx delivered; network errors, timeouts,
 * 408, 429 and 5xx worth retrying; 410 means the receiver is gone; any other status is final.
 */
export async function postForm(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<PostOutcome> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'chatrelay', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = error instanceof Error ? (error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describe(error)) : String(error);
    return { result: 'retry', error: cause };
  }
  // The body is not needed; reading it frees the connection for reuse.
  await response.arrayBuffer().catch(() => undefined);
  const status = response.status;
  if (status >= 200 && status < 300) return { result: 'delivered', status };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
    return { result: 'retry', status, error: `receiver answered ${status}`, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) };
  }
  if (status === 410) return { result: 'gone', status, error: 'receiver answered 410 Gone' };
  return { result: 'rejected', status, error: `receiver answered ${status}` };
}

function describe(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  const code = cause && typeof cause === 'object' && 'code' in cause ? String((cause as { code: unknown }).code) : undefined;
  return code ? `${error.message} (${code})` : error.message;
}
