import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Fields that every log line written while handling one request or one message carries, without
 * the code that logs having to pass them: the API binds `requestId` for a request, the worker's
 * activity interceptor binds `workflowId`, `messageId` and `pageId` for an activity execution.
 * The logger (src/lib/logger.ts) adds them to each line through a pino mixin.
 */
export interface LogContext {
  requestId?: string;
  workflowId?: string;
  messageId?: string;
  pageId?: string;
  activity?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` (and everything it awaits) with `context` added to the current one. */
export function runWithLogContext<T>(context: LogContext, fn: () => T): T {
  const parent = storage.getStore();
  return storage.run(parent ? { ...parent, ...context } : context, fn);
}

/** The context of the code running now; undefined outside any request or activity. */
export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}
