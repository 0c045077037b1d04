import { LruMap } from '../lib/caches.js';
import { attemptKey, deliveryAttemptId, outcomeId, redeliveryId, speechId } from '../domain/ids.js';
import type { FinalStatus } from '../domain/models.js';
import {
  insertOnce,
  type AttemptRecord,
  type Collections,
  type DeliveryAttemptDoc,
  type MessageDoc,
  type OutcomeDoc,
  type RedeliveryDoc,
  type ReplyDoc,
  type StoredPart,
} from './collections.js';

export type NewMessage = Omit<MessageDoc, 'created_at' | 'updated_at'>;

/** How long a process keeps a record it wrote or read, at most: an erasure elsewhere is never known here. */
export const MESSAGE_CACHE_TTL_MS = 10 * 60_000;

interface MemoOptions {
  entries: number;
  ttlMs: number;
  now: () => number;
}

/**
 * A cache of records by id: an LRU of `entries`, each kept `ttlMs` at most (the expired ones are
 * dropped at the latest a minute after they expire, on the next write), or none at all at 0.
 */
function memo<V>({
  entries,
  ttlMs,
  now,
}: MemoOptions): Pick<LruMap<string, V>, 'get' | 'set' | 'delete' | 'deleteWhere'> {
  if (entries <= 0) {
    const nothing = (): undefined => undefined;
    return { get: nothing, set: nothing, delete: nothing, deleteWhere: nothing };
  }
  const lru = new LruMap<string, { value: V; expiresAt: number }>(entries);
  let swept = now();
  return {
    get(key) {
      const hit = lru.get(key);
      if (hit === undefined || hit.expiresAt > now()) return hit?.value;
      lru.delete(key);
      return undefined;
    },
    set(key, value) {
      const at = now();
      if (at - swept >= 60_000) {
        swept = at;
        lru.deleteWhere((cached) => (lru.peek(cached)?.expiresAt ?? 0) <= at);
      }
      lru.set(key, { value, expiresAt: at + ttlMs });
    },
    delete: (key) => lru.delete(key),
    deleteWhere: (matches) => lru.deleteWhere(matches),
  };
}

/** What a delivery attempt is read back as, to tell whether a part was delivered already. */
export type AttemptKey = { messageId: string; partIndex: number; attempt: number; redelivery?: number };

/** A stored part with what became of it. */
export interface PartStatus extends StoredPart {
  audio_blob_id?: string;
  delivered_at?: Date;
}

/** Probing past this many redeliveries or attempts per part would mean a bug; it stops there. */
const PROBE_LIMIT = 1_000;

/**
 * The message record, as documents that are each written once, by `_id` (see collections.ts for
 * why nothing that grows with the messages is ever updated): the message as accepted, its
 * transcript, its reply, each part's speech, each delivery attempt, and how it ended. Reading a
 * whole message (the status API) puts them together.
 */
export function createMessageStore(
  c: Collections,
  options: { cacheEntries?: number; cacheTtlMs?: number; now?: () => number } = {},
) {
  // The records are never changed once written, so a process keeps the ones it wrote or read
  // lately and reads them back from memory: the worker that admitted a message finds it, its
  // reply and its speech without asking the database again. Only deletion (an erasure, retention)
  // ends a record: `forget` drops it here, and a process that serves records to people (the API)
  // keeps none (`cacheEntries: 0`), since another process's erasure cannot reach its memory. The
  // others (workers) keep each record at most MESSAGE_CACHE_TTL_MS, which bounds how long an
  // erased message lives on in their memory; a message's steps mostly run within seconds.
  const cacheOptions: MemoOptions = {
    entries: options.cacheEntries ?? 5_000,
    ttlMs: options.cacheTtlMs ?? MESSAGE_CACHE_TTL_MS,
    now: options.now ?? Date.now,
  };
  const cache = {
    messages: memo<MessageDoc>(cacheOptions),
    replies: memo<ReplyDoc>(cacheOptions),
    transcripts: memo<string>(cacheOptions),
    speech: memo<string>(cacheOptions),
  };

  async function get(id: string): Promise<MessageDoc | null> {
    const cached = cache.messages.get(id);
    if (cached) return cached;
    const doc = await c.messages.findOne({ _id: id });
    if (doc) cache.messages.set(id, doc);
    return doc;
  }

  /**
   * A message's delivery attempts, oldest first, in one query: every part's, the "one moment"
   * part's and every redelivery's (on MongoDB from the `message_attempts` index). The status API,
   * which the dashboard polls, read them one `_id` at a time before: parts × attempts ×
   * redeliveries round trips per poll.
   */
  async function attemptsOf(messageId: string): Promise<AttemptRecord[]> {
    const docs = await c.attempts.find({ message_id: messageId }).toArray();
    return docs
      .map(({ _id: _ignored, message_id: _message, ...record }): AttemptRecord => record)
      .sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  return {
    /**
     * Drops what this process remembers of messages that were just deleted (an erasure, retention),
     * so it never serves them again from memory.
     */
    forget(messageIds: readonly string[]): void {
      const ids = new Set(messageIds);
      for (const id of ids) {
        cache.messages.delete(id);
        cache.replies.delete(id);
        cache.transcripts.delete(id);
      }
      // Speech is cached by `<messageId>:<part>`.
      cache.speech.deleteWhere((key) => ids.has(key.slice(0, key.lastIndexOf(':'))));
    },

    /**
     * Stores the message as accepted; a re-run leaves the first record as it is. False when the
     * record was there already: the step that admits a message has run before (a free signal, the
     * insert being made anyway), so what it stored since must be looked up, not redone.
     */
    async insert(message: NewMessage, now = new Date()): Promise<boolean> {
      const doc: MessageDoc = { ...message, created_at: now, updated_at: now };
      const inserted = await insertOnce(c.messages, doc);
      if (inserted) cache.messages.set(doc._id, doc);
      return inserted;
    },
    get,

    async saveTranscript(messageId: string, transcript: string, now = new Date()): Promise<void> {
      if (await insertOnce(c.transcripts, { _id: messageId, transcript, at: now }))
        cache.transcripts.set(messageId, transcript);
    },
    async transcript(message: MessageDoc): Promise<string | undefined> {
      const cached = cache.transcripts.get(message._id);
      if (cached !== undefined) return cached;
      const transcript = (await c.transcripts.findOne({ _id: message._id }))?.transcript;
      if (transcript !== undefined) cache.transcripts.set(message._id, transcript);
      return transcript;
    },

    /** Stores the reply's parts, once; a retry finds them there (and keeps the first). */
    async saveReply(messageId: string, parts: StoredPart[], reason?: string, now = new Date()): Promise<void> {
      const doc: ReplyDoc = { _id: messageId, parts, ...(reason !== undefined ? { reason } : {}), at: now };
      if (await insertOnce(c.replies, doc)) cache.replies.set(messageId, doc);
    },
    async reply(messageId: string): Promise<ReplyDoc | null> {
      const cached = cache.replies.get(messageId);
      if (cached) return cached;
      const doc = await c.replies.findOne({ _id: messageId });
      if (doc) cache.replies.set(messageId, doc);
      return doc;
    },

    async saveSpeech(messageId: string, partIndex: number, blobId: string, now = new Date()): Promise<boolean> {
      const inserted = await insertOnce(c.speech, { _id: speechId(messageId, partIndex), blob_id: blobId, at: now });
      if (inserted) cache.speech.set(speechId(messageId, partIndex), blobId);
      return inserted;
    },
    async speech(messageId: string, partIndex: number): Promise<string | undefined> {
      const key = speechId(messageId, partIndex);
      const cached = cache.speech.get(key);
      if (cached !== undefined) return cached;
      const blobId = (await c.speech.findOne({ _id: key }))?.blob_id;
      if (blobId !== undefined) cache.speech.set(key, blobId);
      return blobId;
    },

    /** Records one delivery attempt; recording the same attempt again (a retried step) keeps the first. */
    async recordAttempt(messageId: string, attempt: AttemptRecord): Promise<void> {
      await insertOnce(c.attempts, {
        _id: deliveryAttemptId(messageId, attemptKey(attempt.part_index, attempt.attempt, attempt.redelivery)),
        message_id: messageId,
        ...attempt,
      });
    },
    async attempt(key: AttemptKey): Promise<DeliveryAttemptDoc | null> {
      return c.attempts.findOne({
        _id: deliveryAttemptId(key.messageId, attemptKey(key.partIndex, key.attempt, key.redelivery)),
      });
    },

    /** Records how the message (or one redelivery of it) ended; the first record stands (false: it was there). */
    async saveOutcome(
      messageId: string,
      outcome: {
        status: FinalStatus;
        reason?: string;
        partsDelivered: number;
        redelivery?: number;
        answeredBy?: string;
      },
      now = new Date(),
    ): Promise<boolean> {
      return insertOnce(c.outcomes, {
        _id: outcomeId(messageId, outcome.redelivery),
        message_id: messageId,
        ...(outcome.redelivery !== undefined ? { redelivery: outcome.redelivery } : {}),
        status: outcome.status,
        ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
        parts_delivered: outcome.partsDelivered,
        ...(outcome.answeredBy !== undefined ? { answered_by: outcome.answeredBy } : {}),
        at: now,
      });
    },
    outcome(messageId: string, redelivery?: number): Promise<OutcomeDoc | null> {
      return c.outcomes.findOne({ _id: outcomeId(messageId, redelivery) });
    },

    /** Claims redelivery number `redelivery` of a message by inserting it: true when this call got it. */
    async claimRedelivery(
      messageId: string,
      redelivery: number,
      claim: { workflow_id: string; from_part: number },
      now = new Date(),
    ): Promise<boolean> {
      return insertOnce(c.redeliveries, {
        _id: redeliveryId(messageId, redelivery),
        message_id: messageId,
        redelivery,
        ...claim,
        at: now,
      });
    },
    /**
     * Gives a claimed redelivery number back, when its workflow could not be started: the message is
     * then as before the claim (not `processing`), and the next redelivery claims the number again.
     * Only the request that claimed it deletes it (one writer), so no update is lost.
     */
    async releaseRedelivery(messageId: string, redelivery: number): Promise<void> {
      await c.redeliveries.deleteOne({ _id: redeliveryId(messageId, redelivery) });
    },
    /** The redeliveries of a message, oldest first. */
    async redeliveries(messageId: string): Promise<RedeliveryDoc[]> {
      const found: RedeliveryDoc[] = [];
      for (let redelivery = 1; redelivery <= PROBE_LIMIT; redelivery++) {
        const doc = await c.redeliveries.findOne({ _id: redeliveryId(messageId, redelivery) });
        if (!doc) break;
        found.push(doc);
      }
      return found;
    },

    /** A reply waiting for its paused channel; the admin's resume finds it here. */
    async parkDelivery(workflowId: string, channelId: string, messageId: string, now = new Date()): Promise<void> {
      await insertOnce(c.pausedDeliveries, { _id: workflowId, channel_id: channelId, message_id: messageId, at: now });
    },
    async unparkDelivery(workflowId: string): Promise<void> {
      await c.pausedDeliveries.deleteOne({ _id: workflowId });
    },
    /** The workflows waiting for a channel's resume. */
    async parkedDeliveries(channelId: string): Promise<string[]> {
      const parked = await c.pausedDeliveries.find({ channel_id: channelId }).toArray();
      return parked.map((doc) => doc._id);
    },

    async listByChannel(channelId: string, options: { limit: number; before?: Date }): Promise<MessageDoc[]> {
      const filter: Record<string, unknown> = { channel_id: channelId };
      if (options.before) filter.created_at = { $lt: options.before };
      return c.messages
        .find(filter, { projection: { inbound: 0, snapshot: 0 } })
        .sort({ created_at: -1 })
        .limit(options.limit)
        .toArray();
    },

    /** A message's parts with their speech and delivery; `attempts` when the caller has read them already. */
    async parts(messageOrId: MessageDoc | string, known?: AttemptRecord[]): Promise<PartStatus[]> {
      const message = typeof messageOrId === 'string' ? await get(messageOrId) : messageOrId;
      if (!message) return [];
      const reply = await c.replies.findOne({ _id: message._id });
      if (!reply) return [];
      const attempts = known ?? (await attemptsOf(message._id));
      return Promise.all(
        reply.parts.map(async (part) => {
          const blobId = await this.speech(message._id, part.index);
          const delivered = attempts.find(
            (attempt) => attempt.part_index === part.index && attempt.result === 'delivered',
          );
          return {
            ...part,
            ...(blobId !== undefined ? { audio_blob_id: blobId } : {}),
            ...(delivered ? { delivered_at: delivered.at } : {}),
          };
        }),
      );
    },
    /** A message's delivery attempts, oldest first (one query). */
    async attempts(messageOrId: MessageDoc | string): Promise<AttemptRecord[]> {
      return attemptsOf(typeof messageOrId === 'string' ? messageOrId : messageOrId._id);
    },
  };
}

export type MessageStore = ReturnType<typeof createMessageStore>;
