import { Binary } from 'mongodb';
import { randomId } from '../lib/secrets.js';
import type { BlobDoc, Collections } from './collections.js';

/** Binary payloads (generated speech) live in MongoDB, never in workflow history. */
export function createBlobStore(c: Collections) {
  return {
    async put(messageId: string, contentType: string, data: Buffer, now = new Date()): Promise<string> {
      const id = randomId(24);
      await c.blobs.insertOne({
        _id: id,
        message_id: messageId,
        content_type: contentType,
        size: data.length,
        data: new Binary(data),
        created_at: now,
      });
      return id;
    },
    async get(id: string): Promise<{ messageId: string; contentType: string; data: Buffer } | undefined> {
      const doc: BlobDoc | null = await c.blobs.findOne({ _id: id });
      return doc
        ? { messageId: doc.message_id, contentType: doc.content_type, data: Buffer.from(doc.data.buffer) }
        : undefined;
    },
  };
}

export type BlobStore = ReturnType<typeof createBlobStore>;
