/** The --preseed-chats result: one row per number of earlier conversations, each read against the first. */
import { formatColumns } from './columns.js';
import type { SystemResult } from './report.js';

export interface ScaleRowResult {
  /** Earlier conversations stored before the phase. */
  preseededChats: number;
  result: SystemResult;
}

const PROCESSES = ['api', 'worker', 'temporal', 'mongodb'] as const;

const show = (value: number | null | undefined): string =>
  value === null || value === undefined ? '-' : String(Number(value.toFixed(1)));
const ratio = (value: number | null | undefined, first: number | null | undefined): string =>
  value === null || value === undefined || first === null || first === undefined || first === 0
    ? '-'
    : `${(value / first).toFixed(2)}x`;

/** CPU ms per accepted message of one process, or null when it was not measured. */
export function processCpuMsPerMessage(result: SystemResult, name: string): number | null {
  const seconds = result.processes[name]?.cpuSeconds;
  if (typeof seconds !== 'number' || result.replies.accepted === 0) return null;
  return (seconds * 1000) / result.replies.accepted;
}

export function formatScaleComparison(rows: readonly ScaleRowResult[]): string {
  const first = rows[0]?.result;
  const header = [
    'earlier chats',
    'accepted',
    'lost/dup',
    'ack p99',
    'ovh p50',
    'ovh p99',
    'vs first',
    ...PROCESSES.map((name) => `CPU ${name}`),
    'CPU all',
    'vs first',
    'mongo cmds/msg',
    'noise cores',
  ];
  const cells = rows.map(({ preseededChats, result: r }) => [
    String(preseededChats),
    `${r.replies.accepted}/${r.sent}`,
    `${r.replies.lostParts}/${r.replies.duplicateParts}`,
    show(r.ackMs.p99),
    show(r.overheadMs.p50),
    show(r.overheadMs.p99),
    ratio(r.overheadMs.p50, first?.overheadMs.p50),
    ...PROCESSES.map((name) => show(processCpuMsPerMessage(r, name))),
    show(r.cpuMsPerMessage),
    ratio(r.cpuMsPerMessage, first?.cpuMsPerMessage),
    show(r.mongodb?.opsPerMessage),
    show(r.otherCores),
  ]);
  return formatColumns(
    'earlier conversations in the database, one phase each on the same stack (ms; CPU ms per accepted message):',
    header,
    cells,
  );
}
