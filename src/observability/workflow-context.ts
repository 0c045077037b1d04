/**
 * What the workflow interceptors (which run inside the workflow sandbox) and the worker side share.
 * Pure: imported by workflow code, so no I/O and no Node built-ins here.
 */

/** Activity header carrying the message's ids to the activity interceptor (for log lines). */
export const logContextHeader = 'chatrelay-log-context';

/** The message a workflow is about, taken from its first argument when it has these fields. */
export interface MessageLogContext {
  messageId?: string;
  pageId?: string;
}

/** Name of the sink through which workflows report reply-delay waits to the worker's metrics. */
export const observabilitySinkName = 'chatrelayObservability';

/** Picks `messageId` and `pageId` from a value when they are strings. */
export function messageLogContext(value: unknown): MessageLogContext {
  if (typeof value !== 'object' || value === null) return {};
  const record = value as Record<string, unknown>;
  const context: MessageLogContext = {};
  if (typeof record.messageId === 'string') context.messageId = record.messageId;
  if (typeof record.pageId === 'string') context.pageId = record.pageId;
  return context;
}
