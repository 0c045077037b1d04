import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * Heartbeats every activity scheduled with a heartbeat timeout while it runs, so that Temporal
 * learns within that timeout (rather than the much longer start-to-close timeout) that the worker
 * running it died (SIGKILL, OOM, a lost host) or that its result was lost (Temporal was away when
 * the worker reported it), and retries it. Activity code needs no heartbeat calls of its own.
 */
export function heartbeatInterceptor(): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const timeoutMs = ctx.info.heartbeatTimeoutMs;
        if (ctx.info.isLocal || timeoutMs === undefined || timeoutMs <= 0) return next(input);
        ctx.heartbeat();
        const timer = setInterval(() => ctx.heartbeat(), Math.max(500, Math.floor(timeoutMs / 3)));
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
        }
      },
    },
  });
}
