import type { Channel } from '../domain/models.js';
import { LruMap } from '../lib/caches.js';

export interface ChannelLookup {
  getByPageId(pageId: string): Promise<Channel | undefined>;
  /** Compares a presented token with a stored hash in constant time (see the channel store). */
  tokenMatches(presented: string, storedHash: string | undefined): boolean;
}

export interface ChannelAuthenticatorOptions {
  ttlMs: number;
  now?: () => number;
  /** Channels kept (default 10 000), least recently used out first. */
  maxChannels?: number;
  /** Page ids remembered as unknown (default 10 000), in their own bound: they never push out a channel. */
  maxUnknownPages?: number;
}

/**
 * Authenticates inbound messages without a database round trip per request: channels are cached
 * by page id for a short time, and dropped at once when this process changes them. Other API
 * processes see a change within the TTL; the message workflow re-checks the channel (and the
 * token version) from MongoDB, so a message accepted in that window is never answered wrongly.
 *
 * Page ids that match no channel are remembered for the same TTL in a separate, bounded map, so
 * a flood of random page ids costs one read each and can neither grow memory nor evict the
 * channels that real traffic uses. Concurrent misses for one page id share one read.
 */
export function createChannelAuthenticator(lookup: ChannelLookup, options: ChannelAuthenticatorOptions) {
  const now = options.now ?? Date.now;
  const channels = new LruMap<string, { channel: Channel; expiresAt: number }>(options.maxChannels ?? 10_000);
  const unknownPages = new LruMap<string, number>(options.maxUnknownPages ?? 10_000);
  const loading = new Map<string, Promise<Channel | undefined>>();
  // Bumped by every invalidation: a read that started before one must not cache what it found.
  let generation = 0;

  function channelFor(pageId: string): Promise<Channel | undefined> {
    const hit = channels.get(pageId);
    if (hit && hit.expiresAt > now()) return Promise.resolve(hit.channel);
    const unknownUntil = unknownPages.get(pageId);
    if (unknownUntil !== undefined && unknownUntil > now()) return Promise.resolve(undefined);
    const pending = loading.get(pageId);
    if (pending) return pending;
    const startedAt = generation;
    const load: Promise<Channel | undefined> = lookup
      .getByPageId(pageId)
      .then((channel) => {
        if (startedAt === generation) remember(pageId, channel);
        return channel;
      })
      .finally(() => {
        if (loading.get(pageId) === load) loading.delete(pageId);
      });
    loading.set(pageId, load);
    return load;
  }

  function remember(pageId: string, channel: Channel | undefined): void {
    const expiresAt = now() + options.ttlMs;
    if (channel) {
      unknownPages.delete(pageId);
      channels.set(pageId, { channel, expiresAt });
    } else {
      channels.delete(pageId);
      unknownPages.set(pageId, expiresAt);
    }
  }

  return {
    /** The channel when the token is its current one; undefined for an unknown page or a wrong token alike. */
    async authenticate(pageId: string, token: string): Promise<Channel | undefined> {
      const channel = await channelFor(pageId);
      // The comparison runs for an unknown page too (against nothing), so both failures take the same time.
      const matches = lookup.tokenMatches(token, channel?.token_hash);
      return channel && matches ? channel : undefined;
    },
    invalidate(pageId?: string): void {
      generation += 1;
      // A read in flight may predate the change: later requests start their own.
      if (pageId === undefined) {
        channels.clear();
        unknownPages.clear();
        loading.clear();
      } else {
        channels.delete(pageId);
        unknownPages.delete(pageId);
        loading.delete(pageId);
      }
    },
  };
}

export type ChannelAuthenticator = ReturnType<typeof createChannelAuthenticator>;
