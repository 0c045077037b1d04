/** A small client of the admin API, as the CLI uses it: JSON in, JSON out, errors as values. */

export interface ApiErrorBody {
  error: { code: string; message: string; request_id?: string; details?: { path: string; message: string }[] };
}

/** The API answered with an error status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.error.message);
    this.name = 'ApiError';
  }
}

/** The API could not be reached or answered something that is not the API. */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

export interface AdminClient {
  baseUrl: string;
  request<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T | undefined>;
}

const isErrorBody = (value: unknown): value is ApiErrorBody => {
  const error = (value as { error?: unknown } | null)?.error;
  return typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string';
};

export function createAdminClient(options: { baseUrl: string; adminToken: string; timeoutMs?: number }): AdminClient {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    baseUrl: options.baseUrl,
    async request<T>(
      method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
      path: string,
      body?: unknown,
    ): Promise<T | undefined> {
      const url = `${options.baseUrl}${path}`;
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${options.adminToken}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw new ConnectionError(`cannot reach the chatrelay API at ${options.baseUrl}: ${describe(error)}`);
      }
      const text = await response.text();
      let parsed: unknown;
      if (text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new ConnectionError(
            `${method} ${url} answered ${response.status} with a body that is not JSON; is ${options.baseUrl} a chatrelay API?`,
          );
        }
      }
      if (!response.ok) {
        if (isErrorBody(parsed)) throw new ApiError(response.status, parsed);
        throw new ApiError(response.status, {
          error: { code: `http_${response.status}`, message: `${method} ${path} answered ${response.status}.` },
        });
      }
      return parsed as T | undefined;
    },
  };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'no answer in time';
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${cause.message} (${code})` : cause.message;
  }
  return error.message;
}
