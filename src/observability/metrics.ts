import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MessageStage } from '../domain/models.js';
import { LruMap } from '../lib/caches.js';
import { secretsEqual } from '../lib/secrets.js';

/**
 * The Prometheus metrics of chatrelay, one registry per process (or per test), built with prom-client.
 * Names and labels are documented in docs/operations.md ("Metrics"); keep the two in step.
 * Labels only ever take values from small fixed sets (route patterns, activity types, outcomes),
 * never ids, URLs or texts, so the number of series stays bounded.
 */

const httpBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const callBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
// Stages last from milliseconds (validating) to hours (a retry schedule's later steps, a pause).
const stageBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000];

export interface ApiMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  /** Messages the load gate refused (src/api/load-gate.ts). */
  readonly messagesShed: Counter;
  /** The task queue backlog the load gate assumes, by task type. */
  readonly taskQueueBacklog: Gauge<'task_type'>;
}

/**
 * The API's metrics: every HTTP request by route pattern, method and status, and how long it took;
 * the messages refused under overload and the backlog that decides it.
 */
export function createApiMetrics(options: { processMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'chatrelay_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status code.',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'chatrelay_http_request_duration_seconds',
      help: 'Time from receiving a request to sending its answer (for the webhook: the time to acknowledge a message).',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: httpBuckets,
      registers: [registry],
    }),
    messagesShed: new Counter({
      name: 'chatrelay_messages_shed_total',
      help: 'Inbound messages refused with 503 overloaded because the accepted ones wait too long (OVERLOAD_MAX_BACKLOG_MS).',
      registers: [registry],
    }),
    taskQueueBacklog: new Gauge({
      name: 'chatrelay_task_queue_backlog_seconds',
      help: "How long the oldest task waiting in the task queue has waited, by task type (workflow, activity), as this API process's load gate assumes it; 0 when empty or unknown.",
      labelNames: ['task_type'] as const,
      registers: [registry],
    }),
  };
}

export type ModelCall = 'chat' | 'transcription' | 'speech';

export interface WorkerMetrics {
  readonly registry: Registry;
  readonly messages: Counter<'outcome'>;
  readonly deliveryAttempts: Counter<'result'>;
  readonly activityDuration: Histogram<'activity' | 'outcome'>;
  readonly activityErrors: Counter<'activity' | 'error_type'>;
  readonly modelCallDuration: Histogram<'call' | 'outcome'>;
  readonly modelCallErrors: Counter<'call' | 'error_type'>;
  readonly replyDelayWaitsStarted: Counter;
  /** Reply-delay waits in progress on this worker; see ReplyDelayTracker. */
  readonly replyDelay: ReplyDelayTracker;
  /** Time spent in each stage, as the workflows report entering them; see StageTracker. */
  readonly stages: StageTracker;
  readonly sdkMetricsUp: Gauge;
}

/** The worker's metrics: messages by outcome, deliveries, activities, model calls and reply-delay waits. */
export function createWorkerMetrics(options: { processMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const replyDelay = new ReplyDelayTracker();
  const stageDuration = new Histogram({
    name: 'chatrelay_message_stage_duration_seconds',
    help: 'Time messages (and redeliveries) spent in a stage (validating, generating, waiting_turn, retry_pending, ...), observed when they leave it.',
    labelNames: ['stage'] as const,
    buckets: stageBuckets,
    registers: [registry],
  });
  new Gauge({
    name: 'chatrelay_reply_delay_waits_in_progress',
    help: "Messages whose workflow, cached on this worker, is waiting out its channel's reply delay.",
    registers: [registry],
    collect() {
      this.set(replyDelay.size());
    },
  });
  return {
    registry,
    replyDelay,
    stages: new StageTracker((stage, seconds) => stageDuration.observe({ stage }, seconds)),
    messages: new Counter({
      name: 'chatrelay_messages_total',
      help: 'Messages finished, by outcome (delivered, failed, not_answered, coalesced, superseded).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    deliveryAttempts: new Counter({
      name: 'chatrelay_delivery_attempts_total',
      help: 'Reply POSTs to receivers, by result (delivered, retry, gone, rejected; error when the attempt itself failed).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    activityDuration: new Histogram({
      name: 'chatrelay_activity_duration_seconds',
      help: 'Duration of activity executions, by activity type and outcome (ok, error).',
      labelNames: ['activity', 'outcome'] as const,
      buckets: callBuckets,
      registers: [registry],
    }),
    activityErrors: new Counter({
      name: 'chatrelay_activity_errors_total',
      help: 'Activity executions that failed, by activity type and error type.',
      labelNames: ['activity', 'error_type'] as const,
      registers: [registry],
    }),
    modelCallDuration: new Histogram({
      name: 'chatrelay_model_call_duration_seconds',
      help: 'Duration of calls to the model API, by call (chat, transcription, speech) and outcome (ok, error).',
      labelNames: ['call', 'outcome'] as const,
      buckets: callBuckets,
      registers: [registry],
    }),
    modelCallErrors: new Counter({
      name: 'chatrelay_model_call_errors_total',
      help: 'Failed calls to the model API, by call and error type (ModelUnavailable: retried; ModelRejected: final).',
      labelNames: ['call', 'error_type'] as const,
      registers: [registry],
    }),
    replyDelayWaitsStarted: new Counter({
      name: 'chatrelay_reply_delay_waits_started_total',
      help: "Messages that started waiting out their channel's reply delay.",
      registers: [registry],
    }),
    sdkMetricsUp: new Gauge({
      name: 'chatrelay_temporal_sdk_metrics_up',
      help: "1 when the Temporal SDK's own metrics (temporal_*) could be read for this scrape, else 0.",
      registers: [registry],
    }),
  };
}

/**
 * Reply-delay waits in progress, as seen by the workflows this worker has in its cache. The
 * workflow interceptor reports the start and the end of the wait through a sink that also runs
 * during replay, so a workflow that moves to another worker (after a restart) is counted there.
 * A wait whose workflow was evicted from this worker's cache and ended elsewhere is dropped here
 * once it should have ended (its delay plus a minute), so a sum over workers stays close.
 */
export class ReplyDelayTracker {
  private readonly waits = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  started(workflowId: string, delayMs: number): void {
    this.waits.set(workflowId, this.now() + delayMs + 60_000);
  }

  ended(workflowId: string): void {
    this.waits.delete(workflowId);
  }

  /** Whether this workflow's wait is being tracked already (a replay reporting it again). */
  has(workflowId: string): boolean {
    return (this.waits.get(workflowId) ?? 0) >= this.now();
  }

  size(): number {
    const now = this.now();
    for (const [workflowId, expiresAt] of this.waits) if (expiresAt < now) this.waits.delete(workflowId);
    return this.waits.size;
  }
}

const finalStages: ReadonlySet<MessageStage> = new Set([
  'delivered',
  'failed',
  'not_answered',
  'coalesced',
  'superseded',
]);

/**
 * How long each workflow stays in a stage: the workflow reports every stage it enters (by name,
 * not inferred from its activities or timers); when it enters the next, the time since is observed
 * for the one it left. A final stage ends the tracking. Only what this worker saw is timed: a
 * workflow taken over from another worker is timed from its next stage on. At most `maxTracked`
 * workflows are tracked; past that the least recently moved is forgotten (evicted elsewhere, say).
 */
export class StageTracker {
  private readonly current: LruMap<string, { stage: MessageStage; since: number }>;

  constructor(
    private readonly observe: (stage: MessageStage, seconds: number) => void,
    private readonly now: () => number = Date.now,
    maxTracked = 10_000,
  ) {
    this.current = new LruMap(maxTracked);
  }

  entered(workflowId: string, stage: MessageStage): void {
    const at = this.now();
    const left = this.current.get(workflowId);
    if (left) this.observe(left.stage, (at - left.since) / 1000);
    if (finalStages.has(stage)) this.current.delete(workflowId);
    else this.current.set(workflowId, { stage, since: at });
  }

  /** Workflows whose stage is being timed. */
  get size(): number {
    return this.current.size;
  }
}

/** A short, label-safe name for an error: a Temporal failure's type, else the error's class name. */
export function errorType(error: unknown): string {
  const type = (error as { type?: unknown } | null)?.type;
  const name = typeof type === 'string' && type.length > 0 ? type : error instanceof Error ? error.name : typeof error;
  return name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'unknown';
}

/**
 * Whether a scrape may read the metrics: always when no token is configured, else only with
 * `Authorization: Bearer <token>`.
 */
export function metricsAuthorized(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const presented = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (presented === undefined) return false;
  // Digests of both, compared in constant time: comparing the tokens themselves would answer a
  // wrong length at once, and so tell a caller how long the token is.
  return secretsEqual(presented, token);
}
