import type { Channel } from '../domain/models.js';
import type { SecretBox } from '../lib/secret-box.js';
import { randomId } from '../lib/secrets.js';
import type { ChannelDoc, Collections } from './collections.js';

export type NewChannel = Omit<
  Channel,
  'id' | 'created_at' | 'updated_at' | 'token_hash' | 'token_last4' | 'token_version'
> & {
  api_token: string;
};
export type ChannelPatch = Partial<Omit<NewChannel, 'api_token'>>;

const toChannel = ({ _id, ...rest }: ChannelDoc): Channel => ({ id: _id, ...rest });

/** `box` keys the stored hash of API tokens (HMAC-SHA-256; see lib/secret-box.ts). */
export function createChannelStore(
  c: Collections,
  box: Pick<SecretBox, 'hashToken' | 'tokenMatches' | 'tokenHashKind'>,
) {
  return {
    /** Throws a duplicate key error (see isDuplicateKey) when the page id is taken. */
    async create(input: NewChannel, now = new Date()): Promise<Channel> {
      const { api_token, ...settings } = input;
      const doc: ChannelDoc = {
        _id: `chn_${randomId(12)}`,
        ...settings,
        token_hash: box.hashToken(api_token),
        token_last4: api_token.slice(-4),
        token_version: 1,
        created_at: now,
        updated_at: now,
      };
      await c.channels.insertOne(doc);
      return toChannel(doc);
    },
    async get(id: string): Promise<Channel | undefined> {
      const doc = await c.channels.findOne({ _id: id });
      return doc ? toChannel(doc) : undefined;
    },
    async getByPageId(pageId: string): Promise<Channel | undefined> {
      const doc = await c.channels.findOne({ page_id: pageId });
      return doc ? toChannel(doc) : undefined;
    },
    async list(options: { limit: number; after?: string; agentId?: string }): Promise<Channel[]> {
      const filter: Record<string, unknown> = {};
      if (options.after) filter._id = { $gt: options.after };
      if (options.agentId) filter.agent_id = options.agentId;
      const docs = await c.channels.find(filter).sort({ _id: 1 }).limit(options.limit).toArray();
      return docs.map(toChannel);
    },
    async countByAgent(agentId: string): Promise<number> {
      return c.channels.countDocuments({ agent_id: agentId });
    },
    async update(id: string, patch: ChannelPatch, now = new Date()): Promise<Channel | undefined> {
      const doc = await c.channels.findOneAndUpdate(
        { _id: id },
        { $set: { ...patch, updated_at: now } },
        { returnDocument: 'after' },
      );
      return doc ? toChannel(doc) : undefined;
    },
    async rotateToken(id: string, newToken: string, now = new Date()): Promise<Channel | undefined> {
      const doc = await c.channels.findOneAndUpdate(
        { _id: id },
        {
          $set: { token_hash: box.hashToken(newToken), token_last4: newToken.slice(-4), updated_at: now },
          $inc: { token_version: 1 },
        },
        { returnDocument: 'after' },
      );
      return doc ? toChannel(doc) : undefined;
    },
    /** Whether `presented` is the token whose hash is stored; constant time; false for no hash. */
    tokenMatches(presented: string, storedHash: string | undefined): boolean {
      return box.tokenMatches(presented, storedHash);
    },
    /**
     * The channels whose token hash is not under the current key: under an older key (that key
     * must stay in SECRETS_ENCRYPTION_OLD_KEYS until their tokens are rotated), under a key no
     * longer configured (those tokens no longer work), or plain SHA-256 from before keyed hashes.
     */
    async tokenHashesNotCurrent(): Promise<{ old_key: string[]; unknown_key: string[]; sha256: string[] }> {
      const found = { old_key: [] as string[], unknown_key: [] as string[], sha256: [] as string[] };
      for await (const doc of c.channels.find({}, { projection: { token_hash: 1 } }).sort({ _id: 1 })) {
        const kind = box.tokenHashKind(doc.token_hash);
        if (kind !== 'current') found[kind].push(doc._id);
      }
      return found;
    },
    async delete(id: string): Promise<boolean> {
      const result = await c.channels.deleteOne({ _id: id });
      return result.deletedCount === 1;
    },
  };
}

export type ChannelStore = ReturnType<typeof createChannelStore>;
