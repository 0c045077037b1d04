/**
 * The worker side of observability, wired in by createWorker (src/worker/worker.ts):
 * - an activity interceptor that runs every activity in a log context (workflowId, messageId,
 *   pageId) and times it into metrics; with tracing on (tracing.ts), in a span that continues the
 *   workflow's trace;
 * - the sinks workflows report reply-delay waits, stages and workflow spans through;
 * - a ModelClient wrapper that times every model API call (and traces it).
 */
import type { Context as ActivityContext } from '@temporalio/activity';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { trace } from '@opentelemetry/api';
import {
  OpenTelemetryActivityInboundInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptors, ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import type { ActivityReporter } from '../activities/deps.js';
import type { ModelClient } from '../activities/model.js';
import { messageIdOfWorkflow } from '../domain/ids.js';
import { runWithLogContext, type LogContext } from './log-context.js';
import { errorType, type ModelCall, type WorkerMetrics } from './metrics.js';
import { activeTracing, inSpan, messageAttributes, tracingSinks } from './tracing.js';
import type { ObservabilitySinks } from './workflow-interceptors.js';
import {
  logContextHeader,
  messageLogContext,
  observabilitySinkName,
  type MessageLogContext,
} from './workflow-context.js';

/**
 * The workflow interceptor modules, for WorkerOptions.interceptors.workflowModules and prebuilt
 * bundles: with tracing, its module first (outermost, so the others run inside the workflow's
 * span); then log context and the reply-delay gauge.
 *
 * The tracing module is bundled only when tracing is on: it brings the OpenTelemetry SDK (about
 * 400 modules) into the bundle, and the reusable V8 context evaluates every module of the bundle
 * again for each workflow it starts, so it alone was most of a message's workflow-thread CPU
 * (docs/benchmarks.md). Nothing the interceptors do is recorded in a history, so workers with
 * and without tracing replay each other's workflows.
 */
export function workflowInterceptorModules(options: { tracing: boolean }): string[] {
  return [
    ...(options.tracing ? [fileURLToPath(new URL('./workflow-tracing.ts', import.meta.url))] : []),
    fileURLToPath(new URL('./workflow-interceptors.ts', import.meta.url)),
  ];
}

/** A prebuilt bundle's traced twin (scripts/build-bundle.ts writes both): `x.js` -> `x.traced.js`. */
export function tracedBundlePath(path: string): string {
  return `${path.replace(/\.js$/, '')}.traced.js`;
}

function headerContext(payload: Payload | undefined): MessageLogContext {
  if (!payload) return {};
  try {
    return messageLogContext(defaultPayloadConverter.fromPayload(payload));
  } catch {
    return {};
  }
}

/** The ids of the message an activity works on: from the workflow's header, else its own input. */
export function activityLogContext(
  ctx: ActivityContext,
  args: unknown[],
  headers: Record<string, Payload>,
): LogContext {
  const info = ctx.info;
  const workflowId = info.workflowExecution?.workflowId;
  const fromHeader = headerContext(headers[logContextHeader]);
  const fromInput = messageLogContext(args[0]);
  const messageId =
    fromHeader.messageId ??
    fromInput.messageId ??
    (workflowId !== undefined ? messageIdOfWorkflow(workflowId) : undefined);
  const pageId = fromHeader.pageId ?? fromInput.pageId;
  return {
    ...(workflowId !== undefined ? { workflowId } : {}),
    ...(messageId !== undefined ? { messageId } : {}),
    ...(pageId !== undefined ? { pageId } : {}),
    activity: info.activityType,
  };
}

/**
 * Activity interceptors: every activity runs in its message's log context; with metrics, each is
 * timed by type and outcome, and its failures counted. (Deliveries and finished messages are
 * reported by the activities themselves, activityReporter; reply delays by the workflow's sink.)
 */
export function activityInterceptors(metrics: WorkerMetrics | undefined): ActivityInterceptorsFactory {
  return (ctx: ActivityContext): ActivityInterceptors => {
    let context: LogContext | undefined;
    // Tracing on: the activity runs in a span that continues the trace its workflow's header carries.
    const tracer = activeTracing() ? new OpenTelemetryActivityInboundInterceptor(ctx) : undefined;
    return {
      inbound: {
        execute(input, outerNext) {
          const next: typeof outerNext = tracer
            ? (inner) =>
                tracer.execute(inner, (traced) => {
                  trace.getActiveSpan()?.setAttributes(messageAttributes(context ?? {}));
                  return outerNext(traced);
                })
            : outerNext;
          context = activityLogContext(ctx, input.args, input.headers);
          const activity = ctx.info.activityType;
          const started = process.hrtime.bigint();
          const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
          return runWithLogContext(context, async () => {
            try {
              const result = await next(input);
              metrics?.activityDuration.observe({ activity, outcome: 'ok' }, seconds());
              return result;
            } catch (error) {
              if (metrics) {
                metrics.activityDuration.observe({ activity, outcome: 'error' }, seconds());
                metrics.activityErrors.inc({ activity, error_type: errorType(error) });
              }
              throw error;
            }
          });
        },
      },
      outbound: {
        // The SDK's own activity log lines (e.g. "Activity failed") get the message's ids too.
        getLogAttributes(input, next) {
          const { activity: _activity, ...ids } = context ?? {};
          return next({ ...ids, ...input });
        },
      },
    };
  };
}

/** What the activities report as it happens, counted into the worker's metrics. */
export function activityReporter(metrics: WorkerMetrics): ActivityReporter {
  return {
    deliveryAttempt: (result) => metrics.deliveryAttempts.inc({ result }),
    messageFinished: (status) => metrics.messages.inc({ outcome: status }),
  };
}

/** The sinks workflows report reply-delay waits and stages (no-ops without metrics) and spans (a no-op without tracing) through. */
export function observabilitySinks(
  metrics: WorkerMetrics | undefined,
): InjectedSinks<ObservabilitySinks & OpenTelemetrySinks> {
  return {
    ...tracingSinks(),
    [observabilitySinkName]: {
      replyDelayStarted: {
        fn: (info, delayMs) => {
          // Replays report the wait again (for the gauge); the counter counts each wait once. A
          // workflow replayed on this worker (evicted from its cache while it waited) may report it
          // from an activation not flagged as replaying (a local activity's result resolves in one),
          // so a wait already tracked is not counted again.
          if (!info.unsafe.isReplaying && !metrics?.replyDelay.has(info.workflowId))
            metrics?.replyDelayWaitsStarted.inc();
          metrics?.replyDelay.started(info.workflowId, delayMs);
        },
        callDuringReplay: true,
      },
      replyDelayEnded: {
        fn: (info) => metrics?.replyDelay.ended(info.workflowId),
        callDuringReplay: true,
      },
      // Not during replay: a stage is timed from when this worker saw it entered, once.
      stageEntered: {
        fn: (info, stage) => metrics?.stages.entered(info.workflowId, stage),
        callDuringReplay: false,
      },
    },
  };
}

/**
 * Wraps a ModelClient so that every call is a span (`model chat`, `model transcription`,
 * `model speech`, with the model's name) when tracing is on, and timed and its failures counted
 * when metrics are given.
 */
export function instrumentModelClient(model: ModelClient, metrics?: WorkerMetrics): ModelClient {
  const timed = async <T>(call: ModelCall, fn: () => Promise<T>): Promise<T> => {
    const end = metrics?.modelCallDuration.startTimer({ call });
    try {
      const result = await fn();
      end?.({ outcome: 'ok' });
      return result;
    } catch (error) {
      end?.({ outcome: 'error' });
      metrics?.modelCallErrors.inc({ call, error_type: errorType(error) });
      throw error;
    }
  };
  const observed = <T>(call: ModelCall, modelName: string, fn: () => Promise<T>): Promise<T> =>
    inSpan(`model ${call}`, { 'gen_ai.request.model': modelName }, () => timed(call, fn));
  return {
    complete: (request) => observed('chat', request.model, () => model.complete(request)),
    completeWithTools: (request) => observed('chat', request.model, () => model.completeWithTools(request)),
    transcribe: (request) => observed('transcription', request.model, () => model.transcribe(request)),
    speak: (request) => observed('speech', request.model, () => model.speak(request)),
  };
}
