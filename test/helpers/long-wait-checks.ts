import { Client, type WorkflowClientInterceptor } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { fileURLToPath } from 'node:url';
import { LONG_WAIT_CHECKS_HEADER } from './long-wait-checks-interceptor.js';

/** The workflow interceptor the tests' bundles carry (see the module). */
export const longWaitChecksInterceptorPath = fileURLToPath(
  new URL('./long-wait-checks-interceptor.ts', import.meta.url),
);

/**
 * A client like `client` whose workflow starts carry the header that makes a long wait continue as
 * new after `checks` checks (test/helpers/long-wait-checks-interceptor.ts): the tests' way to a
 * low threshold, kept out of the workflow's input.
 */
export function withLongWaitChecks(client: Client, checks: number): Client {
  const interceptor: WorkflowClientInterceptor = {
    start(input, next) {
      return next({
        ...input,
        headers: { ...input.headers, [LONG_WAIT_CHECKS_HEADER]: defaultPayloadConverter.toPayload(checks) },
      });
    },
  };
  return new Client({
    connection: client.connection,
    namespace: client.options.namespace,
    dataConverter: client.options.dataConverter,
    interceptors: { workflow: [interceptor] },
  });
}
