import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './api-schema.js';

/** Types of the API's answers, from the generated OpenAPI types: an API change breaks this build. */
export type Schemas = components['schemas'];
export type Agent = Schemas['Agent'];
export type Channel = Schemas['Channel'];
export type CreatedChannel = Schemas['CreatedChannel'];
export type MessageSummary = Schemas['ListChannelMessagesResponse']['data'][number];
export type MessageStatus = Schemas['GetMessageResponse'];
export type ChatSummary = Schemas['ListChannelChatsResponse']['data'][number];
export type ChatHistory = Schemas['GetChannelChatResponse'];
export type Overview = Schemas['GetOverviewResponse'];
export type ApiErrorBody = Schemas['Error'];

const TOKEN_KEY = 'chatrelay.adminToken';

/** The admin token lives in this tab's session storage only: no cookie, so no CSRF surface. */
export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** An error answer of the API, with its message and field errors for the page to show. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody | undefined,
  ) {
    super(describeError(status, body));
  }
}

function describeError(status: number, body: ApiErrorBody | undefined): string {
  if (status === 401) return 'The admin token was refused. Check it and sign in again.';
  if (!body) return `The API answered ${status}.`;
  const details = (body.error.details ?? []).map((detail) => `${detail.path}: ${detail.message}`);
  return [body.error.message, ...details].join(' — ');
}

const bearer: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: location.origin });
api.use(bearer);

/** Listeners told when the API refuses the token (the page then signs out). */
const unauthorizedListeners = new Set<() => void>();
export const onUnauthorized = (listener: () => void): (() => void) => {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
};

/** The data of a successful answer; an ApiError otherwise (a 401 also signs the tab out). */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  if (response.status === 401) for (const listener of unauthorizedListeners) listener();
  throw new ApiError(response.status, error as ApiErrorBody | undefined);
}

/** Checks a token against the API without keeping it: true when the admin API accepts it. */
export async function tokenWorks(token: string): Promise<boolean> {
  const { response } = await api.GET('/v1/agents', {
    params: { query: { limit: 1 } },
    headers: { authorization: `Bearer ${token}` },
  });
  return response.ok;
}

/** Every item of a paged list (`next_after` cursors), one page of 100 at a time. */
export async function listAll<T>(
  page: (after: string | undefined) => Promise<{ data: T[]; next_after: string | null }>,
): Promise<T[]> {
  const all: T[] = [];
  let after: string | undefined;
  do {
    const next = await page(after);
    all.push(...next.data);
    after = next.next_after ?? undefined;
  } while (after);
  return all;
}

type AgentDefaults = Partial<Omit<Schemas['CreateAgentRequest'], 'name' | 'system_prompt'>>;

/**
 * The defaults the API gives a new agent, read from its own OpenAPI document (the `default` of
 * each field of CreateAgentRequest), so the form shows what the API would do and keeps no copy.
 */
export async function agentDefaults(): Promise<AgentDefaults> {
  const response = await fetch(`${location.origin}/openapi.json`);
  if (!response.ok) throw new ApiError(response.status, undefined);
  const document = (await response.json()) as {
    components: { schemas: { CreateAgentRequest: { properties: Record<string, { default?: unknown }> } } };
  };
  const defaults: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(document.components.schemas.CreateAgentRequest.properties)) {
    if (property.default !== undefined) defaults[name] = property.default;
  }
  return defaults;
}
