/** What the admin API's handlers need, and the small helpers they share. */
import type { ChannelDeletion } from '../channel-deletion.js';
import type { Logger } from '../../lib/logger.js';
import type { AddressPolicy } from '../../lib/address-policy.js';
import type { AgentStore } from '../../stores/agents.js';
import type { ChannelStore } from '../../stores/channels.js';
import type { SigningSecretStore } from '../../stores/signing-secrets.js';
import type { ChannelAuthenticator } from '../channel-auth.js';
import type { RateLimiter } from '../rate-limit.js';

export interface AdminDeps {
  adminToken: string;
  /** Failed admin authentications per source address (see requireBearerToken); absent: no limit. */
  authFailures?: RateLimiter;
  agents: Pick<AgentStore, 'create' | 'get' | 'list' | 'update' | 'delete'>;
  channels: Pick<
    ChannelStore,
    | 'create'
    | 'get'
    | 'getByPageId'
    | 'list'
    | 'countByAgent'
    | 'update'
    | 'rotateToken'
    | 'delete'
    | 'tokenHashesNotCurrent'
  >;
  signingSecrets: Pick<SigningSecretStore, 'create' | 'rotate' | 'deleteForChannel' | 'reencryptAll'>;
  /** How long a rotated-out signing secret still signs (SIGNING_SECRET_GRACE_SECONDS). */
  signingSecretGraceSeconds: number;
  /** The webhook's channel cache in this process: dropped for every page id a change touches. */
  auth: Pick<ChannelAuthenticator, 'invalidate'>;
  /** Where reply POSTs may go (DELIVERY_ALLOW_PRIVATE, DELIVERY_ALLOW_HOSTS): a reply URL is checked against it when set. */
  deliveryPolicy: AddressPolicy;
  /** Sweeps a deleted channel's chats, messages and their records, after the DELETE's answer. */
  channelDeletion: Pick<ChannelDeletion, 'start'>;
  logger: Logger;
}

/** A page of `limit` items out of `limit + 1` read, and where the next page starts. */
export const page = <T extends { id: string }>(
  items: T[],
  limit: number,
): { items: T[]; next_after: string | null } => {
  const more = items.length > limit;
  const kept = more ? items.slice(0, limit) : items;
  return { items: kept, next_after: more ? (kept[kept.length - 1]?.id ?? null) : null };
};

/** A patch without keys whose value is undefined, which $set would store as null. */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}
