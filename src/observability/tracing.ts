/**
 * OpenTelemetry tracing: one trace per message, from the inbound POST through
 * StartWorkflowExecution, the workflow, each activity and the model call to the reply POST, which
 * carries `traceparent`. Configured by the standard OTEL_* variables (OTEL_TRACES_EXPORTER,
 * OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, ...) through the
 * OpenTelemetry Node SDK; off when none is set (or OTEL_SDK_DISABLED=true, or
 * OTEL_TRACES_EXPORTER=none), and then nothing here costs more than a check.
 *
 * Process-wide, like OpenTelemetry's own global tracer provider: each entry point starts it once
 * before it builds its client or worker, and the wiring asks activeTracing() what to add.
 * Spans carry ids (message id, page id, workflow and activity ids, routes), never message content:
 * outgoing HTTP spans keep only the scheme and host of the URL, as a reply URL can hold a secret.
 */
import { context, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryWorkflowClientInterceptor,
  type OpenTelemetryWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSink } from '@temporalio/worker';
import { messageLogContext, type MessageLogContext } from './workflow-context.js';

export interface Tracing {
  readonly serviceName: string;
  /** Where every span ends, the workflow sandbox's included. */
  readonly processor: SpanProcessor;
  readonly resource: Resource;
  /** Exports what is buffered and stops; the process should exit after. */
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/** The tracing this process started, if any. */
export function activeTracing(): Tracing | undefined {
  return active;
}

/** Whether the environment asks for tracing: any OTEL_* variable set, unless the SDK is disabled. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER?.trim() === 'none') return false;
  return Object.entries(env).some(
    ([name, value]) => name.startsWith('OTEL_') && value !== undefined && value.trim() !== '',
  );
}

export interface StartTracingOptions {
  /** service.name unless OTEL_SERVICE_NAME says otherwise. */
  serviceName: string;
  env?: NodeJS.ProcessEnv;
  /** Tests: where spans go (e.g. an in-memory exporter); tracing is then on whatever the environment says. */
  spanProcessor?: SpanProcessor;
}

/**
 * Starts tracing when the environment (or a test's processor) asks for it; undefined when off.
 * The SDK is loaded only then, so a process without tracing does not pay for loading it.
 */
export async function startTracing(options: StartTracingOptions): Promise<Tracing | undefined> {
  const env = options.env ?? process.env;
  if (active) throw new Error('tracing is already started in this process');
  if (!options.spanProcessor && !tracingRequested(env)) return undefined;
  const [
    { NodeSDK },
    { UndiciInstrumentation },
    { detectResourcesSync, envDetectorSync, Resource },
    { getSpanProcessorsFromEnv },
  ] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-undici'),
    import('@opentelemetry/resources'),
    // The SDK's own reading of OTEL_TRACES_EXPORTER and the OTLP settings; not re-exported by its
    // index (the version is pinned exactly, so the path is stable). We need the processor itself:
    // workflow spans, made in the workflow sandbox, reach it through a sink.
    import('@opentelemetry/sdk-node/build/src/utils.js'),
  ]);
  const processors = options.spanProcessor ? [options.spanProcessor] : getSpanProcessorsFromEnv();
  if (processors.length === 0) return undefined;
  const processor = processors.length === 1 ? processors[0]! : fanOut(processors);
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || options.serviceName;
  const resource = detectResourcesSync({ detectors: [envDetectorSync] }).merge(
    new Resource({ 'service.name': serviceName }),
  );
  const sdk = new NodeSDK({
    serviceName,
    resource,
    spanProcessors: [processor],
    // Our logs and metrics have their own pipelines (pino, Prometheus).
    logRecordProcessors: [],
    instrumentations: [
      // fetch (undici): the model API calls and the reply POSTs, with `traceparent` added; only
      // inside a trace, so that metric scrapes and health checks start none.
      new UndiciInstrumentation({
        requireParentforSpans: true,
        requestHook: (span, request) => keepOriginOnly(span, request.origin),
      }),
    ],
  });
  sdk.start();
  const tracing: Tracing = {
    serviceName,
    processor,
    resource,
    async shutdown() {
      await sdk.shutdown();
      if (active === tracing) active = undefined;
    },
  };
  active = tracing;
  return tracing;
}

/** A reply URL may carry a secret in its path or query: outgoing spans keep scheme and host only. */
function keepOriginOnly(span: Span, origin: string): void {
  span.setAttributes({ 'url.full': origin, 'url.path': '/', 'url.query': '' });
}

function fanOut(processors: SpanProcessor[]): SpanProcessor {
  return {
    onStart: (span, parent) => processors.forEach((processor) => processor.onStart(span, parent)),
    onEnd: (span: ReadableSpan) => processors.forEach((processor) => processor.onEnd(span)),
    forceFlush: async () => void (await Promise.all(processors.map((processor) => processor.forceFlush()))),
    shutdown: async () => void (await Promise.all(processors.map((processor) => processor.shutdown()))),
  };
}

/** The attributes that say which message a span is about. */
export function messageAttributes(ids: MessageLogContext): Attributes {
  return {
    ...(ids.messageId !== undefined ? { 'chatrelay.message_id': ids.messageId } : {}),
    ...(ids.pageId !== undefined ? { 'chatrelay.page_id': ids.pageId } : {}),
  };
}

/**
 * Client interceptors when tracing is on: StartWorkflow/SignalWithStart spans whose context
 * travels in the workflow's headers, tagged with the message the workflow is about (read from its
 * first argument, or the signal's, by messageLogContext: no knowledge of particular workflows).
 */
export function tracingClientInterceptors(): WorkflowClientInterceptor[] {
  if (!active) return [];
  const tag = (...values: unknown[]): void => {
    const ids = values
      .map(messageLogContext)
      .find((found) => found.messageId !== undefined || found.pageId !== undefined);
    if (ids) trace.getActiveSpan()?.setAttributes(messageAttributes(ids));
  };
  return [
    new OpenTelemetryWorkflowClientInterceptor(),
    {
      start: (input, next) => {
        tag(input.options.args?.[0]);
        return next(input);
      },
      signalWithStart: (input, next) => {
        tag(input.options.args?.[0], input.signalArgs[0]);
        return next(input);
      },
    },
  ];
}

/** The sink workflow spans leave the sandbox through; a no-op when tracing is off (a traced workflow may still run here). */
export function tracingSinks(): { exporter: InjectedSink<OpenTelemetryWorkflowExporter> } {
  if (active) return { exporter: makeWorkflowExporter(active.processor, active.resource) };
  return { exporter: { export: { fn: () => undefined } } };
}

/** Runs `fn` in a span named `name` (a child of the active one), ended with its outcome. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!active) return fn();
  const span = trace.getTracer('chatrelay').startSpan(name, { attributes });
  const spanContext: Context = trace.setSpan(context.active(), span);
  try {
    return await context.with(spanContext, fn);
  } catch (error) {
    // The error's type only: its message may quote a user's URL or a provider's echo of the prompt.
    span.setStatus({ code: 2, message: error instanceof Error ? error.name : 'error' });
    throw error;
  } finally {
    span.end();
  }
}
