import type { ChannelSnapshot, InboundEnvelope } from '../domain/models.js';
import {
  isDuplicateKey,
  type Collections,
  type DeliveryAttemptDoc,
  type MessageDoc,
  type ReplyPartDoc,
} from './collections.js';

export type MessageUpdate = Partial<Omit<MessageDoc, '_id' | 'created_at' | 'updated_at'>>;

/** Version 1: the message record with its parts and attempts in collections of their own. Used only by the version 1 activities, which finish what was in flight at the upgrade. */
export function createLegacyMessageStore(c: Collections) {
  return {
    /** Stores the message as accepted; a retry leaves the first record as it is. */
    async recordAccepted(
      envelope: InboundEnvelope,
      workflowId: string,
      chatId: string,
      extra: { snapshot?: ChannelSnapshot } = {},
      now = new Date(),
    ): Promise<void> {
      await c.messages.updateOne(
        { _id: envelope.messageId },
        {
          $setOnInsert: {
            workflow_id: workflowId,
            channel_id: envelope.channelId,
            page_id: envelope.pageId,
            client_id: envelope.message.client_id,
            chat_id: chatId,
            platform: envelope.message.platform,
            status: extra.snapshot ? 'processing' : 'accepted',
            stage: 'validating',
            inbound: envelope.message,
            received_at: new Date(envelope.receivedAt),
            ...(extra.snapshot ? { snapshot: extra.snapshot } : {}),
            created_at: now,
            updated_at: now,
          },
        },
        { upsert: true },
      );
    },
    get(id: string): Promise<MessageDoc | null> {
      return c.messages.findOne({ _id: id });
    },
    async update(id: string, fields: MessageUpdate, now = new Date()): Promise<void> {
      await c.messages.updateOne({ _id: id }, { $set: { ...fields, updated_at: now } });
    },

    /** Saves the reply's parts once; a retry keeps the parts (and delivery ids) first saved. */
    async saveParts(parts: ReplyPartDoc[]): Promise<void> {
      if (parts.length === 0) return;
      // Plain inserts, not $setOnInsert upserts: FerretDB v1 drops top-level empty arrays from those.
      try {
        await c.parts.insertMany(parts, { ordered: false });
      } catch (error) {
        if (!isDuplicateKey(error) && !allDuplicates(error)) throw error;
      }
    },
    part(messageId: string, index: number): Promise<ReplyPartDoc | null> {
      return c.parts.findOne({ _id: `${messageId}:${index}` });
    },
    async setPartAudio(messageId: string, index: number, blobId: string): Promise<void> {
      await c.parts.updateOne({ _id: `${messageId}:${index}` }, { $set: { audio_blob_id: blobId } });
    },
    async markPartDelivered(messageId: string, index: number, at: Date): Promise<void> {
      await c.parts.updateOne({ _id: `${messageId}:${index}` }, { $set: { delivered_at: at } });
    },

    /** Records one delivery attempt; recording the same attempt again replaces it. */
    async recordAttempt(attempt: Omit<DeliveryAttemptDoc, '_id'>): Promise<void> {
      const _id = `${attempt.message_id}:${attempt.part_index}:${attempt.attempt}${attempt.redelivery !== undefined ? `:r${attempt.redelivery}` : ''}`;
      await c.attempts.replaceOne({ _id }, attempt, { upsert: true });
    },
  };
}

export type LegacyMessageStore = ReturnType<typeof createLegacyMessageStore>;

/** A bulk insert whose only failures were duplicate keys (a retry inserting what is already there). */
function allDuplicates(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  return (
    list.length > 0 &&
    list.every((item: { code?: unknown; err?: { code?: unknown } }) => (item.code ?? item.err?.code) === 11000)
  );
}
