import type { Collection, Db } from 'mongodb';
import { randomId } from '../lib/secrets.js';
import { generateSigningSecret, type SecretBox } from '../lib/secret-box.js';

interface SigningSecretDoc {
  _id: string;
  channel_id: string;
  /** Encrypted with the deployment's secret box; never stored in the clear. */
  sealed: string;
  created_at: Date;
  /** Set when a newer secret replaced it: it still signs until then (the rotation grace period). */
  expires_at: Date | null;
}

/** Each channel's webhook signing secrets: normally one, two during a rotation's grace period. */
export function createSigningSecretStore(db: Db, box: SecretBox) {
  const secrets: Collection<SigningSecretDoc> = db.collection<SigningSecretDoc>('signing_secrets');
  async function insertSecret(channelId: string, now: Date): Promise<{ id: string; secret: string }> {
    const secret = generateSigningSecret();
    const id = `whs_${randomId(12)}`;
    await secrets.insertOne({
      _id: id,
      channel_id: channelId,
      sealed: box.seal(secret),
      created_at: now,
      expires_at: null,
    });
    return { id, secret };
  }
  return {
    async ensureIndexes(): Promise<void> {
      await secrets.createIndex({ channel_id: 1, created_at: -1 }, { name: 'channel_secrets' });
    },
    /** Creates the channel's first secret; returns it in the clear, the only time it is shown. */
    async create(channelId: string, now = new Date()): Promise<string> {
      return (await insertSecret(channelId, now)).secret;
    },
    /**
     * A new secret signs from now on; the ones before keep signing for `graceSeconds`. The new one
     * is stored first: should the second step fail, the channel has its old and its new secret,
     * both signing, never none.
     */
    async rotate(channelId: string, graceSeconds: number, now = new Date()): Promise<string> {
      const expiresAt = new Date(now.getTime() + graceSeconds * 1000);
      const created = await insertSecret(channelId, now);
      await secrets.updateMany(
        {
          channel_id: channelId,
          _id: { $ne: created.id },
          $or: [{ expires_at: null }, { expires_at: { $gt: expiresAt } }],
        },
        { $set: { expires_at: expiresAt } },
      );
      return created.secret;
    },
    /** The secrets that sign deliveries now, newest first. */
    async active(channelId: string, now = new Date()): Promise<string[]> {
      const docs = await secrets.find({ channel_id: channelId }).sort({ created_at: -1 }).toArray();
      return docs.filter((doc) => doc.expires_at === null || doc.expires_at > now).map((doc) => box.open(doc.sealed));
    },
    /**
     * Whether this process's key opens the stored secrets: undefined when there are none yet to
     * try, false when the key is not the one they were sealed with.
     */
    async keyOpensStoredSecrets(): Promise<boolean | undefined> {
      const any = await secrets.findOne({});
      if (!any) return undefined;
      try {
        box.open(any.sealed);
        return true;
      } catch {
        return false;
      }
    },
    /**
     * Re-encrypts every stored secret that is not under the current key yet (a key change: the
     * old key is still listed, so both read meanwhile). Each secret is one conditional write of
     * its `sealed` field, only if nobody changed it since it was read, so running this again
     * (after an interruption, or to be sure) finishes the job and changes nothing else.
     * `unreadable`: secrets no configured key opens (left as they are).
     */
    async reencryptAll(): Promise<{ reencrypted: number; already_current: number; unreadable: number }> {
      const counts = { reencrypted: 0, already_current: 0, unreadable: 0 };
      for await (const doc of secrets.find({}).sort({ _id: 1 })) {
        if (box.sealedWithCurrentKey(doc.sealed)) {
          counts.already_current += 1;
          continue;
        }
        let plain: string;
        try {
          plain = box.open(doc.sealed);
        } catch {
          counts.unreadable += 1;
          continue;
        }
        const result = await secrets.updateOne(
          { _id: doc._id, sealed: doc.sealed },
          { $set: { sealed: box.seal(plain) } },
        );
        if (result.modifiedCount === 1) counts.reencrypted += 1;
      }
      return counts;
    },
    async deleteForChannel(channelId: string): Promise<void> {
      await secrets.deleteMany({ channel_id: channelId });
    },
  };
}

export type SigningSecretStore = ReturnType<typeof createSigningSecretStore>;
