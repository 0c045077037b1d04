/** The benchmark's result document (written as JSON) and its table for the terminal. */
import type { SystemFigures } from './analyze.js';
import { featureEvidence, type BenchFeature, type FeatureCounts } from './features.js';
import type { MongoFigures, TemporalFigures } from './observe.js';
import type { OpsVariantResult } from './ops-report.js';
import type { OpsSettings } from './ops-variants.js';
import { formatOverload, type OverloadResult } from './overload.js';
import type { ProcessReport, ProcessTimelinePoint } from './procstat.js';
import type { ProfileSummary } from '../profile-summary.js';
import type { ScaleRowResult } from './scale-report.js';
import { ratio } from './stats.js';

export interface SystemResult extends SystemFigures {
  /** Measured window: from the first send to the last reply (plus the duplicate grace period). */
  windowSeconds: number;
  machineBusyPercent: number;
  /** Cores used by other processes on the machine during the window (not part of this benchmark). */
  otherCores: number;
  /** Cores busy on the machine in the 2 s before the phase (should be near 0). */
  busyCoresBefore: number;
  processes: Record<string, ProcessReport>;
  /** CPU milliseconds per accepted message, summed over the system's own processes (not the load generator or model). */
  cpuMsPerMessage: number | null;
  cpuTimeline: ProcessTimelinePoint[];
  /** Message workflows of this phase still running when it ended: missing parts of these are late, not lost. */
  stillRunningAtEnd?: number | null;
  temporal?: TemporalFigures | { error: string };
  mongodb?: MongoFigures;
  /** With --feature: what the feature made happen in the phase (warm-up left out). */
  featureCounts?: FeatureCounts;
}

export interface BenchConfig {
  mode: 'local' | 'url';
  smoke: boolean;
  rate: number;
  durationSeconds: number;
  messages: number;
  chats: number;
  modelLatencyMs: number;
  replyDelaySeconds: number;
  /** The bench channel's coalesce_window_seconds (burst coalescing; 0: off): a fixed wait like the delay. */
  coalesceWindowSeconds: number;
  longRatio: number;
  longChars: number;
  maxMessageLength: number;
  warmupMessages: number;
  drainTimeoutSeconds: number;
  graceSeconds: number;
  seed: number;
  temporalDb: 'memory' | 'file' | null;
  url: string | null;
  profile: boolean;
  extraEnv: Record<string, string>;
  /** With --overload-rate: the overload phase after the main one. */
  overload?: { rate: number; durationSeconds: number };
  /** With --payload-encryption or --tracing: the settings of the run (otherwise the defaults: encryption on, tracing off). */
  ops?: OpsSettings;
  /** With --compare-ops: every setting measured back to back (see opsComparison). */
  compareOps?: boolean;
  /** With --preseed-chats: the earlier conversations before each phase (see scaleComparison). */
  preseedChats?: number[];
  /** With --feature: the feature every message of the run uses (bench/lib/features.ts). */
  feature?: BenchFeature;
}

export interface BenchResult {
  schema: 'chatrelay-bench/1';
  startedAt: string;
  finishedAt: string;
  command: string;
  config: BenchConfig;
  machine: Record<string, string | number | null>;
  code: { commit: string | null; uncommittedFiles: number | null };
  chatrelay: SystemResult;
  baseline: SystemResult | null;
  /** chatrelay / baseline, for the headline figures. */
  ratios: Record<string, number | null>;
  targets: {
    ackP99Under50Ms: boolean;
    overheadP50Under250Ms: boolean;
    zeroLostAndDuplicated: boolean;
    keptUp: boolean;
    atTargetLoad: boolean;
  };
  profiles?: Record<string, ProfileSummary[]>;
  /** With --overload-rate: chatrelay offered that rate after the main phase (bench/lib/overload.ts). */
  overload?: OverloadResult;
  /** With --compare-ops: one result per operations setting, plain first; `chatrelay` is then the production default (encryption on, tracing off). */
  opsComparison?: OpsVariantResult[];
  /** With --preseed-chats: one result per number of earlier conversations, smallest first; `chatrelay` is the first. */
  scaleComparison?: ScaleRowResult[];
  errors: string[];
}

export function computeRatios(chatrelay: SystemResult, baseline: SystemResult | null): Record<string, number | null> {
  if (!baseline) return {};
  return {
    ackP50: ratio(chatrelay.ackMs.p50, baseline.ackMs.p50),
    ackP99: ratio(chatrelay.ackMs.p99, baseline.ackMs.p99),
    overheadP50: ratio(chatrelay.overheadMs.p50, baseline.overheadMs.p50),
    overheadP95: ratio(chatrelay.overheadMs.p95, baseline.overheadMs.p95),
    overheadP99: ratio(chatrelay.overheadMs.p99, baseline.overheadMs.p99),
    completedPerSecond: ratio(chatrelay.throughput.completedPerSecond, baseline.throughput.completedPerSecond),
    cpuMsPerMessage: ratio(chatrelay.cpuMsPerMessage, baseline.cpuMsPerMessage),
  };
}

const show = (value: number | string | boolean | null | undefined): string =>
  value === null || value === undefined
    ? '-'
    : typeof value === 'number'
      ? String(Number(value.toFixed(2)))
      : String(value);

function proc(result: SystemResult | null, name: string, field: keyof ProcessReport): number | null {
  const value = result?.processes[name]?.[field];
  return typeof value === 'number' ? value : null;
}

/** The table printed at the end of a run. */
export function formatTable(result: BenchResult): string {
  const c = result.chatrelay;
  const b = result.baseline;
  const rows: Array<[string, string, string, string]> = [];
  const row = (
    label: string,
    chat: number | string | boolean | null | undefined,
    base: number | string | boolean | null | undefined,
    r?: number | null,
  ): void => {
    rows.push([label, show(chat), b ? show(base) : 'n/a', r === undefined ? '' : show(r)]);
  };
  const cfg = result.config;
  row('messages sent / accepted', `${c.sent} / ${c.replies.accepted}`, b ? `${b.sent} / ${b.replies.accepted}` : null);
  row('ack errors (non-200 or no answer)', c.ackErrors, b?.ackErrors);
  for (const p of ['p50', 'p95', 'p99', 'max'] as const)
    row(`ack ms ${p}`, c.ackMs[p], b?.ackMs[p], ratio(c.ackMs[p], b?.ackMs[p]));
  for (const p of ['p50', 'p95', 'p99'] as const)
    row(
      `overhead ms ${p} (e2e - model - delay)`,
      c.overheadMs[p],
      b?.overheadMs[p],
      ratio(c.overheadMs[p], b?.overheadMs[p]),
    );
  row(
    'end-to-end ms p50 / p99',
    `${show(c.endToEndMs.p50)} / ${show(c.endToEndMs.p99)}`,
    b ? `${show(b.endToEndMs.p50)} / ${show(b.endToEndMs.p99)}` : null,
  );
  row('offered msg/s', c.throughput.offeredPerSecond, b?.throughput.offeredPerSecond);
  row(
    'completed msg/s (all parts received)',
    c.throughput.completedPerSecond,
    b?.throughput.completedPerSecond,
    ratio(c.throughput.completedPerSecond, b?.throughput.completedPerSecond),
  );
  row('drain s (last send -> last reply)', c.throughput.drainSeconds, b?.throughput.drainSeconds);
  row('kept up', c.throughput.keptUp, b?.throughput.keptUp);
  row(
    'reply parts expected / received',
    `${c.replies.expectedParts} / ${c.replies.receivedParts}`,
    b ? `${b.replies.expectedParts} / ${b.replies.receivedParts}` : null,
  );
  row(
    `LOST parts (not received ${cfg.drainTimeoutSeconds} s after the last send)`,
    c.replies.lostParts,
    b?.replies.lostParts,
  );
  if (c.replies.lostParts > 0 && c.stillRunningAtEnd !== undefined)
    row('  message workflows still running at the end', c.stillRunningAtEnd, null);
  row('DUPLICATED parts', c.replies.duplicateParts, b?.replies.duplicateParts);
  row('unexpected parts', c.replies.unexpectedParts, b?.replies.unexpectedParts);
  if (cfg.feature && c.featureCounts) {
    const evidence = featureEvidence(cfg.feature, c.replies, c.featureCounts);
    row(`${evidence.what} / expected`, `${evidence.got} / ${evidence.expected}`, null);
  }
  row('messages with parts out of order', c.replies.outOfOrderMessages, b?.replies.outOfOrderMessages);
  row('x-chatrelay-part header mismatches', c.replies.partHeaderMismatches, b?.replies.partHeaderMismatches);
  row('chat order inversions (info)', c.replies.chatOrderInversions, b?.replies.chatOrderInversions);
  const temporal = c.temporal && 'eventsPerMessage' in c.temporal ? c.temporal : undefined;
  row(
    'Temporal history events / message',
    temporal?.eventsPerMessage ?? (c.temporal && 'error' in c.temporal ? 'error' : null),
    0,
  );
  row('Temporal activities / message', temporal?.activitiesPerMessage, 0);
  row('Temporal local activities / message', temporal?.localActivitiesPerMessage, 0);
  row('Temporal timers / message', temporal?.timersPerMessage, 0);
  row('Temporal workflow tasks / message', temporal?.workflowTasksPerMessage, 0);
  row('MongoDB commands / message', c.mongodb?.measured ? c.mongodb.opsPerMessage : 'not measured', 0);
  for (const name of ['api', 'worker', 'temporal', 'mongodb', 'baseline', 'model', 'bench']) {
    const chat = proc(c, name, 'cpuSeconds');
    const base = proc(b, name, 'cpuSeconds');
    if (chat === null && base === null) continue;
    row(`CPU s ${name}`, chat, base);
  }
  row(
    'CPU ms / message (system under test)',
    c.cpuMsPerMessage,
    b?.cpuMsPerMessage,
    ratio(c.cpuMsPerMessage, b?.cpuMsPerMessage),
  );
  for (const name of ['api', 'worker', 'temporal', 'mongodb', 'baseline']) {
    const chat = proc(c, name, 'peakRssMiB');
    const base = proc(b, name, 'peakRssMiB');
    if (chat === null && base === null) continue;
    row(`peak RSS MiB ${name} (during load)`, chat, base);
  }
  row('machine CPU busy %', c.machineBusyPercent, b?.machineBusyPercent);
  row('cores used by other processes (noise)', c.otherCores, b?.otherCores);
  row('generator lag ms p99 (bench itself)', c.generatorLagMs.p99, b?.generatorLagMs.p99);

  const widths = [0, 1, 2, 3].map((i) =>
    Math.max(...rows.map((r) => r[i]?.length ?? 0), ['metric', 'chatrelay', 'baseline', 'ratio'][i]?.length ?? 0),
  );
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const t = result.targets;
  const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  return [
    `chatrelay benchmark${cfg.feature ? ` (--feature ${cfg.feature})` : ''}: ${cfg.messages} messages at ${cfg.rate}/s for ${cfg.durationSeconds} s over ${cfg.chats} chats, model latency ${cfg.modelLatencyMs} ms, reply delay ${cfg.replyDelaySeconds} s, ${Math.round(cfg.longRatio * 100)}% long (max_message_length ${cfg.maxMessageLength})`,
    line(['metric', 'chatrelay', 'baseline', 'ratio']),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `targets (chatrelay): zero lost and duplicated ${mark(t.zeroLostAndDuplicated)}; ack p99 < 50 ms ${mark(t.ackP99Under50Ms)}; overhead p50 < 250 ms ${mark(t.overheadP50Under250Ms)}; kept up ${mark(t.keptUp)}${t.atTargetLoad ? '' : ' (this run is below the target load of 50 msg/s for 60 s)'}`,
    ...(result.overload ? ['', formatOverload(result.overload)] : []),
  ].join('\n');
}
