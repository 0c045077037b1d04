/**
 * chatrelay benchmark: acknowledgement latency, end-to-end orchestration overhead and throughput,
 * against a non-durable baseline (bench/baseline.ts) on the same load, in the same run.
 *
 *   npm run bench -- [--rate 50] [--duration 60] [--chats 100] [--model-latency-ms 500]
 *                    [--reply-delay-s 0] [--long-ratio 0.2] [--out bench-results/x.json]
 *   npm run bench -- --overload-rate 15 --overload-duration 60   then an overload phase
 *   npm run bench -- --smoke            20 messages at 10/s, for tests and a quick look
 *   npm run bench -- --compare-ops      payload encryption and tracing, on and off, back to back
 *   npm run bench -- --no-baseline --feature voice-in   the cost of one feature (bench/lib/features.ts)
 *   npm run bench -- --help             every option
 *
 * See docs/benchmarks.md for what is measured, how, and the figures on the reference machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/stack/tools.js';
import { collections } from '../src/stores/collections.js';
import { openDatabase, type Database } from '../src/stores/db.js';
import { preloadMessages } from './lib/preload.js';
import {
  featureConflict,
  featureMessage,
  featureShortfall,
  featureWaitSeconds,
  handoffReplies,
  oneChatPerMessage,
  parseFeature,
} from './lib/features.js';
import { startFlakyModel } from './lib/flaky-model.js';
import { preseedChats } from './lib/preseed.js';
import { formatScaleComparison, type ScaleRowResult } from './lib/scale-report.js';
import { chatIdFor } from '../src/stores/chats.js';
import { analyze, deliversPart } from './lib/analyze.js';
import { Cleanup } from './lib/children.js';
import {
  benchClientId,
  closeLoadAgent,
  planWorkload,
  runOpenLoop,
  type PlannedMessage,
  type SendRecord,
  type Target,
} from './lib/load.js';
import { commandCounters, mongoFigures, runningMessageWorkflows, temporalFigures } from './lib/observe.js';
import { machineBusyCores, ProcessSampler } from './lib/procstat.js';
import { startBenchReceiver, type BenchReceiver } from './lib/receiver.js';
import { computeRatios, formatTable, type BenchConfig, type BenchResult, type SystemResult } from './lib/report.js';
import { overloadResult, type OverloadResult } from './lib/overload.js';
import { cpuMsPerMessage, formatOpsComparison, type OpsVariantResult } from './lib/ops-report.js';
import { onOff, opsEnv, opsVariants, type OpsSettings } from './lib/ops-variants.js';
import { startOtlpSink } from './lib/otlp-sink.js';
import {
  createBenchChannel,
  startBaseline,
  startChatrelay,
  startFakeModel,
  startLocalServers,
  type LocalServers,
  type LocalStack,
} from './lib/stack.js';
import { formatProfileSummary, summarizeProfile, type ProfileSummary } from './profile-summary.js';

const HELP = `Usage: npm run bench -- [options]

Load
  --rate R               messages per second, sent open-loop on a fixed timetable (default 50)
  --duration S           seconds of load (default 60); messages = rate x duration
  --chats M              distinct client_ids the messages are spread over (default 100)
  --model-latency-ms L   the fake model's delay before every answer (default 500)
  --reply-delay-s D      the channel's reply delay (default 0)
  --coalesce-window-s W  the channel's burst window (default 0, off); every reply then waits it out,
                         and it counts as a fixed wait, like the delay (needs --no-baseline)
  --long-ratio F         fraction of messages whose reply splits into several parts (default 0.2)
  --long-chars N         length of a long message; the model echoes it (default 1500)
  --max-message-length N the channel's max_message_length (default 500: a long reply is 4 parts)
  --seed N               seed of the workload plan (default 1)
  --smoke                20 messages at 10/s over 5 chats, 50 ms model latency (overrides the above)
  --feature F            every message uses one feature, to measure its cost (needs --no-baseline):
                         voice-in        a voice note (the benchmark serves it), downloaded and transcribed
                         voice-out       the channel's voice_replies always: every part spoken
                         interim         the agent's interim_after_seconds 1: an interim part before every
                                         answer (needs --model-latency-ms above 1000)
                         handoff         the model hands the chat to a person (a chat per message)
                         model-retry     the model's first answer to every message is a 500
                         receiver-retry  the receiver's first answer to every message's first part is a 503;
                                         the first DELIVERY_RETRY_SCHEDULE wait counts as a fixed wait

Overload (chatrelay only, after the main phase; off unless --overload-rate is given)
  --overload-rate R      messages per second offered, e.g. three times what the stack sustains
  --overload-duration S  seconds of overload (default 60)
  Reported: offered, accepted, shed (503 overloaded / 429; not retried), completed msg/s of the
  accepted ones, lost and duplicated parts, ack p99.

Operations settings (the API's and worker's; the local stack only)
  --payload-encryption on|off  encrypt payloads written to Temporal (default on, as in production)
  --tracing on|off       OpenTelemetry traces of every message, exported over OTLP/HTTP to a sink
                         in the benchmark process on 127.0.0.1 (default off, as in production)
  --compare-ops          the chatrelay phase once per setting, back to back on the same Temporal and
                         MongoDB: plain, encryption, tracing, both (API and worker restarted for each,
                         on a task queue of their own, each with its warm-up); a table of the
                         differences per message. The main figures are then encryption on, tracing off.

Run
  --out FILE             where to write the JSON (default bench-results/bench-<time>.json)
  --no-baseline          skip the baseline phase
  --warmup N             messages sent (and answered) before each phase (default 20)
  --drain-timeout-s S    how long after the last send to wait for replies (default 60)
  --grace-s S            how long to keep listening for duplicates after the last reply (default 2)
  --temporal-db memory|file  the dev server's state: in memory or a temp SQLite file (default file)
  --profile              run the API, worker and baseline with --cpu-prof; summaries go in the JSON
  --env KEY=VALUE        extra environment for the API and worker (repeatable)
  --history-samples N    workflow histories fetched per workflow type (default 20)
  --preload N            store N messages of the same chats before the load: the cost once data has piled up
  --preseed-chats LIST   e.g. 0,20000,100000: the chatrelay phase once per size, on the same stack, after
                         topping the database up to that many earlier conversations of other users (each a
                         chat, its line place and head, a message, its reply, attempts and outcome); a table
                         compares each size with the first (docs/benchmarks.md, "Flat as data grows")

Use a running stack instead of starting one
  --url URL              the API's base URL, e.g. http://127.0.0.1:8080
  --mongodb-uri URI      its MongoDB (default $MONGODB_URI), to create the bench agent and channel
  --mongodb-db NAME      (default $MONGODB_DB or chatrelay)
  --temporal-address A   its Temporal frontend, for history counts (default $TEMPORAL_ADDRESS; omit to skip)
  --namespace NS         (default $TEMPORAL_NAMESPACE or default)
  --task-queue Q         (default $TEMPORAL_TASK_QUEUE or chatrelay)
  The running stack's model must echo (the demo model does) and its latency be given with --model-latency-ms.
`;

interface Options extends BenchConfig {
  out: string;
  baseline: boolean;
  historySamples: number;
  /** Messages stored before the load starts, to measure the cost once data has piled up. */
  preload: number;
  /** Earlier conversations before each chatrelay phase, ascending (empty: one phase, none stored). */
  preseedChats: number[];
  mongodbUri: string | null;
  mongodbDb: string;
  temporalAddress: string | null;
  namespace: string;
  taskQueue: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rate: { type: 'string' },
      duration: { type: 'string' },
      chats: { type: 'string' },
      'model-latency-ms': { type: 'string' },
      'reply-delay-s': { type: 'string' },
      'coalesce-window-s': { type: 'string' },
      'long-ratio': { type: 'string' },
      'long-chars': { type: 'string' },
      'max-message-length': { type: 'string' },
      seed: { type: 'string' },
      smoke: { type: 'boolean' },
      'overload-rate': { type: 'string' },
      'overload-duration': { type: 'string' },
      out: { type: 'string' },
      'no-baseline': { type: 'boolean' },
      warmup: { type: 'string' },
      'drain-timeout-s': { type: 'string' },
      'grace-s': { type: 'string' },
      'temporal-db': { type: 'string' },
      profile: { type: 'boolean' },
      env: { type: 'string', multiple: true },
      'history-samples': { type: 'string' },
      preload: { type: 'string' },
      'preseed-chats': { type: 'string' },
      url: { type: 'string' },
      'mongodb-uri': { type: 'string' },
      'mongodb-db': { type: 'string' },
      'temporal-address': { type: 'string' },
      namespace: { type: 'string' },
      'task-queue': { type: 'string' },
      'payload-encryption': { type: 'string' },
      tracing: { type: 'string' },
      'compare-ops': { type: 'boolean' },
      feature: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const num = (name: keyof typeof values, fallback: number, check: (n: number) => boolean = (n) => n >= 0): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (typeof raw !== 'string' || !Number.isFinite(value) || !check(value))
      throw new Error(`--${name}: invalid value ${JSON.stringify(raw)}`);
    return value;
  };
  const smoke = values.smoke === true;
  const rate = smoke ? 10 : num('rate', 50, (n) => n > 0);
  const durationSeconds = smoke ? 2 : num('duration', 60, (n) => n > 0);
  const temporalDb = values['temporal-db'] ?? 'file';
  if (temporalDb !== 'memory' && temporalDb !== 'file') throw new Error('--temporal-db must be memory or file');
  const extraEnv: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--env expects KEY=VALUE, got ${JSON.stringify(pair)}`);
    extraEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const url = values.url ?? null;
  if (values['overload-duration'] !== undefined && values['overload-rate'] === undefined)
    throw new Error('--overload-duration needs --overload-rate');
  const overload =
    values['overload-rate'] === undefined
      ? undefined
      : { rate: num('overload-rate', 0, (n) => n > 0), durationSeconds: num('overload-duration', 60, (n) => n > 0) };
  const payloadEncryption = onOff('payload-encryption', values['payload-encryption']);
  const tracing = onOff('tracing', values.tracing);
  const compareOps = values['compare-ops'] === true;
  const ops =
    payloadEncryption === undefined && tracing === undefined
      ? undefined
      : { payloadEncryption: payloadEncryption ?? true, tracing: tracing ?? false };
  if ((ops || compareOps) && url)
    throw new Error('--payload-encryption, --tracing and --compare-ops need the local stack (no --url)');
  if (compareOps && ops)
    throw new Error('--compare-ops measures every setting: drop --payload-encryption and --tracing');
  if (compareOps && (overload || values.profile || values.preload !== undefined))
    throw new Error('--compare-ops does not combine with --overload-rate, --profile or --preload');
  const preseedChats = (values['preseed-chats'] ?? '')
    .split(',')
    .filter((item) => item.trim() !== '')
    .map((item) => {
      const n = Number(item);
      if (!Number.isInteger(n) || n < 0) throw new Error(`--preseed-chats: invalid size ${JSON.stringify(item)}`);
      return n;
    });
  if (preseedChats.some((n, i) => i > 0 && n <= (preseedChats[i - 1] ?? 0)))
    throw new Error('--preseed-chats: the sizes must grow, e.g. 0,20000,100000');
  if (preseedChats.length > 0 && (url || compareOps || overload))
    throw new Error('--preseed-chats needs the local stack and does not combine with --compare-ops or --overload-rate');
  if (values['coalesce-window-s'] !== undefined && values['no-baseline'] !== true)
    throw new Error('--coalesce-window-s needs --no-baseline (the baseline does not coalesce)');
  const feature = parseFeature(values.feature);
  // --smoke keeps its 50 ms model, unless a feature's run asks for a slower one (interim needs it).
  const modelLatencyMs =
    smoke && !(feature && values['model-latency-ms'] !== undefined) ? 50 : num('model-latency-ms', 500);
  const conflict =
    feature && featureConflict(feature, { baseline: values['no-baseline'] !== true, url, modelLatencyMs });
  if (conflict) throw new Error(conflict);
  if (feature && (compareOps || preseedChats.length > 0 || overload))
    throw new Error('--feature does not combine with --compare-ops, --preseed-chats or --overload-rate');
  const messages = Math.max(1, Math.round(rate * durationSeconds));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    mode: url ? 'url' : 'local',
    smoke,
    rate,
    durationSeconds,
    messages,
    chats: oneChatPerMessage(feature) ? messages : smoke ? 5 : num('chats', 100, (n) => Number.isInteger(n) && n >= 1),
    modelLatencyMs,
    replyDelaySeconds: smoke ? 0 : num('reply-delay-s', 0),
    coalesceWindowSeconds: smoke ? 0 : num('coalesce-window-s', 0, (n) => Number.isInteger(n) && n >= 0 && n <= 60),
    longRatio: smoke ? 0.25 : num('long-ratio', 0.2, (n) => n >= 0 && n <= 1),
    longChars: num('long-chars', 1500, (n) => Number.isInteger(n) && n >= 1 && n <= 15_000),
    maxMessageLength: num('max-message-length', 500, (n) => Number.isInteger(n) && n >= 50),
    warmupMessages: num('warmup', smoke ? 3 : 20, (n) => Number.isInteger(n) && n >= 0),
    drainTimeoutSeconds: num('drain-timeout-s', 60),
    graceSeconds: num('grace-s', smoke ? 1 : 2),
    seed: num('seed', 1, Number.isInteger),
    temporalDb: url ? null : temporalDb,
    url,
    profile: values.profile === true,
    extraEnv,
    ...(overload ? { overload } : {}),
    ...(ops ? { ops } : {}),
    ...(compareOps ? { compareOps } : {}),
    ...(feature ? { feature } : {}),
    out: resolve(values.out ?? join(projectRoot, 'bench-results', `bench-${stamp}.json`)),
    baseline: values['no-baseline'] !== true,
    historySamples: num('history-samples', 20, (n) => Number.isInteger(n) && n >= 1),
    preload: num('preload', 0, (n) => Number.isInteger(n) && n >= 0),
    preseedChats,
    mongodbUri: values['mongodb-uri'] ?? process.env.MONGODB_URI ?? null,
    mongodbDb: values['mongodb-db'] ?? process.env.MONGODB_DB ?? 'chatrelay',
    temporalAddress: values['temporal-address'] ?? process.env.TEMPORAL_ADDRESS ?? null,
    namespace: values.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: values['task-queue'] ?? process.env.TEMPORAL_TASK_QUEUE ?? 'chatrelay',
  };
}

const log = (line: string): void => console.error(`[bench] ${line}`);

/** What every reply waits on purpose, as the model's latency: the reply delay, the burst window, a feature's wait. */
const fixedWaitSeconds = (options: Options): number =>
  options.replyDelaySeconds + options.coalesceWindowSeconds + featureWaitSeconds(options.feature, options.extraEnv);

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, {
      cwd: projectRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

function machineInfo(mongoServer: string | null): Record<string, string | number | null> {
  const cpus = os.cpus();
  let temporalVersion: string | null = null;
  try {
    temporalVersion = execFileSync(join(projectRoot, '.tools/bin/temporal'), ['--version'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    // Not provisioned here (e.g. --url mode).
  }
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    temporal: temporalVersion,
    mongodbServer: mongoServer,
  };
}

/** Waits until every part of every accepted message has arrived on `path`, or the deadline passes. */
async function waitForReplies(
  receiver: BenchReceiver,
  path: string,
  from: number,
  sends: readonly SendRecord[],
  deadline: number,
  stop: () => boolean,
): Promise<void> {
  const expected = new Set<string>();
  for (const send of sends) {
    if (send.status !== 200 || !send.messageId) continue;
    for (let index = 0; index < send.planned.expectedParts; index++) expected.add(`${send.messageId}.${index}`);
  }
  let scanned = from;
  while (expected.size > 0 && performance.now() < deadline && !stop()) {
    const arrivals = receiver.arrivals;
    for (; scanned < arrivals.length; scanned++) {
      const arrival = arrivals[scanned];
      if (arrival?.webhookId && deliversPart(arrival, path)) expected.delete(arrival.webhookId);
    }
    if (expected.size > 0) await sleep(50);
  }
}

interface PhaseOutput {
  sends: SendRecord[];
  arrivalsFrom: number;
  sampler: ReturnType<ProcessSampler['stop']>;
  startedAt: Date;
  /** Cores busy on the machine just before the phase started. */
  busyBefore: number;
}

let interrupted = false;

async function runPhase(
  name: string,
  target: Target,
  receiver: BenchReceiver,
  path: string,
  plan: readonly PlannedMessage[],
  options: Options,
  pids: Record<string, number>,
  breakDown: string[],
): Promise<PhaseOutput> {
  // Other work on the machine distorts every figure: say so before starting.
  const busyBefore = await machineBusyCores();
  if (busyBefore > 0.3)
    log(
      `${name}: WARNING the machine is already busy (${busyBefore} of ${os.cpus().length} cores) before the load starts; figures will be distorted`,
    );
  const arrivalsFrom = receiver.arrivals.length;
  const sampler = new ProcessSampler(pids, breakDown);
  const startedAt = new Date();
  log(`${name}: sending ${plan.length} messages at ${options.rate}/s over ${options.chats} chats`);
  sampler.start();
  const sends = await runOpenLoop(target, plan, () => interrupted);
  const fixedMs = options.modelLatencyMs + fixedWaitSeconds(options) * 1000;
  const deadline = performance.now() + options.drainTimeoutSeconds * 1000 + fixedMs;
  const accepted = sends.filter((send) => send.status === 200).length;
  log(`${name}: all ${sends.length} POSTs answered (${accepted} accepted); waiting for replies`);
  await waitForReplies(receiver, path, arrivalsFrom, sends, deadline, () => interrupted);
  // Keep listening a little: a duplicate would arrive after the first copy.
  await sleep(options.graceSeconds * 1000);
  return { sends, arrivalsFrom, sampler: sampler.stop(), startedAt, busyBefore };
}

/** Sends a few messages (not measured) and waits for their replies: connections, JIT and the worker's polls are warm after it. */
async function warmUp(
  name: string,
  target: Target,
  receiver: BenchReceiver,
  path: string,
  options: Options,
  tag: string,
  shape: (message: PlannedMessage) => PlannedMessage = (message) => message,
): Promise<void> {
  if (options.warmupMessages === 0) return;
  const plan = planWorkload({
    rate: 10,
    count: options.warmupMessages,
    // A chat per message when the channel coalesces (the warm-up must not be one burst) or hands chats off.
    chats:
      options.coalesceWindowSeconds > 0 || oneChatPerMessage(options.feature)
        ? options.warmupMessages
        : Math.min(options.warmupMessages, 5),
    longRatio: 0.3,
    longChars: options.longChars,
    maxMessageLength: options.maxMessageLength,
    seed: options.seed + 1000,
    tag,
  }).map(shape);
  const from = receiver.arrivals.length;
  const sends = await runOpenLoop(target, plan, () => interrupted);
  const failed = sends.filter((send) => send.status !== 200);
  if (failed.length > 0)
    throw new Error(`${name} warm-up: ${failed.length} POSTs failed, e.g. ${failed[0]?.error ?? ''}`);
  await waitForReplies(
    receiver,
    path,
    from,
    sends,
    performance.now() + 120_000 + fixedWaitSeconds(options) * 1000,
    () => interrupted,
  );
  const result = analyze(sends, receiver.on(path, from), {
    modelLatencyMs: options.modelLatencyMs,
    replyDelaySeconds: fixedWaitSeconds(options),
  });
  if (result.replies.lostParts > 0)
    throw new Error(`${name} warm-up: ${result.replies.lostParts} reply parts did not arrive within 120 s`);
  log(`${name}: warmed up with ${plan.length} messages`);
}

function systemResult(
  output: PhaseOutput,
  receiver: BenchReceiver,
  path: string,
  options: Options,
  own: string[],
): SystemResult {
  const figures = analyze(output.sends, receiver.on(path, output.arrivalsFrom), {
    modelLatencyMs: options.modelLatencyMs,
    replyDelaySeconds: fixedWaitSeconds(options),
  });
  const ownCpu = own
    .map((name) => output.sampler.processes[name]?.cpuSeconds)
    .filter((value): value is number => typeof value === 'number');
  const cpuMsPerMessage =
    ownCpu.length > 0 && figures.replies.accepted > 0
      ? Number(((ownCpu.reduce((a, b) => a + b, 0) * 1000) / figures.replies.accepted).toFixed(2))
      : null;
  return {
    ...figures,
    windowSeconds: output.sampler.windowSeconds,
    machineBusyPercent: output.sampler.machineBusyPercent,
    otherCores: output.sampler.otherCores,
    busyCoresBefore: output.busyBefore,
    processes: output.sampler.processes,
    cpuMsPerMessage,
    cpuTimeline: output.sampler.timeline,
  };
}

function profileSummaries(dir: string): ProfileSummary[] {
  try {
    return readdirSync(dir)
      .filter((file) => file.endsWith('.cpuprofile'))
      .map((file) => summarizeProfile(join(dir, file)));
  } catch {
    return [];
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const cleanup = new Cleanup();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      log(`${signal}: stopping every process`);
      void cleanup.runAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  const startedAt = new Date();
  const errors: string[] = [];
  const profileDir = join(
    dirname(options.out),
    `${
      options.out
        .replace(/\.json$/, '')
        .split('/')
        .pop() ?? 'bench'
    }-profiles`,
  );
  const nodeArgs = (name: string): string[] =>
    options.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`] : [];
  let database: Database | undefined;
  try {
    const receiver = await startBenchReceiver(
      // Every message's first part, once: one retried delivery per message.
      options.feature === 'receiver-retry' ? { refuseFirst: (webhookId) => webhookId.endsWith('.0') } : {},
    );
    cleanup.add('receiver', () => receiver.close());
    const model = await startFakeModel(cleanup, options.modelLatencyMs);
    log(`fake model at ${model.baseURL} (latency ${options.modelLatencyMs} ms)`);
    const flakyModel = options.feature === 'model-retry' ? await startFlakyModel(model.baseURL) : undefined;
    if (flakyModel) {
      cleanup.add('flaky model', () => flakyModel.close());
      log(`the API and worker ask ${flakyModel.baseURL}, which fails every message's first chat request`);
    }
    const sutModelUrl = flakyModel?.baseURL ?? model.baseURL;
    /** A planned message as the feature measured sends it. */
    const shape = (message: PlannedMessage): PlannedMessage =>
      featureMessage(message, options.feature, {
        audioBaseUrl: receiver.baseUrl,
        maxMessageLength: options.maxMessageLength,
      });

    // Tags this run's chats and message ids, so that runs against one database never meet.
    const runTag = `${Date.now().toString(36)}`;
    // Tracing on exports to a sink of ours on loopback.
    const otlpSink = options.compareOps || options.ops?.tracing ? await startOtlpSink() : undefined;
    if (otlpSink) cleanup.add('otlp sink', () => otlpSink.close());
    /** The API and worker with these operations settings (none: the defaults), on the servers. */
    const startApps = (servers: LocalServers, ops: OpsSettings | undefined, taskQueue?: string): Promise<LocalStack> =>
      startChatrelay(cleanup, servers, {
        modelBaseUrl: sutModelUrl,
        nodeArgs,
        extraEnv: { ...(ops ? opsEnv(ops, otlpSink?.endpoint) : {}), ...options.extraEnv },
        ...(taskQueue ? { taskQueue } : {}),
      });
    const variantQueue = (name: string): string => `chatrelay-bench-${name}`;

    // The system under test.
    let servers: LocalServers | undefined;
    let stack: LocalStack | undefined;
    let chatrelayTarget: Target;
    /** The bench channel (--preseed-chats stores its earlier conversations on it). */
    let benchChannelId: string | undefined;
    let temporal: { address: string; namespace: string; taskQueue: string } | undefined;
    if (options.mode === 'local') {
      log(`starting Temporal dev server (${options.temporalDb}), MongoDB-compatible server, API and worker`);
      servers = await startLocalServers(cleanup, { temporalDb: options.temporalDb ?? 'file' });
      const first = options.compareOps ? opsVariants[0] : undefined;
      stack = await startApps(servers, first ?? options.ops, first ? variantQueue(first.name) : undefined);
      database = openDatabase(stack.mongoUri, stack.mongoDb);
      temporal = { address: stack.temporalAddress, namespace: stack.namespace, taskQueue: stack.taskQueue };
      log(
        `stack ready: API ${stack.apiUrl}, Temporal ${stack.temporalAddress}, ${stack.mongoServer} ${stack.mongoUri}; pids ${JSON.stringify(stack.pids)}`,
      );
      const channel = await createBenchChannel(database, {
        replyUrl: `${receiver.baseUrl}/chatrelay`,
        replyDelaySeconds: options.replyDelaySeconds,
        maxMessageLength: options.maxMessageLength,
        coalesceWindowSeconds: options.coalesceWindowSeconds,
        ...(options.feature ? { feature: options.feature } : {}),
      });
      chatrelayTarget = { url: stack.apiUrl, token: channel.token, pageId: channel.pageId };
      benchChannelId = channel.channelId;
      if (options.preload > 0) {
        // In the benchmark's own chats (their history and line go on from the stored ones), as if the load came on top of days of traffic.
        log(`storing ${options.preload} messages of the same ${options.chats} chats before the load`);
        await preloadMessages(collections(database.db), {
          from: 0,
          to: options.preload,
          chats: options.chats,
          chatId: (index) => chatIdFor(channel.channelId, benchClientId(`chatrelay-${runTag}`, index)),
          idPrefix: 'msg_preloaded',
          channelId: 'preloaded',
          pageId: channel.pageId,
        });
      }
    } else {
      if (!options.mongodbUri)
        throw new Error('--url needs --mongodb-uri (or MONGODB_URI) to create the bench agent and channel');
      database = openDatabase(options.mongodbUri, options.mongodbDb);
      const channel = await createBenchChannel(database, {
        replyUrl: `${receiver.baseUrl}/chatrelay`,
        replyDelaySeconds: options.replyDelaySeconds,
        maxMessageLength: options.maxMessageLength,
        coalesceWindowSeconds: options.coalesceWindowSeconds,
        ...(options.feature ? { feature: options.feature } : {}),
      });
      chatrelayTarget = { url: (options.url ?? '').replace(/\/+$/, ''), ...channel };
      if (options.temporalAddress)
        temporal = { address: options.temporalAddress, namespace: options.namespace, taskQueue: options.taskQueue };
    }
    const database_ = database;

    // The baseline, against the same fake model and receiver.
    const baseline = options.baseline
      ? await startBaseline(cleanup, {
          modelBaseUrl: model.baseURL,
          replyUrl: `${receiver.baseUrl}/baseline`,
          maxMessageLength: options.maxMessageLength,
          replyDelaySeconds: options.replyDelaySeconds,
          nodeArgs: nodeArgs('baseline'),
        })
      : undefined;

    const workload = (system: string) =>
      planWorkload({
        rate: options.rate,
        count: options.messages,
        chats: options.chats,
        longRatio: options.longRatio,
        longChars: options.longChars,
        maxMessageLength: options.maxMessageLength,
        seed: options.seed,
        tag: `${system}-${runTag}`,
      }).map(shape);
    const benchPid = { bench: process.pid, model: model.pid };

    // Baseline first, while the durable stack sits idle: it is quick and leaves nothing running.
    let baselineResult: SystemResult | null = null;
    if (baseline && !interrupted) {
      const target: Target = { url: baseline.url, token: baseline.token, pageId: baseline.pageId };
      await warmUp('baseline', target, receiver, '/baseline', options, `warm-baseline-${runTag}`);
      const output = await runPhase(
        'baseline',
        target,
        receiver,
        '/baseline',
        workload('baseline'),
        options,
        { baseline: baseline.pid, ...benchPid },
        [],
      );
      baselineResult = systemResult(output, receiver, '/baseline', options, ['baseline']);
    }

    if (interrupted) return 130;
    /** The chatrelay phase against the running API and worker: warm-up, load, then Temporal's and MongoDB's counts. */
    const measureChatrelay = async (name: string): Promise<{ result: SystemResult; pids: Record<string, number> }> => {
      await warmUp(name, chatrelayTarget, receiver, '/chatrelay', options, `warm-${name}-${runTag}`, shape);
      const countersBefore = await commandCounters(database_.db);
      const featureBefore = {
        voiceNotesServed: receiver.voiceNotesServed(),
        modelFailures: flakyModel?.failures() ?? 0,
      };
      const pids: Record<string, number> = stack ? { ...stack.pids, ...benchPid } : { ...benchPid };
      const output = await runPhase(
        name,
        chatrelayTarget,
        receiver,
        '/chatrelay',
        workload(name),
        options,
        pids,
        stack ? ['api', 'worker'] : [],
      );
      const countersAfter = await commandCounters(database_.db);
      const result = systemResult(
        output,
        receiver,
        '/chatrelay',
        options,
        stack ? ['api', 'worker', 'temporal', 'mongodb'] : [],
      );
      result.mongodb = mongoFigures(countersBefore, countersAfter, result.replies.accepted);
      if (options.feature) {
        result.featureCounts = {
          voiceNotesServed: receiver.voiceNotesServed() - featureBefore.voiceNotesServed,
          modelFailures: (flakyModel?.failures() ?? 0) - featureBefore.modelFailures,
          handoffReplies: handoffReplies(receiver.on('/chatrelay', output.arrivalsFrom)),
        };
        const shortfall = featureShortfall(options.feature, result.replies, result.featureCounts);
        if (shortfall) {
          log(`WARNING ${shortfall}: the figures are not the feature's alone`);
          errors.push(shortfall);
        }
      }
      if (temporal && !interrupted) {
        result.stillRunningAtEnd = await runningMessageWorkflows({ ...temporal, since: output.startedAt });
        try {
          result.temporal = await temporalFigures({
            ...temporal,
            since: output.startedAt,
            acceptedMessages: result.replies.accepted,
            acknowledgedWorkflowIds: output.sends.flatMap((send) => (send.workflowId ? [send.workflowId] : [])),
            samplePerType: options.historySamples,
          });
        } catch (error) {
          result.temporal = { error: (error as Error).message };
          errors.push(`Temporal histories (${name}): ${(error as Error).message}`);
        }
      }
      return { result, pids };
    };

    let chatrelay: SystemResult;
    let pids: Record<string, number>;
    let opsComparison: OpsVariantResult[] | undefined;
    let scaleComparison: ScaleRowResult[] | undefined;
    if (options.preseedChats.length > 0) {
      // One phase per size, each after topping the database up: the same processes and servers throughout.
      scaleComparison = [];
      let stored = 0;
      for (const size of options.preseedChats) {
        if (interrupted) return 130;
        if (size > stored) {
          log(`storing earlier conversations ${stored} to ${size}`);
          const started = performance.now();
          await preseedChats(collections(database_.db), {
            from: stored,
            to: size,
            channelId: benchChannelId ?? 'preseeded',
            pageId: chatrelayTarget.pageId,
          });
          log(`stored ${size - stored} conversations in ${((performance.now() - started) / 1000).toFixed(0)} s`);
          stored = size;
        }
        const measured = await measureChatrelay(`chatrelay-${size}-chats`);
        scaleComparison.push({ preseededChats: size, result: measured.result });
        pids = measured.pids;
      }
      const first = scaleComparison[0];
      if (!first) throw new Error('--preseed-chats: no phase ran');
      chatrelay = first.result;
      pids ??= { ...benchPid };
    } else if (options.compareOps && servers && stack) {
      opsComparison = [];
      for (const [index, variant] of opsVariants.entries()) {
        if (interrupted) return 130;
        if (index > 0) {
          // The next setting: the same servers and channel, a fresh API and worker on a queue of their own.
          await cleanup.stopNow('worker');
          await cleanup.stopNow('api');
          stack = await startApps(servers, variant, variantQueue(variant.name));
          chatrelayTarget = { ...chatrelayTarget, url: stack.apiUrl };
          temporal = { address: stack.temporalAddress, namespace: stack.namespace, taskQueue: stack.taskQueue };
        }
        log(
          `${variant.name}: payload encryption ${variant.payloadEncryption ? 'on' : 'off'}, tracing ${variant.tracing ? 'on' : 'off'}`,
        );
        const sentBefore = otlpSink?.received();
        const measured = await measureChatrelay(`chatrelay-${variant.name}`);
        // Spans still buffered go out when the processes stop: count them with their setting.
        if (variant.tracing) {
          await cleanup.stopNow('worker');
          await cleanup.stopNow('api');
        }
        const sentAfter = otlpSink?.received();
        const otlp =
          variant.tracing && sentBefore && sentAfter
            ? {
                exports: sentAfter.exports - sentBefore.exports,
                bytes: sentAfter.bytes - sentBefore.bytes,
                bytesPerMessage:
                  measured.result.replies.accepted > 0
                    ? Math.round((sentAfter.bytes - sentBefore.bytes) / measured.result.replies.accepted)
                    : null,
              }
            : null;
        opsComparison.push({
          ...variant,
          taskQueue: stack.taskQueue,
          result: measured.result,
          appCpuMsPerMessage: cpuMsPerMessage(measured.result, ['api', 'worker']),
          otlp,
        });
        pids = measured.pids;
      }
      // The main figures: production's defaults (encryption on, tracing off).
      const production = opsComparison.find((variant) => variant.payloadEncryption && !variant.tracing);
      if (!production) throw new Error('--compare-ops: no setting with encryption on and tracing off');
      chatrelay = production.result;
      pids = { ...benchPid };
    } else {
      ({ result: chatrelay, pids } = await measureChatrelay('chatrelay'));
    }
    if (interrupted) return 130;

    // The overload phase, after the main phase's figures are taken (its workflows would count in them).
    let overload: OverloadResult | undefined;
    if (options.overload) {
      const { rate, durationSeconds } = options.overload;
      const phaseOptions: Options = { ...options, rate };
      const plan = planWorkload({
        rate,
        count: Math.max(1, Math.round(rate * durationSeconds)),
        chats: options.chats,
        longRatio: options.longRatio,
        longChars: options.longChars,
        maxMessageLength: options.maxMessageLength,
        seed: options.seed + 2000,
        tag: `overload-${runTag}`,
      });
      const phase = await runPhase(
        'overload',
        chatrelayTarget,
        receiver,
        '/chatrelay',
        plan,
        phaseOptions,
        pids,
        stack ? ['api', 'worker'] : [],
      );
      const figures = systemResult(
        phase,
        receiver,
        '/chatrelay',
        phaseOptions,
        stack ? ['api', 'worker', 'temporal', 'mongodb'] : [],
      );
      overload = overloadResult(rate, durationSeconds, phase.sends, figures);
      log(
        `overload: ${overload.accepted} of ${overload.offered} accepted, ${overload.shed.total} shed, ${overload.completedPerSecond ?? '-'} msg/s completed`,
      );
    }
    if (interrupted) return 130;

    let profiles: Record<string, ProfileSummary[]> | undefined;
    if (options.profile) {
      // Profiles are written when the processes exit.
      await cleanup.stopNow('worker');
      await cleanup.stopNow('api');
      await cleanup.stopNow('baseline');
      profiles = {};
      for (const name of ['api', 'worker', 'baseline']) {
        const summaries = profileSummaries(join(profileDir, name));
        if (summaries.length > 0) profiles[name] = summaries;
      }
    }

    const atTargetLoad = options.rate >= 50 && options.durationSeconds >= 60;
    const result: BenchResult = {
      schema: 'chatrelay-bench/1',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      config: {
        mode: options.mode,
        smoke: options.smoke,
        rate: options.rate,
        durationSeconds: options.durationSeconds,
        messages: options.messages,
        chats: options.chats,
        modelLatencyMs: options.modelLatencyMs,
        replyDelaySeconds: options.replyDelaySeconds,
        coalesceWindowSeconds: options.coalesceWindowSeconds,
        longRatio: options.longRatio,
        longChars: options.longChars,
        maxMessageLength: options.maxMessageLength,
        warmupMessages: options.warmupMessages,
        drainTimeoutSeconds: options.drainTimeoutSeconds,
        graceSeconds: options.graceSeconds,
        seed: options.seed,
        temporalDb: options.temporalDb,
        url: options.url,
        profile: options.profile,
        extraEnv: options.extraEnv,
        ...(options.overload ? { overload: options.overload } : {}),
        ...(options.ops ? { ops: options.ops } : {}),
        ...(options.compareOps ? { compareOps: true } : {}),
        ...(options.preseedChats.length > 0 ? { preseedChats: options.preseedChats } : {}),
        ...(options.feature ? { feature: options.feature } : {}),
      },
      machine: machineInfo(stack?.mongoServer ?? null),
      code: {
        commit: git(['rev-parse', 'HEAD']),
        uncommittedFiles: (() => {
          const status = git(['status', '--porcelain', '--', 'src']);
          return status === null ? null : status.split('\n').filter((line) => line.length > 0).length;
        })(),
      },
      chatrelay,
      baseline: baselineResult,
      ratios: computeRatios(chatrelay, baselineResult),
      targets: {
        ackP99Under50Ms: chatrelay.ackMs.p99 !== null && chatrelay.ackMs.p99 < 50,
        overheadP50Under250Ms: chatrelay.overheadMs.p50 !== null && chatrelay.overheadMs.p50 < 250,
        zeroLostAndDuplicated:
          chatrelay.replies.lostParts === 0 && chatrelay.replies.duplicateParts === 0 && chatrelay.ackErrors === 0,
        keptUp: chatrelay.throughput.keptUp,
        atTargetLoad,
      },
      ...(profiles ? { profiles } : {}),
      ...(overload ? { overload } : {}),
      ...(opsComparison ? { opsComparison } : {}),
      ...(scaleComparison ? { scaleComparison } : {}),
      errors,
    };
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(formatTable(result));
    if (opsComparison) console.log(`\n${formatOpsComparison(opsComparison)}`);
    if (scaleComparison) console.log(`\n${formatScaleComparison(scaleComparison)}`);
    if (profiles)
      for (const list of Object.values(profiles))
        for (const summary of list) console.log(`\n${formatProfileSummary(summary, 12)}`);
    console.log(`\nresults: ${options.out}`);
    return 0;
  } finally {
    closeLoadAgent();
    await database?.close().catch(() => undefined);
    await cleanup.runAll();
  }
}

main().then(
  (code) => process.exit(interrupted ? 130 : code),
  (error: unknown) => {
    if (interrupted) process.exit(130);
    console.error(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
