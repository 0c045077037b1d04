import type { Binary, Collection, Db } from 'mongodb';
import type { Agent, Channel, ChannelSnapshot, InboundEnvelope, MessageStage, MessageStatus } from '../domain/models.js';

/** Documents as stored; `_id` is always a string we choose, so writes can be idempotent. */
export type AgentDoc = Omit<Agent, 'id'> & { _id: string };
export type ChannelDoc = Omit<Channel, 'id'> & { _id: string };

export interface ChatDoc {
  _id: string;
  page_id: string;
  client_id: string;
  platform: string;
  client_name?: string;
  client_avatar?: string;
  first_seen_at: Date;
  last_seen_at: Date;
  /** Number of history entries written for this chat; also the version `recent` is updated against. */
  history_seq: number;
  /** The latest history entries, oldest first: what the model sees (see stores/history.ts). */
  recent?: HistoryEntry[];
}

export interface HistoryEntry {
  /** `${messageId}:${role}` */
  id: string;
  role: 'user' | 'assistant';
  content: string;
  attachments: string[];
}

export interface HistoryDoc {
  /** `${messageId}:user` or `${messageId}:assistant`: one entry per message and role, whatever the retries. */
  _id: string;
  chat_id: string;
  message_id: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  attachments: string[];
  created_at: Date;
}

export interface MessageDoc {
  _id: string;
  workflow_id: string;
  channel_id: string;
  page_id: string;
  client_id: string;
  chat_id: string;
  platform: string;
  status: MessageStatus;
  stage: MessageStage;
  /** Why the message failed or was not answered. */
  reason?: string;
  inbound: InboundEnvelope['message'];
  received_at: Date;
  transcript?: string;
  snapshot?: ChannelSnapshot;
  part_count?: number;
  parts_delivered?: number;
  next_retry_at?: Date | null;
  /** How many redeliveries an admin asked for, and the workflow of the latest. */
  redeliveries?: number;
  redelivery_workflow_id?: string;
  last_error?: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at?: Date;
}

export interface ReplyPartDoc {
  /** `${messageId}:${index}` */
  _id: string;
  message_id: string;
  index: number;
  text: string;
  images: string[];
  file?: string;
  audio_blob_id?: string;
  delivery_id: string;
  delivered_at?: Date;
}

export interface DeliveryAttemptDoc {
  /** `${messageId}:${partIndex}:${attempt}` (+ `:r${n}` for a redelivery): a retried activity rewrites its own attempt, never adds one. */
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
  chats: Collection<ChatDoc>;
  history: Collection<HistoryDoc>;
  messages: Collection<MessageDoc>;
  parts: Collection<ReplyPartDoc>;
  attempts: Collection<DeliveryAttemptDoc>;
  blobs: Collection<BlobDoc>;
}

export function collections(db: Db): Collections {
  return {
    agents: db.collection<AgentDoc>('agents'),
    channels: db.collection<ChannelDoc>('channels'),
    chats: db.collection<ChatDoc>('chats'),
    history: db.collection<HistoryDoc>('history'),
    messages: db.collection<MessageDoc>('messages'),
    parts: db.collection<ReplyPartDoc>('reply_parts'),
    attempts: db.collection<DeliveryAttemptDoc>('delivery_attempts'),
    blobs: db.collection<BlobDoc>('blobs'),
  };
}

/** Creates every index a query relies on; safe to run at every start. */
export async function ensureIndexes(c: Collections): Promise<void> {
  await Promise.all([
    c.channels.createIndex({ page_id: 1 }, { unique: true, name: 'page_id_unique' }),
    c.channels.createIndex({ agent_id: 1 }, { name: 'agent_id' }),
    c.chats.createIndex({ page_id: 1, client_id: 1 }, { unique: true, name: 'page_client_unique' }),
    c.history.createIndex({ chat_id: 1, seq: -1 }, { name: 'chat_seq' }),
    c.messages.createIndex({ channel_id: 1, created_at: -1 }, { name: 'channel_recent' }),
    c.messages.createIndex({ channel_id: 1, stage: 1 }, { name: 'channel_stage' }),
    c.parts.createIndex({ message_id: 1, index: 1 }, { name: 'message_parts' }),
    c.attempts.createIndex({ message_id: 1, part_index: 1, attempt: 1 }, { name: 'message_attempts' }),
  ]);
}

/** MongoDB's duplicate key error, raised by a unique index or an existing _id. */
export function isDuplicateKey(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;
}
