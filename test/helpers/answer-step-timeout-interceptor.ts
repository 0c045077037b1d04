/**
 * A workflow interceptor for the test stack's worker (`startStack({ workflowInterceptorModules })`),
 * never production's: the answer step (answerMessage, answerInBurst, as local activities) gets a
 * start-to-close timeout of ANSWER_STEP_TEST_TIMEOUT instead of production's 2 minutes
 * (src/workflows/activity-proxies.ts), so that a test reaches it in seconds. Everything else about the
 * step (its retry policy, its code) is production's.
 */
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** The answer step's timeout under this interceptor. */
export const ANSWER_STEP_TEST_TIMEOUT_MS = 30_000;

const answerSteps = new Set(['answerMessage', 'answerInBurst']);

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleLocalActivity(input, next) {
        if (!answerSteps.has(input.activityType)) return next(input);
        return next({ ...input, options: { ...input.options, startToCloseTimeout: ANSWER_STEP_TEST_TIMEOUT_MS } });
      },
    },
  ],
});
