/**
 * Workflow interceptors for OpenTelemetry tracing, bundled with the workflow code like
 * workflow-interceptors.ts (src/observability/worker-observability.ts lists both). They run in the sandbox:
 * deterministic, no I/O; spans leave through the `exporter` sink (tracingSinks, tracing.ts).
 *
 * Generic: they know no workflow or activity. A workflow is traced when whoever started it was
 * (its start carried a trace context header); the tracing interceptors of
 * @temporalio/interceptors-opentelemetry then wrap its run, signals, queries, updates and the
 * activities, child workflows and signals it starts, so each activity's span is a child of the
 * workflow's, and the run's span is tagged with the message it is about (messageLogContext of the
 * first argument). An untraced workflow costs one header lookup. The trace header the interceptors
 * add to scheduled activities is not part of what replay compares, so turning tracing on or off
 * never breaks a replay.
 */
import { trace } from '@opentelemetry/api';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation.js';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type {
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptorsFactory,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { messageLogContext } from './workflow-context.js';

export const interceptors: WorkflowInterceptorsFactory = () => {
  // One factory call per workflow execution: this state belongs to that execution only.
  let tracers:
    | {
        inbound: OpenTelemetryInboundInterceptor;
        outbound: OpenTelemetryOutboundInterceptor;
        internals: OpenTelemetryInternalsInterceptor;
      }
    | undefined;

  const inbound: WorkflowInboundCallsInterceptor = {
    execute(input, next) {
      if (input.headers[TRACE_HEADER] === undefined) return next(input);
      tracers = {
        inbound: new OpenTelemetryInboundInterceptor(),
        outbound: new OpenTelemetryOutboundInterceptor(),
        internals: new OpenTelemetryInternalsInterceptor(),
      };
      return tracers.inbound.execute(input, (inner) => {
        const ids = messageLogContext(inner.args[0]);
        trace.getActiveSpan()?.setAttributes({
          ...(ids.messageId !== undefined ? { 'chatrelay.message_id': ids.messageId } : {}),
          ...(ids.pageId !== undefined ? { 'chatrelay.page_id': ids.pageId } : {}),
        });
        return next(inner);
      });
    },
    handleSignal: (input, next) => (tracers ? tracers.inbound.handleSignal(input, next) : next(input)),
    handleUpdate: (input, next) => (tracers ? tracers.inbound.handleUpdate(input, next) : next(input)),
    validateUpdate: (input, next) => (tracers ? tracers.inbound.validateUpdate(input, next) : next(input)),
    handleQuery: (input, next) => (tracers ? tracers.inbound.handleQuery(input, next) : next(input)),
  };

  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity: (input, next) => (tracers ? tracers.outbound.scheduleActivity(input, next) : next(input)),
    scheduleLocalActivity: (input, next) =>
      tracers ? tracers.outbound.scheduleLocalActivity(input, next) : next(input),
    startChildWorkflowExecution: (input, next) =>
      tracers ? tracers.outbound.startChildWorkflowExecution(input, next) : next(input),
    continueAsNew: (input, next) => (tracers ? tracers.outbound.continueAsNew(input, next) : next(input)),
    signalWorkflow: (input, next) => (tracers ? tracers.outbound.signalWorkflow(input, next) : next(input)),
    getLogAttributes: (input, next) => (tracers ? tracers.outbound.getLogAttributes(input, next) : next(input)),
  };

  const internals: WorkflowInternalsInterceptor = {
    // The OpenTelemetry interceptor's dispose is async (it ends spans); the SDK does not await it.
    dispose: (input, next) => (tracers ? void tracers.internals.dispose(input, next) : next(input)),
  };

  return { inbound: [inbound], outbound: [outbound], internals: [internals] };
};
