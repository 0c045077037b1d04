/** Turns what was sent and what the receiver saw into the figures of one system's run. */
import { interimDeliveryId } from '../../src/domain/ids.js';
import type { Arrival } from './receiver.js';
import type { SendRecord } from './load.js';
import { summarize, type Summary } from './stats.js';

export interface ReplyCounts {
  /** Messages answered 200 by the API. */
  accepted: number;
  expectedParts: number;
  /** Distinct parts received (by webhook-id). */
  receivedParts: number;
  /** Expected parts that never arrived before the drain deadline. */
  lostParts: number;
  /** Messages with at least one lost part. */
  lostMessages: number;
  /** Arrivals of a part already received (same webhook-id). */
  duplicateParts: number;
  /** Arrivals whose webhook-id names no accepted message or a part index beyond the expected count. */
  unexpectedParts: number;
  /** "One moment" parts (`<messageId>.interim`) of accepted messages, apart from the reply's parts. */
  interimParts: number;
  /** Attempts the receiver refused on purpose (--feature receiver-retry): not received, to be sent again. */
  refusedDeliveries: number;
  /** Reply parts received with a speech audio URL (voice replies). */
  partsWithAudio: number;
  /** Messages whose parts did not arrive in index order. */
  outOfOrderMessages: number;
  /** Parts whose `x-chatrelay-part: k/n` disagreed with the expected k or n. */
  partHeaderMismatches: number;
  /** Consecutive messages of one chat whose replies interleaved or came in the other order (informational). */
  chatOrderInversions: number;
  /** A few inversions, with times in ms from the first send, to look into. */
  chatOrderInversionSamples: InversionSample[];
  completeMessages: number;
}

export interface InversionSample {
  chat: number;
  earlier: { messageId: string; ackAtMs: number; firstPartAtMs: number; lastPartAtMs: number };
  later: { messageId: string; ackAtMs: number; firstPartAtMs: number; lastPartAtMs: number };
}

export interface ThroughputFigures {
  /** Sends per second actually achieved by the generator. */
  offeredPerSecond: number | null;
  /** Messages with every reply part received, per second, from the first send to the last reply. */
  completedPerSecond: number | null;
  /** From the last send to the last reply part: grows when the system falls behind. */
  drainSeconds: number | null;
  /** Every reply arrived, every POST was accepted, and no backlog built up (drain <= model latency + reply delay + 5 s). */
  keptUp: boolean;
}

export interface WindowFigures {
  fromS: number;
  toS: number;
  sent: number;
  ackP99Ms: number | null;
  overheadP50Ms: number | null;
  overheadP95Ms: number | null;
}

export interface SystemFigures {
  sent: number;
  ackErrors: number;
  ackErrorSamples: string[];
  ackMs: Summary;
  /** From the POST to the last part received. */
  endToEndMs: Summary;
  /** endToEndMs minus the configured model latency and reply delay: what the pipeline itself adds. */
  overheadMs: Summary;
  /** How late the generator sent compared to its timetable (its own lag, not the system's). */
  generatorLagMs: Summary;
  replies: ReplyCounts;
  throughput: ThroughputFigures;
  windows: WindowFigures[];
}

export interface AnalyzeOptions {
  modelLatencyMs: number;
  replyDelaySeconds: number;
}

/** Whether an arrival delivers its part: on `path` and accepted (a refused attempt is sent again later). */
export const deliversPart = (arrival: Arrival, path: string): boolean =>
  arrival.path === path && arrival.status === 200;

function parseWebhookId(id: string | undefined): { messageId: string; index: number } | undefined {
  if (!id) return undefined;
  const dot = id.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const index = Number(id.slice(dot + 1));
  return Number.isInteger(index) ? { messageId: id.slice(0, dot), index } : undefined;
}

export function analyze(
  sends: readonly SendRecord[],
  arrivals: readonly Arrival[],
  options: AnalyzeOptions,
): SystemFigures {
  const fixedMs = options.modelLatencyMs + options.replyDelaySeconds * 1000;
  const accepted = sends.filter((send) => send.status === 200 && send.messageId !== undefined);
  const failures = sends.filter((send) => !(send.status === 200 && send.messageId !== undefined));
  const byMessage = new Map<string, { send: SendRecord; arrivals: Arrival[] }>();
  for (const send of accepted) byMessage.set(send.messageId as string, { send, arrivals: [] });

  let unexpectedParts = 0;
  let partHeaderMismatches = 0;
  let interimParts = 0;
  let refusedDeliveries = 0;
  for (const arrival of arrivals) {
    if (arrival.status !== 200) {
      refusedDeliveries += 1;
      continue;
    }
    const ofMessage = arrival.webhookId?.slice(0, arrival.webhookId.lastIndexOf('.'));
    if (ofMessage && byMessage.has(ofMessage) && arrival.webhookId === interimDeliveryId(ofMessage)) {
      interimParts += 1;
      continue;
    }
    const parsed = parseWebhookId(arrival.webhookId);
    const entry = parsed ? byMessage.get(parsed.messageId) : undefined;
    if (!parsed || !entry || parsed.index < 0 || parsed.index >= entry.send.planned.expectedParts) {
      unexpectedParts += 1;
      continue;
    }
    entry.arrivals.push(arrival);
    const header = /^(\d+)\/(\d+)$/.exec(arrival.part ?? '');
    if (!header || Number(header[1]) !== parsed.index + 1 || Number(header[2]) !== entry.send.planned.expectedParts)
      partHeaderMismatches += 1;
  }

  let expectedParts = 0;
  let receivedParts = 0;
  let duplicateParts = 0;
  let partsWithAudio = 0;
  let lostMessages = 0;
  let outOfOrderMessages = 0;
  const endToEnd: number[] = [];
  const overhead: number[] = [];
  const completion = new Map<string, { first: number; last: number }>();
  for (const [messageId, { send, arrivals: parts }] of byMessage) {
    const expected = send.planned.expectedParts;
    expectedParts += expected;
    const firstSeen = new Map<number, number>();
    const order: number[] = [];
    for (const part of parts) {
      const index = parseWebhookId(part.webhookId)?.index ?? -1;
      if (firstSeen.has(index)) {
        duplicateParts += 1;
        continue;
      }
      firstSeen.set(index, part.at);
      order.push(index);
      if (part.audio) partsWithAudio += 1;
    }
    receivedParts += firstSeen.size;
    if (order.some((index, position) => position > 0 && index < (order[position - 1] ?? -1))) outOfOrderMessages += 1;
    if (firstSeen.size < expected) {
      lostMessages += 1;
      continue;
    }
    const times = [...firstSeen.values()];
    const last = Math.max(...times);
    completion.set(messageId, { first: Math.min(...times), last });
    endToEnd.push(last - send.sentAt);
    overhead.push(last - send.sentAt - fixedMs);
  }

  const firstSendAt = sends.length > 0 ? Math.min(...sends.map((send) => send.sentAt)) : 0;
  // Per-chat order: message k+1 of a chat should not start arriving before message k has finished.
  let chatOrderInversions = 0;
  const inversionSamples: InversionSample[] = [];
  const chats = new Map<number, SendRecord[]>();
  for (const send of accepted) chats.set(send.planned.chat, [...(chats.get(send.planned.chat) ?? []), send]);
  for (const list of chats.values()) {
    list.sort((a, b) => (a.ackAt ?? 0) - (b.ackAt ?? 0));
    for (let i = 1; i < list.length; i++) {
      const before = completion.get(list[i - 1]?.messageId ?? '');
      const after = completion.get(list[i]?.messageId ?? '');
      if (before && after && after.first < before.last) {
        chatOrderInversions += 1;
        const earlier = list[i - 1] as SendRecord;
        const later = list[i] as SendRecord;
        if (inversionSamples.length < 5) {
          inversionSamples.push({
            chat: later.planned.chat,
            earlier: {
              messageId: earlier.messageId ?? '',
              ackAtMs: Math.round((earlier.ackAt ?? 0) - firstSendAt),
              firstPartAtMs: Math.round(before.first - firstSendAt),
              lastPartAtMs: Math.round(before.last - firstSendAt),
            },
            later: {
              messageId: later.messageId ?? '',
              ackAtMs: Math.round((later.ackAt ?? 0) - firstSendAt),
              firstPartAtMs: Math.round(after.first - firstSendAt),
              lastPartAtMs: Math.round(after.last - firstSendAt),
            },
          });
        }
      }
    }
  }

  const sentTimes = sends.map((send) => send.sentAt);
  const firstSend = sentTimes.length > 0 ? Math.min(...sentTimes) : 0;
  const lastSend = sentTimes.length > 0 ? Math.max(...sentTimes) : 0;
  const completions = [...completion.values()].map((entry) => entry.last);
  const lastCompletion = completions.length > 0 ? Math.max(...completions) : undefined;
  const lostParts = expectedParts - receivedParts;
  const drainSeconds = lastCompletion === undefined ? null : Number(((lastCompletion - lastSend) / 1000).toFixed(2));
  const offeredPerSecond =
    sends.length > 1 && lastSend > firstSend
      ? Number(((sends.length - 1) / ((lastSend - firstSend) / 1000)).toFixed(2))
      : null;
  const completedPerSecond =
    lastCompletion !== undefined && lastCompletion > firstSend
      ? Number((completion.size / ((lastCompletion - firstSend) / 1000)).toFixed(2))
      : null;
  const keptUp =
    failures.length === 0 &&
    lostParts === 0 &&
    duplicateParts === 0 &&
    drainSeconds !== null &&
    drainSeconds <= fixedMs / 1000 + 5;

  // Windows over the send timetable, to see whether latency grows during the run.
  const durationS = (lastSend - firstSend) / 1000;
  const windowS = Math.max(1, Math.ceil(durationS / 6));
  const windows: WindowFigures[] = [];
  for (let from = 0; from <= durationS; from += windowS) {
    const inWindow = sends.filter(
      (send) => (send.sentAt - firstSend) / 1000 >= from && (send.sentAt - firstSend) / 1000 < from + windowS,
    );
    if (inWindow.length === 0) continue;
    const acks = summarize(
      inWindow.filter((send) => send.ackAt !== undefined).map((send) => (send.ackAt as number) - send.sentAt),
    );
    const over = summarize(
      inWindow.flatMap((send) => {
        const done = send.messageId ? completion.get(send.messageId) : undefined;
        return done ? [done.last - send.sentAt - fixedMs] : [];
      }),
    );
    windows.push({
      fromS: from,
      toS: from + windowS,
      sent: inWindow.length,
      ackP99Ms: acks.p99,
      overheadP50Ms: over.p50,
      overheadP95Ms: over.p95,
    });
  }

  return {
    sent: sends.length,
    ackErrors: failures.length,
    ackErrorSamples: [...new Set(failures.map((send) => send.error ?? `HTTP ${send.status ?? '?'}`))].slice(0, 5),
    ackMs: summarize(
      sends
        .filter((send) => send.ackAt !== undefined && send.status === 200)
        .map((send) => (send.ackAt as number) - send.sentAt),
    ),
    endToEndMs: summarize(endToEnd),
    overheadMs: summarize(overhead),
    generatorLagMs: summarize(sends.map((send) => send.sentAt - send.scheduledAt)),
    replies: {
      accepted: accepted.length,
      expectedParts,
      receivedParts,
      lostParts,
      lostMessages,
      duplicateParts,
      unexpectedParts,
      interimParts,
      refusedDeliveries,
      partsWithAudio,
      outOfOrderMessages,
      partHeaderMismatches,
      chatOrderInversions,
      chatOrderInversionSamples: inversionSamples,
      completeMessages: completion.size,
    },
    throughput: { offeredPerSecond, completedPerSecond, drainSeconds, keptUp },
    windows,
  };
}
