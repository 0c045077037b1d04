import { AVATAR_MAX_BYTES, avatarMediaTypes } from './contracts/dashboard.js';
import type { AddressPolicy, UnsafeUrlReason } from '../lib/address-policy.js';
import { UnsafeUrlError } from '../lib/address-policy.js';
import { safeFetch, type SafeFetchPolicy } from '../lib/safe-fetch.js';
import { createSemaphore } from '../lib/semaphore.js';
import { ttlCache } from '../lib/caches.js';
import type { Stores } from '../stores/index.js';
import { chatOfChannel } from '../stores/chats.js';
import { HttpError, notFound } from './errors.js';

/** How long an avatar (or the failure to fetch it) is kept, per chat and URL. */
export const AVATAR_CACHE_MS = 60_000;
/** Avatars kept at once (each at most AVATAR_MAX_BYTES). */
const AVATAR_CACHE_ENTRIES = 100;
/** Avatars fetched at once by this process. */
const AVATAR_CONCURRENT_FETCHES = 4;

export type AvatarFetch =
  { ok: true; data: Buffer; mediaType: string } | { ok: false; reason: UnsafeUrlReason; message: string };

export interface AvatarDeps {
  stores: Pick<Stores, 'channels' | 'chats'>;
  /** The voice notes' address policy (FETCH_ALLOW_PRIVATE, FETCH_ALLOW_HOSTS). */
  policy: AddressPolicy;
  /** Time for the whole fetch; 5 s unless given. */
  timeoutMs?: number;
  maxBytes?: number;
  now?: () => number;
}

const isAvatarType = (mediaType: string): boolean => (avatarMediaTypes as readonly string[]).includes(mediaType);

/**
 * A chat's avatar, fetched by the API, never by the admin's browser: the URL is the end user's
 * (the platform passes it on), so it may point at the intranet, at cloud metadata, or at a
 * beacon that tells its owner when an admin reads the chat. The fetch goes through the address
 * guard with the voice notes' policy, takes raster images only, at most AVATAR_MAX_BYTES, and
 * its answer (an image or a failure) is kept for AVATAR_CACHE_MS, so a dashboard's polling does
 * not fetch again, and a URL that fails is not retried on every read.
 */
export function createAvatars(deps: AvatarDeps) {
  const timeoutMs = deps.timeoutMs ?? 5_000;
  const policy: SafeFetchPolicy = {
    ...deps.policy,
    maxBytes: deps.maxBytes ?? AVATAR_MAX_BYTES,
    connectTimeoutMs: timeoutMs,
    totalTimeoutMs: timeoutMs,
    maxRedirects: 2,
    allowedContentTypes: isAvatarType,
  };
  const fetches = createSemaphore(AVATAR_CONCURRENT_FETCHES);
  const cache = ttlCache<AvatarFetch>(
    async (key) => {
      const url = key.slice(key.indexOf('\n') + 1);
      try {
        const fetched = await fetches.run(() => safeFetch(url, policy));
        const mediaType = (fetched.contentType.split(';')[0] ?? '').trim().toLowerCase();
        return { ok: true, data: fetched.data, mediaType };
      } catch (error) {
        if (error instanceof UnsafeUrlError) return { ok: false, reason: error.reason, message: error.message };
        throw error;
      }
    },
    { ttlMs: AVATAR_CACHE_MS, maxEntries: AVATAR_CACHE_ENTRIES, ...(deps.now ? { now: deps.now } : {}) },
  );

  return {
    /** The avatar of a chat of the channel: 404 without one, 422 `avatar_unavailable` when it cannot be fetched. */
    async get(channelId: string, chatId: string): Promise<{ data: Buffer; mediaType: string }> {
      const channel = await deps.stores.channels.get(channelId);
      if (!channel) throw notFound('Channel');
      const chat = await deps.stores.chats.get(chatId);
      if (!chat || !chatOfChannel(chat, channel.id)) throw notFound('Chat');
      if (!chat.client_avatar) throw notFound('Avatar');
      const result = await cache.get(`${chat._id}\n${chat.client_avatar}`);
      if (!result.ok)
        throw new HttpError(
          422,
          'avatar_unavailable',
          `The avatar could not be fetched (${result.reason}): ${result.message}`,
        );
      return result;
    },
  };
}

export type Avatars = ReturnType<typeof createAvatars>;
