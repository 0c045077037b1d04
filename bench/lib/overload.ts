/**
 * The overload phase (`--overload-rate R --overload-duration S`): after the main phase, chatrelay
 * alone is offered R msg/s for S s, typically several times what it sustains. Shed messages are
 * not retried (a platform would retry after `Retry-After`): the phase measures what the stack does
 * with what it accepts while the surplus is refused, i.e. that it keeps completing at its
 * sustainable rate, answers every accepted message once, and answers quickly.
 */
import type { SendRecord } from './load.js';
import type { SystemResult } from './report.js';
import { summarize } from './stats.js';

export interface OverloadResult {
  rate: number;
  durationSeconds: number;
  /** POSTs sent, and how many per second the generator achieved. */
  offered: number;
  offeredPerSecond: number | null;
  /** Answered 200. */
  accepted: number;
  /** Refused with 503 `overloaded` (the load gate) or 429 (a rate limit): nothing accepted, retry later. */
  shed: { total: number; overloaded: number; rateLimited: number };
  /** Any other failure: 503 `unavailable`, 5xx, timeouts, connection errors. */
  otherErrors: number;
  otherErrorSamples: string[];
  /** Accepted messages with every reply part received, per second, from the first send to the last reply. */
  completedPerSecond: number | null;
  completedMessages: number;
  lostParts: number;
  duplicatedParts: number;
  /** Time to acknowledge an accepted message; and to answer any POST (a refusal included). */
  ackMsAccepted: { p50: number | null; p99: number | null };
  answerMs: { p50: number | null; p99: number | null };
  /** From the last send to the last reply of an accepted message. */
  drainSeconds: number | null;
  cpuMsPerAcceptedMessage: number | null;
  /** Every figure of the phase, as for the main phase (latency windows, CPU per process, ...). */
  system: SystemResult;
}

const isOverloaded = (send: SendRecord): boolean => send.status === 503 && /"code":"overloaded"/.test(send.error ?? '');

export function overloadResult(
  rate: number,
  durationSeconds: number,
  sends: readonly SendRecord[],
  system: SystemResult,
): OverloadResult {
  const overloaded = sends.filter(isOverloaded).length;
  const rateLimited = sends.filter((send) => send.status === 429).length;
  const others = sends.filter((send) => send.status !== 200 && send.status !== 429 && !isOverloaded(send));
  const answers = summarize(
    sends.filter((send) => send.ackAt !== undefined).map((send) => (send.ackAt as number) - send.sentAt),
  );
  return {
    rate,
    durationSeconds,
    offered: sends.length,
    offeredPerSecond: system.throughput.offeredPerSecond,
    accepted: system.replies.accepted,
    shed: { total: overloaded + rateLimited, overloaded, rateLimited },
    otherErrors: others.length,
    otherErrorSamples: [...new Set(others.map((send) => send.error ?? `HTTP ${send.status ?? '?'}`))].slice(0, 5),
    completedPerSecond: system.throughput.completedPerSecond,
    completedMessages: system.replies.completeMessages,
    lostParts: system.replies.lostParts,
    duplicatedParts: system.replies.duplicateParts,
    ackMsAccepted: { p50: system.ackMs.p50, p99: system.ackMs.p99 },
    answerMs: { p50: answers.p50, p99: answers.p99 },
    drainSeconds: system.throughput.drainSeconds,
    cpuMsPerAcceptedMessage: system.cpuMsPerMessage,
    system,
  };
}

const show = (value: number | null): string => (value === null ? '-' : String(Number(value.toFixed(2))));

/** The overload phase's lines, printed after the main table. */
export function formatOverload(result: OverloadResult): string {
  const rows: Array<[string, string]> = [
    ['offered (msg/s achieved)', `${result.offered} (${show(result.offeredPerSecond)}/s)`],
    ['accepted (200)', String(result.accepted)],
    ['shed: 503 overloaded / 429', `${result.shed.total}: ${result.shed.overloaded} / ${result.shed.rateLimited}`],
    ['other errors', String(result.otherErrors)],
    ['completed msg/s (accepted, all parts received)', show(result.completedPerSecond)],
    ['completed messages', `${result.completedMessages} of ${result.accepted}`],
    ['LOST parts', String(result.lostParts)],
    ['DUPLICATED parts', String(result.duplicatedParts)],
    ['ack ms p50 / p99 (accepted)', `${show(result.ackMsAccepted.p50)} / ${show(result.ackMsAccepted.p99)}`],
    ['answer ms p50 / p99 (every POST)', `${show(result.answerMs.p50)} / ${show(result.answerMs.p99)}`],
    ['drain s (last send -> last reply)', show(result.drainSeconds)],
    ['CPU ms / accepted message', show(result.cpuMsPerAcceptedMessage)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    `overload phase (chatrelay only): ${result.rate} msg/s for ${result.durationSeconds} s, shed messages not retried`,
    ...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`),
    ...(result.otherErrorSamples.length > 0 ? [`other errors, e.g.: ${result.otherErrorSamples.join(' | ')}`] : []),
  ].join('\n');
}
