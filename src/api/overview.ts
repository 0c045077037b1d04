import type { OverviewResponse } from './contracts/dashboard.js';
import type { Stores } from '../stores/index.js';

const MINUTE_MS = 60_000;
const WINDOW_MINUTES = 60;

/** The value below which `fraction` of the sorted samples lie (nearest rank); null without samples. */
export function percentile(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1] ?? null;
}

/**
 * A summary is served again for this many times as long as it took to compute: on a server that reads
 * whole collections for the hour's records (FerretDB), an open dashboard polling every 10 s would
 * otherwise keep it busy without end once data piles up; on MongoDB it takes milliseconds and is
 * fresh at every poll. Its `generated_at` says how old it is.
 */
export const OVERVIEW_REUSE_FACTOR = 10;

/** The dashboard's overview: the last hour across every channel, read from the message records. */
export function createOverview(deps: { stores: Pick<Stores, 'dashboard'>; clock?: () => number }) {
  const reads = deps.stores.dashboard;
  const clock = deps.clock ?? (() => performance.now());
  let latest: { summary: Promise<OverviewResponse>; reusableUntil: number } | undefined;
  const compute = async (now: Date): Promise<OverviewResponse> => {
    // Minutes aligned to the clock, so the chart's bars do not shift between two reads.
    const currentMinute = Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS;
    const since = new Date(currentMinute - (WINDOW_MINUTES - 1) * MINUTE_MS);
    const activity = await reads.activitySince(since);

    const perMinute = Array.from({ length: WINDOW_MINUTES }, () => 0);
    const channelOf = new Map<string, string>();
    for (const message of activity.messages) {
      channelOf.set(message._id, message.channel_id);
      const slot = Math.floor((message.received_at.getTime() - since.getTime()) / MINUTE_MS);
      if (slot >= 0 && slot < WINDOW_MINUTES) perMinute[slot] = (perMinute[slot] ?? 0) + 1;
    }

    // A message's own ending counts; a redelivery's ending is the same message again.
    const endings = activity.outcomes.filter((outcome) => outcome.redelivery === undefined);
    const count = (status: string) => endings.filter((outcome) => outcome.status === status).length;
    const failedIds = endings.filter((outcome) => outcome.status === 'failed').map((outcome) => outcome.message_id);
    const older = await reads.channelsOfMessages(failedIds.filter((id) => !channelOf.has(id)));
    const failuresByChannel = new Map<string, number>();
    for (const id of failedIds) {
      const channelId = channelOf.get(id) ?? older.get(id);
      if (channelId !== undefined) failuresByChannel.set(channelId, (failuresByChannel.get(channelId) ?? 0) + 1);
    }

    const paused = await reads.pausedChannels();
    const pageIds = await reads.pageIds([...failuresByChannel.keys()].filter((id) => !paused.some((p) => p.id === id)));
    const channels: OverviewResponse['channels'] = [
      ...paused.map((channel) => ({
        id: channel.id,
        page_id: channel.page_id,
        failed: failuresByChannel.get(channel.id) ?? 0,
        delivery_paused: true,
        paused_reason: channel.paused_reason || null,
      })),
      ...[...pageIds].map(([id, pageId]) => ({
        id,
        page_id: pageId,
        failed: failuresByChannel.get(id) ?? 0,
        delivery_paused: false,
        paused_reason: null,
      })),
    ].sort((a, b) => b.failed - a.failed || a.page_id.localeCompare(b.page_id));

    const acks = activity.attempts
      .filter((attempt) => attempt.result === 'delivered')
      .map((attempt) => attempt.duration_ms)
      .sort((a, b) => a - b);
    return {
      since: since.toISOString(),
      generated_at: now.toISOString(),
      per_minute: perMinute,
      received: activity.messages.length,
      delivered: count('delivered'),
      failed: count('failed'),
      not_answered: count('not_answered'),
      ack_ms: { p50: percentile(acks, 0.5), p99: percentile(acks, 0.99), samples: acks.length },
      channels,
    };
  };
  return {
    /**
     * The last hour. Callers at the same time share one computation, and its result is reused
     * for OVERVIEW_REUSE_FACTOR times as long as it took (see above); `now` computes afresh.
     */
    async summary(now?: Date): Promise<OverviewResponse> {
      if (now !== undefined) return compute(now);
      const at = clock();
      if (latest && at < latest.reusableUntil) return latest.summary;
      const entry = { summary: compute(new Date()), reusableUntil: Number.POSITIVE_INFINITY };
      latest = entry;
      try {
        await entry.summary;
        entry.reusableUntil = clock() + (clock() - at) * OVERVIEW_REUSE_FACTOR;
      } catch (error) {
        if (latest === entry) latest = undefined;
        throw error;
      }
      return entry.summary;
    },
  };
}

export type Overview = ReturnType<typeof createOverview>;
