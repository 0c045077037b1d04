import type { Channel } from '../domain/models.js';
import type { SecretBox } from '../lib/secret-box.js';
import { randomId } from '../lib/secrets.js';
import { insertOnce, isDuplicateKey, type ChannelDoc, type Collections } from './collections.js';

export type NewChannel = Omit<
  Channel,
  'id' | 'created_at' | 'updated_at' | 'token_hash' | 'token_last4' | 'token_version'
> & {
  api_token: string;
};
export type ChannelPatch = Partial<Omit<NewChannel, 'api_token'>>;

/** The key of `token_retired_at` for a token version. */
export const retiredKey = (version: number): string => `v${version}`;

const toChannel = ({ _id, ...rest }: ChannelDoc): Channel => ({ id: _id, ...rest });

/** What a unique index answers when a page id is taken: the admin API maps it to 409 (see isDuplicateKey). */
class PageTakenError extends Error {
  readonly code = 11000;
  constructor(pageId: string) {
    super(`page id ${pageId} is taken`);
    this.name = 'PageTakenError';
  }
}

/** `box` keys the stored hash of API tokens (HMAC-SHA-256; see lib/secret-box.ts). */
export function createChannelStore(
  c: Collections,
  box: Pick<SecretBox, 'hashToken' | 'tokenMatches' | 'tokenHashKind' | 'wrapLegacyTokenHash'>,
) {
  const holderOf = async (pageId: string): Promise<ChannelDoc | null> => {
    const page = await c.channelPages.findOne({ _id: pageId });
    const channel = page ? await c.channels.findOne({ _id: page.channel_id }) : null;
    // A page document left behind by an interrupted change names a channel that no longer has it.
    return channel?.page_id === pageId ? channel : null;
  };
  /**
   * Takes `pageId` for `channelId`. The page document's unique `_id` decides between two admins
   * at once; a document left behind by an interrupted change (its channel gone, or moved to
   * another page) is taken over. Throws a duplicate key error when a channel holds the page.
   */
  const claimPage = async (pageId: string, channelId: string): Promise<void> => {
    try {
      await c.channelPages.insertOne({ _id: pageId, channel_id: channelId });
      return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const holder = await holderOf(pageId);
    if (holder && holder._id !== channelId) throw new PageTakenError(pageId);
    await c.channelPages.replaceOne({ _id: pageId }, { channel_id: channelId });
  };
  /** Lets go of `pageId` if `channelId` holds it (read, then delete by `_id`: only the admin API writes these). */
  const releasePage = async (pageId: string, channelId: string): Promise<void> => {
    const page = await c.channelPages.findOne({ _id: pageId });
    if (page?.channel_id === channelId) await c.channelPages.deleteOne({ _id: pageId });
  };
  /**
   * After a channel write failed (two admins took the same page at once, and the channels' unique
   * page index refused one): points the page at the channel that holds it, or at none. A read by
   * `page_id` (a scan on FerretDB), on this rare path only.
   */
  const settlePage = async (pageId: string): Promise<void> => {
    const holder = await c.channels.findOne({ page_id: pageId }, { projection: { _id: 1 } });
    if (holder) await c.channelPages.replaceOne({ _id: pageId }, { channel_id: holder._id }, { upsert: true });
    else await c.channelPages.deleteOne({ _id: pageId });
  };

  return {
    /** Gives every channel its page document (channels created before there were any); safe at every start. */
    async ensurePages(): Promise<void> {
      for await (const doc of c.channels.find({}, { projection: { _id: 1, page_id: 1 } })) {
        const page = await c.channelPages.findOne({ _id: doc.page_id });
        if (page?.channel_id !== doc._id)
          await c.channelPages.replaceOne({ _id: doc.page_id }, { channel_id: doc._id }, { upsert: true });
      }
    },
    /** Throws a duplicate key error (see isDuplicateKey) when the page id is taken. */
    async create(input: NewChannel, now = new Date()): Promise<Channel> {
      const { api_token, ...settings } = input;
      const id = `chn_${randomId(12)}`;
      await claimPage(settings.page_id, id);
      const doc: ChannelDoc = {
        _id: id,
        ...settings,
        token_hash: box.hashToken(api_token),
        token_last4: api_token.slice(-4),
        token_version: 1,
        chats_page_id: null,
        created_at: now,
        updated_at: now,
      };
      try {
        await c.channels.insertOne(doc);
      } catch (error) {
        await settlePage(settings.page_id).catch(() => undefined);
        throw error;
      }
      return toChannel(doc);
    },
    async get(id: string): Promise<Channel | undefined> {
      const doc = await c.channels.findOne({ _id: id });
      return doc ? toChannel(doc) : undefined;
    },
    /** The channel of a page id: two lookups by `_id`, on every message whose channel is not cached. */
    async getByPageId(pageId: string): Promise<Channel | undefined> {
      const doc = await holderOf(pageId);
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
    /** Throws a duplicate key error (see isDuplicateKey) when a new page id is taken. */
    async update(id: string, patch: ChannelPatch, now = new Date()): Promise<Channel | undefined> {
      const before = patch.page_id !== undefined ? await c.channels.findOne({ _id: id }) : null;
      const movesPage = before !== null && patch.page_id !== undefined && patch.page_id !== before.page_id;
      if (movesPage && patch.page_id !== undefined) await claimPage(patch.page_id, id);
      let doc: ChannelDoc | null;
      try {
        doc = await c.channels.findOneAndUpdate(
          { _id: id },
          { $set: { ...patch, updated_at: now } },
          { returnDocument: 'after' },
        );
      } catch (error) {
        if (movesPage && patch.page_id !== undefined) await settlePage(patch.page_id).catch(() => undefined);
        throw error;
      }
      if (movesPage && before) await releasePage(before.page_id, id);
      return doc ? toChannel(doc) : undefined;
    },
    /**
     * Replaces the token and records when the one it replaces stopped being valid (admission
     * answers what was accepted with it before then). The update names the version it replaces, so
     * two rotations at once cannot both record theirs under one version: the loser reads again.
     */
    async rotateToken(id: string, newToken: string, now = new Date()): Promise<Channel | undefined> {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const before = await c.channels.findOne({ _id: id }, { projection: { token_version: 1 } });
        if (!before) return undefined;
        const doc = await c.channels.findOneAndUpdate(
          { _id: id, token_version: before.token_version },
          {
            $set: {
              token_hash: box.hashToken(newToken),
              token_last4: newToken.slice(-4),
              updated_at: now,
              [`token_retired_at.${retiredKey(before.token_version)}`]: now,
            },
            $inc: { token_version: 1 },
          },
          { returnDocument: 'after' },
        );
        if (doc) return toChannel(doc);
      }
      throw new Error(`channel ${id}: its token kept changing during the rotation`);
    },
    /** Whether `presented` is the token whose hash is stored; constant time; false for no hash. */
    tokenMatches(presented: string, storedHash: string | undefined): boolean {
      return box.tokenMatches(presented, storedHash);
    },
    /**
     * At the API's start: wraps every token hash of an earlier version (plain SHA-256, or keyed
     * with a fast-derived key beside its key id) under the current scrypt-derived key (see
     * SecretBox.wrapLegacyTokenHash), so no value a dump holds lets anyone test guesses at hash
     * speed. Each write only if the hash is still the one read (a rotation in between wins); only
     * API processes run it, the channels' one writer. Returns how many it wrapped.
     */
    async wrapLegacyTokenHashes(): Promise<number> {
      let wrapped = 0;
      for await (const doc of c.channels.find({}, { projection: { token_hash: 1 } }).sort({ _id: 1 })) {
        const wrappedHash = box.wrapLegacyTokenHash(doc.token_hash);
        if (!wrappedHash) continue;
        const result = await c.channels.updateOne(
          { _id: doc._id, token_hash: doc.token_hash },
          { $set: { token_hash: wrappedHash } },
        );
        wrapped += result.modifiedCount;
      }
      return wrapped;
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
    /**
     * Deletes the channel. First the mark that its chats, messages and their records are to be
     * swept (src/api/channel-deletion.ts), so that nothing of them is left unfindable should the
     * process die before the sweep is done; the channel's own secrets are deleted by the caller.
     */
    async delete(id: string, now = new Date()): Promise<boolean> {
      const doc = await c.channels.findOne({ _id: id }, { projection: { page_id: 1 } });
      if (doc) await insertOnce(c.channelDeletions, { _id: id, deleted_at: now });
      const result = await c.channels.deleteOne({ _id: id });
      if (doc) await releasePage(doc.page_id, id);
      return result.deletedCount === 1;
    },
  };
}

export type ChannelStore = ReturnType<typeof createChannelStore>;
