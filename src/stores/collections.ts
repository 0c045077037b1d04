import type { Binary, Collection, Db } from 'mongodb';
import type { HandoffBy } from '../domain/handoff.js';
import type { HistoryEntry } from '../domain/history.js';
import type {
  Agent,
  Channel,
  ChannelSnapshot,
  FinalStatus,
  InboundEnvelope,
  MessageStage,
  MessageStatus,
} from '../domain/models.js';

/** Documents as stored; `_id` is always a string we choose, so writes can be idempotent. */
export type AgentDoc = Omit<Agent, 'id'> & { _id: string };
export type ChannelDoc = Omit<Channel, 'id'> & {
  _id: string;
  /**
   * Written `null` in every new channel and never read: 1.0.0 reads a channel without it as one
   * from before its chat ids, whose chats it would give other ids. Kept for one release, so 1.0.0
   * API processes beside this one (a rolling upgrade) or after a rollback give a new channel's
   * chats the ids this release does (docs/upgrades.md); the release after the next stops writing it.
   */
  chats_page_id?: null;
};

/**
 * Which channel holds a page id: `_id` the page id. The API finds a message's channel by its page
 * id through it, with lookups by `_id` alone (FerretDB's SQLite backend reads a whole collection
 * for any other filter). Written by the admin API only (stores/channels.ts).
 */
export interface ChannelPageDoc {
  _id: string;
  channel_id: string;
}

export type { HistoryEntry };

/**
 * The chat: one end user on one channel page, with the window of recent history its model reads.
 * The one document rewritten on every message (by `_id`, by the message whose turn it is): one
 * per chat, small, so that stays cheap.
 */
export interface ChatDoc {
  _id: string;
  /** The channel the chat is of (its `_id` derives from it: stores/chats.ts, chatIdFor). */
  channel_id: string;
  /** The channel's page id at the chat's latest turn. */
  page_id: string;
  client_id: string;
  platform: string;
  client_name?: string;
  client_avatar?: string;
  first_seen_at: Date;
  last_seen_at?: Date;
  /** Number of history entries written for this chat. */
  history_seq?: number;
  /** The latest history entries, oldest first: what the model sees. */
  recent?: HistoryEntry[];
  /**
   * Set while the chat is with a person (human handoff): its messages are stored in the history
   * and not answered. Written, like the window, only by the holder of the chat's turn: the message
   * whose model asked for the handoff, or an admin's pause or resume, which takes a place in the
   * chat's line for it (src/workflows/chat-control.ts). Read with the window, so an unpaused chat
   * costs nothing more.
   */
  handoff?: ChatHandoff;
}

/**
 * A deleted channel whose chats, messages and their records are still to be swept away
 * (src/api/channel-deletion.ts). Inserted before the channel document is deleted, so a process
 * that dies mid-way leaves what it did not delete findable; `swept_at` once nothing is left.
 */
export interface ChannelDeletionDoc {
  /** The deleted channel's id. */
  _id: string;
  deleted_at: Date;
  swept_at?: Date;
}

/** Who paused the chat's assistant, when, and (when the model asked) by which message's reply. */
export interface ChatHandoff {
  since: Date;
  by: HandoffBy;
  message_id?: string;
}

/**
 * Everything that grows with the number of messages is written once (inserted, keyed by an `_id`
 * we compute) and read back by that `_id`; a retry inserts the same key and is told it exists.
 * Inserts are what every MongoDB-compatible server does atomically and cheaply (FerretDB v1
 * checks the unique `_id` through its index; its updates and deletes read the whole collection),
 * and a record that is never updated never has two writers to lose an update between.
 */

/** A place in a chat's line (chat-line/store.ts): `_id` `${chatId}:${seq}`. */
export interface LineSlotDoc {
  _id: string;
  chat_id: string;
  seq: number;
  message_id: string;
  /** The workflow that holds the place (a message's, a redelivery's, a chat control's), or the process's hold id (erasure, retention). */
  workflow_id: string;
  created_at: Date;
  /**
   * For a place held by a process rather than a workflow (an erasure, retention): how long after
   * its claim it may still be at work; past that, with no workflow of its id, it is voided.
   */
  hold_ms?: number;
}

/**
 * How a place in a chat's line ended (chat-line/store.ts): `_id` the place's. Inserted once, by
 * the one who ends it: `finished` only by the owner that held the chat's turn (so every place
 * before it had ended), `void` for a place known never to be at work (a duplicate POST, a start
 * that never happened, a workflow terminated by hand, a message that ended before its turn came).
 */
export interface LineEndDoc {
  _id: string;
  chat_id: string;
  seq: number;
  kind: 'finished' | 'void';
  at: Date;
}

/**
 * Where a chat's line starts again once retention cut it: `_id` the chat id; every place up to
 * `floor` had ended. Written only by retention: holding the chat's turn (the floor), then a day
 * later, deleting the places up to it (`pruned`).
 */
export interface LineFloorDoc {
  _id: string;
  floor: number;
  at: Date;
  /** The places up to the floor were deleted. */
  pruned: boolean;
}

/** The documents of the line's first design (heads, voids, waiters), read once to move them to `chat_line_ends`. */
export interface LegacyLineDoc {
  _id: string;
  done?: number;
}

/**
 * A message as accepted, written once (admission) and never updated; what happens next is in
 * documents of its own, by the same `_id`: transcript, reply, speech, attempts, outcome.
 */
export interface MessageDoc {
  _id: string;
  workflow_id: string;
  channel_id: string;
  page_id: string;
  client_id: string;
  chat_id: string;
  platform: string;
  /** As accepted (`processing`, `accepted`), never updated: the outcome's say how it ended, the workflow's where it is. */
  status: MessageStatus;
  stage: MessageStage;
  inbound: InboundEnvelope['message'];
  received_at: Date;
  snapshot?: ChannelSnapshot;
  created_at: Date;
  updated_at: Date;
  /** The message's place in its chat's line. */
  line_seq: number;
}

export interface TranscriptDoc {
  /** The message id. */
  _id: string;
  transcript: string;
  at: Date;
}

/** One part of a reply. */
export interface StoredPart {
  index: number;
  text: string;
  images: string[];
  file?: string;
  /** Sent as the `webhook-id` header on every attempt for this part. */
  delivery_id: string;
}

/** A message's reply, split into parts. */
export interface ReplyDoc {
  /** The message id. */
  _id: string;
  parts: StoredPart[];
  /** Set when the reply is the agent's fallback: why the model's reply could not be used. */
  reason?: string;
  at: Date;
}

/** The speech of one reply part: `_id` `${messageId}:${index}`. */
export interface SpeechDoc {
  _id: string;
  blob_id: string;
  at: Date;
}

/** How a message, or one redelivery of it, ended: `_id` the message id, or `${messageId}:r${n}`. */
export interface OutcomeDoc {
  _id: string;
  message_id: string;
  redelivery?: number;
  status: FinalStatus;
  reason?: string;
  parts_delivered: number;
  /** Coalesced or superseded: the message whose reply answered this one (which may itself have been absorbed). */
  answered_by?: string;
  at: Date;
}

/** An admin's redelivery, claimed by number: `_id` `${messageId}:r${n}`. */
export interface RedeliveryDoc {
  _id: string;
  message_id: string;
  redelivery: number;
  workflow_id: string;
  from_part: number;
  at: Date;
}

/** A reply waiting for its channel to be resumed (after a 410): `_id` the waiting workflow's id. Few, and deleted on resume. */
export interface PausedDeliveryDoc {
  _id: string;
  channel_id: string;
  message_id: string;
  at: Date;
}

/** One delivery attempt: `_id` `${messageId}:${attemptKey}`. */
export interface DeliveryAttemptDoc {
  _id: string;
  message_id: string;
  part_index: number;
  attempt: number;
  /** Set on attempts made by an admin's redelivery (its number), absent on the first delivery. */
  redelivery?: number;
  at: Date;
  duration_ms: number;
  result: 'delivered' | 'retry' | 'rejected';
  http_status?: number;
  error?: string;
}

export type AttemptRecord = Omit<DeliveryAttemptDoc, '_id' | 'message_id'>;

export interface BlobDoc {
  /** Random and unguessable: it is the public URL's only secret. */
  _id: string;
  message_id: string;
  content_type: string;
  size: number;
  data: Binary;
  created_at: Date;
}

export interface Collections {
  agents: Collection<AgentDoc>;
  channels: Collection<ChannelDoc>;
  channelPages: Collection<ChannelPageDoc>;
  channelDeletions: Collection<ChannelDeletionDoc>;
  chats: Collection<ChatDoc>;
  messages: Collection<MessageDoc>;
  attempts: Collection<DeliveryAttemptDoc>;
  blobs: Collection<BlobDoc>;
  lines: Collection<LineSlotDoc>;
  lineEnds: Collection<LineEndDoc>;
  lineFloors: Collection<LineFloorDoc>;
  transcripts: Collection<TranscriptDoc>;
  replies: Collection<ReplyDoc>;
  speech: Collection<SpeechDoc>;
  outcomes: Collection<OutcomeDoc>;
  redeliveries: Collection<RedeliveryDoc>;
  pausedDeliveries: Collection<PausedDeliveryDoc>;
}

export function collections(db: Db): Collections {
  return {
    agents: db.collection<AgentDoc>('agents'),
    channels: db.collection<ChannelDoc>('channels'),
    channelPages: db.collection<ChannelPageDoc>('channel_pages'),
    channelDeletions: db.collection<ChannelDeletionDoc>('channel_deletions'),
    chats: db.collection<ChatDoc>('chats'),
    messages: db.collection<MessageDoc>('messages'),
    attempts: db.collection<DeliveryAttemptDoc>('delivery_attempts'),
    blobs: db.collection<BlobDoc>('blobs'),
    lines: db.collection<LineSlotDoc>('chat_lines'),
    lineEnds: db.collection<LineEndDoc>('chat_line_ends'),
    lineFloors: db.collection<LineFloorDoc>('chat_line_floors'),
    transcripts: db.collection<TranscriptDoc>('message_transcripts'),
    replies: db.collection<ReplyDoc>('message_replies'),
    speech: db.collection<SpeechDoc>('message_speech'),
    outcomes: db.collection<OutcomeDoc>('message_outcomes'),
    redeliveries: db.collection<RedeliveryDoc>('message_redeliveries'),
    pausedDeliveries: db.collection<PausedDeliveryDoc>('paused_deliveries'),
  };
}

/** Creates every index a query relies on; safe to run at every start. */
export async function ensureIndexes(c: Collections): Promise<void> {
  await Promise.all([
    c.channels.createIndex({ page_id: 1 }, { unique: true, name: 'page_id_unique' }),
    c.channels.createIndex({ agent_id: 1 }, { name: 'agent_id' }),
    // The dashboard's chats of a channel, most recent first (stores/dashboard-reads.ts), and a
    // deleted channel's (stores/erasure.ts); an erasure by a page id no channel has, by its page.
    c.chats.createIndex({ channel_id: 1, last_seen_at: -1, _id: 1 }, { name: 'channel_recent' }),
    c.chats.createIndex({ page_id: 1, last_seen_at: -1, _id: 1 }, { name: 'page_recent' }),
    c.messages.createIndex({ channel_id: 1, created_at: -1 }, { name: 'channel_recent' }),
    c.attempts.createIndex({ message_id: 1, part_index: 1, attempt: 1 }, { name: 'message_attempts' }),
    c.pausedDeliveries.createIndex({ channel_id: 1 }, { name: 'channel' }),
    // Retention and erasure (stores/erasure.ts): messages by age and by chat, and each collection
    // of per-message records by message. Records keyed `${messageId}:…` need none: an anchored
    // prefix of `_id` uses the `_id` index. (FerretDB v1 scans on deletes anyway.)
    c.messages.createIndex({ received_at: 1, _id: 1 }, { name: 'received' }),
    c.messages.createIndex({ chat_id: 1 }, { name: 'chat' }),
    c.chats.createIndex({ last_seen_at: 1 }, { name: 'last_seen' }),
    c.outcomes.createIndex({ message_id: 1 }, { name: 'message' }),
    c.redeliveries.createIndex({ message_id: 1 }, { name: 'message' }),
    c.pausedDeliveries.createIndex({ message_id: 1 }, { name: 'message' }),
    c.blobs.createIndex({ message_id: 1 }, { name: 'message' }),
  ]);
}

/** Inserts a document written once; true when this call inserted it, false when it was there already (a retry). */
export async function insertOnce<T extends { _id: string }>(collection: Collection<T>, doc: T): Promise<boolean> {
  try {
    // The driver's OptionalUnlessRequiredId<T> does not see that T always has its _id.
    await collection.insertOne(doc as Parameters<Collection<T>['insertOne']>[0]);
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/** MongoDB's duplicate key error, raised by a unique index or an existing _id. */
export function isDuplicateKey(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;
}
