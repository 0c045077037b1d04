/**
 * A workflow interceptor of the tests' workflow bundles (test/helpers/temporal.ts `bundle`), never
 * of production's: an execution started with the LONG_WAIT_CHECKS_HEADER header (its value a
 * number of checks) continues as new after that many checks of a long wait, for its turn or for
 * its paused channel, instead of production's 48 (src/chat-line/wait.ts `checksBeforeContinue`), so
 * the time-skipping server passes a long wait in minutes of virtual time. The header is in the
 * execution's start event, so a replay of its history lowers the same checks; a continue-as-new
 * passes it on to the fresh run. Without the header it does nothing.
 */
import { defaultPayloadConverter, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { checksBeforeContinue } from '../../src/chat-line/wait.js';

export const LONG_WAIT_CHECKS_HEADER = 'chatrelay-test-long-wait-checks';

export const interceptors: WorkflowInterceptorsFactory = () => {
  let header: ReturnType<typeof defaultPayloadConverter.toPayload> | undefined;
  return {
    inbound: [
      {
        execute(input, next) {
          header = input.headers[LONG_WAIT_CHECKS_HEADER];
          if (header !== undefined) {
            const checks = defaultPayloadConverter.fromPayload<number>(header);
            checksBeforeContinue.turn = checks;
            checksBeforeContinue.pausedChannel = checks;
          }
          return next(input);
        },
      },
    ],
    outbound: [
      {
        continueAsNew(input, next) {
          return next(
            header === undefined
              ? input
              : { ...input, headers: { ...input.headers, [LONG_WAIT_CHECKS_HEADER]: header } },
          );
        },
      },
    ],
  };
};
