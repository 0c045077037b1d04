/** The --compare-ops result: one row per operations setting, each read against the plain one. */
import type { OpsVariant } from './ops-variants.js';
import { formatColumns } from './columns.js';
import type { SystemResult } from './report.js';

export interface OpsVariantResult extends OpsVariant {
  /** The task queue its API and worker used (its own, so no setting works on another's messages). */
  taskQueue: string;
  result: SystemResult;
  /** CPU ms per accepted message in the API and the worker, where encryption and tracing run. */
  appCpuMsPerMessage: number | null;
  /** What reached the OTLP sink during the phase (tracing on), or null. */
  otlp: { exports: number; bytes: number; bytesPerMessage: number | null } | null;
}

/** CPU ms per accepted message summed over `names` (null when any is unmeasured). */
export function cpuMsPerMessage(result: SystemResult, names: readonly string[]): number | null {
  const seconds = names.map((name) => result.processes[name]?.cpuSeconds);
  if (result.replies.accepted === 0 || seconds.some((value) => typeof value !== 'number')) return null;
  const total = (seconds as number[]).reduce((a, b) => a + b, 0);
  return Number(((total * 1000) / result.replies.accepted).toFixed(2));
}

const show = (value: number | null | undefined): string =>
  value === null || value === undefined ? '-' : String(Number(value.toFixed(2)));
const delta = (value: number | null, plain: number | null): string =>
  value === null || plain === null ? '-' : `${value - plain >= 0 ? '+' : ''}${show(value - plain)}`;

export function formatOpsComparison(variants: readonly OpsVariantResult[]): string {
  const plain = variants[0];
  const header = [
    'setting',
    'encrypt',
    'trace',
    'accepted',
    'lost/dup',
    'ack p50',
    'ack p99',
    'ovh p50',
    'ovh p95',
    'CPU ms/msg api+worker',
    'vs plain',
    'CPU ms/msg all',
    'vs plain',
    'events/msg',
    'OTLP B/msg',
    'noise cores',
  ];
  const rows = variants.map((variant) => {
    const r = variant.result;
    const temporal = r.temporal && 'eventsPerMessage' in r.temporal ? r.temporal.eventsPerMessage : null;
    return [
      variant.name,
      variant.payloadEncryption ? 'on' : 'off',
      variant.tracing ? 'on' : 'off',
      String(r.replies.accepted),
      `${r.replies.lostParts}/${r.replies.duplicateParts}`,
      show(r.ackMs.p50),
      show(r.ackMs.p99),
      show(r.overheadMs.p50),
      show(r.overheadMs.p95),
      show(variant.appCpuMsPerMessage),
      delta(variant.appCpuMsPerMessage, plain?.appCpuMsPerMessage ?? null),
      show(r.cpuMsPerMessage),
      delta(r.cpuMsPerMessage, plain?.result.cpuMsPerMessage ?? null),
      show(temporal),
      show(variant.otlp?.bytesPerMessage),
      show(r.otherCores),
    ];
  });
  return formatColumns(
    'operations settings, back to back on the same servers (ms; CPU ms per accepted message; "all" adds Temporal and MongoDB):',
    header,
    rows,
  );
}
