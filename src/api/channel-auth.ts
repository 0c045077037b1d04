import type { Channel } from '../domain/models.js';
import { tokenMatches } from '../lib/secrets.js';

export interface ChannelLookup {
  getByPageId(pageId: string): Promise<Channel | undefined>;
}

/**
 * Authenticates inbound messages without a database round trip per request: channels are cached
 * by page id for a short time, and dropped at once when this process changes them. Other API
 * processes see a change within the TTL; the message workflow re-checks the channel (and the
 * token version) from MongoDB, so a message accepted in that window is never answered wrongly.
 */
export function createChannelAuthenticator(lookup: ChannelLookup, options: { ttlMs: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const cache = new Map<string, { channel: Channel | undefined; expiresAt: number }>();
  const MAX_ENTRIES = 10_000;

  async function channelFor(pageId: string): Promise<Channel | undefined> {
    const hit = cache.get(pageId);
    if (hit && hit.expiresAt > now()) return hit.channel;
    const channel = await lookup.getByPageId(pageId);
    if (cache.size >= MAX_ENTRIES) cache.clear();
    cache.set(pageId, { channel, expiresAt: now() + options.ttlMs });
    return channel;
  }

  return {
    /** The channel when the token is its current one; undefined for an unknown page or a wrong token alike. */
    async authenticate(pageId: string, token: string): Promise<Channel | undefined> {
      const channel = await channelFor(pageId);
      // Compare against a dummy hash when the page is unknown so both failures take the same time.
      const storedHash = channel?.token_hash ?? '0'.repeat(64);
      const matches = tokenMatches(token, storedHash);
      return channel && matches ? channel : undefined;
    },
    invalidate(pageId?: string): void {
      if (pageId === undefined) cache.clear();
      else cache.delete(pageId);
    },
  };
}

export type ChannelAuthenticator = ReturnType<typeof createChannelAuthenticator>;
