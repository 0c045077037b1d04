import type { Collection, Db } from 'mongodb';
import { randomId } from '../lib/secrets.js';
import { generateSigningSecret, type SecretBox } from '../lib/secret-box.js';

interface SealedSecret {
  id: string;
  /** Encrypted with the deployment's secret box; never stored in the clear. */
  sealed: string;
  created_at: Date;
  /** Set when a newer secret replaced it: it still signs until then (the rotation grace period). */
  expires_at: Date | null;
}

/**
 * A channel's signing secrets, in one document whose `_id` is the channel's: delivery reads them
 * with one lookup by `_id` (the only kind FerretDB answers from an index), and a rotation is one
 * write of that document, so it either happened whole or not at all. Only the admin API writes it.
 */
interface ChannelSecretsDoc {
  _id: string;
  secrets: SealedSecret[];
  updated_at: Date;
}

/** How secrets were stored before (one document each, found by `channel_id`); moved at start-up. */
interface SecretPerDocument extends SealedSecret {
  _id: string;
  channel_id: string;
}

const isSealedBeforeScrypt = (sealed: string): boolean => sealed.startsWith('v1.') || sealed.startsWith('v2.');
const newest = (a: SealedSecret, b: SealedSecret): number => b.created_at.getTime() - a.created_at.getTime();
const signsAt = (secret: SealedSecret, now: Date): boolean => secret.expires_at === null || secret.expires_at > now;

/** Each channel's webhook signing secrets: normally one, two during a rotation's grace period. */
export function createSigningSecretStore(db: Db, box: SecretBox) {
  const channels: Collection<ChannelSecretsDoc> = db.collection<ChannelSecretsDoc>('channel_signing_secrets');
  const perSecret: Collection<SecretPerDocument> = db.collection<SecretPerDocument>('signing_secrets');
  const newSecret = (now: Date): { stored: SealedSecret; secret: string } => {
    const secret = generateSigningSecret();
    return {
      secret,
      stored: { id: `whs_${randomId(12)}`, sealed: box.seal(secret), created_at: now, expires_at: null },
    };
  };

  /** Moves secrets stored one document each into their channel's document; safe to run twice at once. */
  async function moveSecretsStoredOneByOne(): Promise<void> {
    const old = await perSecret.find({}).toArray();
    const byChannel = new Map<string, SecretPerDocument[]>();
    for (const doc of old) byChannel.set(doc.channel_id, [...(byChannel.get(doc.channel_id) ?? []), doc]);
    for (const [channelId, docs] of byChannel) {
      const current = (await channels.findOne({ _id: channelId }))?.secrets ?? [];
      const moved = docs
        .filter((doc) => !current.some((secret) => secret.id === doc._id))
        .map((doc) => ({ id: doc._id, sealed: doc.sealed, created_at: doc.created_at, expires_at: doc.expires_at }));
      const secrets = [...current, ...moved].sort(newest);
      await channels.updateOne({ _id: channelId }, { $set: { secrets, updated_at: new Date() } }, { upsert: true });
    }
    if (old.length > 0) await perSecret.deleteMany({ _id: { $in: old.map((doc) => doc._id) } });
  }

  /**
   * Re-encrypts under the current key every stored secret `needs` picks. Each channel's secrets
   * are one write, only if nobody changed them since they were read, so running this again (after
   * an interruption, or on two processes at once) finishes the job and changes nothing else.
   * `unreadable`: secrets no configured key opens (left as they are).
   */
  async function reseal(
    needs: (sealed: string) => boolean,
  ): Promise<{ reencrypted: number; already_current: number; unreadable: number }> {
    const counts = { reencrypted: 0, already_current: 0, unreadable: 0 };
    for await (const doc of channels.find({}).sort({ _id: 1 })) {
      let changed = 0;
      const secrets = doc.secrets.map((secret) => {
        if (!needs(secret.sealed)) {
          counts.already_current += 1;
          return secret;
        }
        try {
          const resealed = { ...secret, sealed: box.seal(box.open(secret.sealed)) };
          changed += 1;
          return resealed;
        } catch {
          counts.unreadable += 1;
          return secret;
        }
      });
      if (changed === 0) continue;
      const result = await channels.updateOne(
        { _id: doc._id, updated_at: doc.updated_at },
        { $set: { secrets, updated_at: new Date() } },
      );
      if (result.modifiedCount === 1) counts.reencrypted += changed;
    }
    return counts;
  }

  return {
    /**
     * At every start: moves secrets stored one by one, and re-seals those sealed before the
     * scrypt-derived key (`v1`, `v2`: one SHA-256 of the passphrase, which a dump lets anyone
     * test guesses against quickly). Secrets under an old key of a key change are left to step 3.
     */
    async ensureIndexes(): Promise<void> {
      await moveSecretsStoredOneByOne();
      await reseal(isSealedBeforeScrypt);
    },
    /** Creates the channel's first secret; returns it in the clear, the only time it is shown. */
    async create(channelId: string, now = new Date()): Promise<string> {
      const { stored, secret } = newSecret(now);
      await channels.replaceOne({ _id: channelId }, { secrets: [stored], updated_at: now }, { upsert: true });
      return secret;
    },
    /**
     * A new secret signs from now on; the ones before keep signing for `graceSeconds` (those
     * already expired are dropped). One write: should it fail, the old secrets sign as before.
     */
    async rotate(channelId: string, graceSeconds: number, now = new Date()): Promise<string> {
      const expiresAt = new Date(now.getTime() + graceSeconds * 1000);
      const before = (await channels.findOne({ _id: channelId }))?.secrets ?? [];
      const { stored, secret } = newSecret(now);
      const kept = before
        .filter((old) => signsAt(old, now))
        .map((old) => ({
          ...old,
          expires_at: old.expires_at && old.expires_at < expiresAt ? old.expires_at : expiresAt,
        }));
      await channels.updateOne(
        { _id: channelId },
        { $set: { secrets: [stored, ...kept], updated_at: now } },
        { upsert: true },
      );
      return secret;
    },
    /** The secrets that sign deliveries now, newest first. */
    async active(channelId: string, now = new Date()): Promise<string[]> {
      const doc = await channels.findOne({ _id: channelId });
      return (doc?.secrets ?? [])
        .filter((secret) => signsAt(secret, now))
        .sort(newest)
        .map((secret) => box.open(secret.sealed));
    },
    /**
     * Whether this process's key opens the stored secrets: undefined when there are none yet to
     * try, false when the key is not the one they were sealed with.
     */
    async keyOpensStoredSecrets(): Promise<boolean | undefined> {
      // Every channel's document holds at least its current secret.
      const any = (await channels.findOne({}))?.secrets[0];
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
     * old key is still listed, so both read meanwhile). Each channel's secrets are one write,
     * only if nobody changed them since they were read, so running this again (after an
     * interruption, or to be sure) finishes the job and changes nothing else.
     * `unreadable`: secrets no configured key opens (left as they are).
     */
    async reencryptAll(): Promise<{ reencrypted: number; already_current: number; unreadable: number }> {
      return reseal((sealed) => !box.sealedWithCurrentKey(sealed));
    },
    async deleteForChannel(channelId: string): Promise<void> {
      await channels.deleteOne({ _id: channelId });
    },
  };
}

export type SigningSecretStore = ReturnType<typeof createSigningSecretStore>;
