import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The deployment's secrets key (SECRETS_ENCRYPTION_KEY) at work:
 *
 * - it encrypts secrets that must be read back (webhook signing secrets: an HMAC needs the key
 *   itself, so a hash will not do) with AES-256-GCM;
 * - it keys the hash of channel API tokens (HMAC-SHA-256 with a key derived from it under its own
 *   label), so a database dump alone does not let anyone test token guesses offline.
 *
 * Older keys (SECRETS_ENCRYPTION_OLD_KEYS) stay readable during a key change: values name the key
 * they were made with (a short id derived from it), new values always use the current key.
 * Values from before key ids (sealed `v1.…`, tokens as plain SHA-256 hex) are still read.
 */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
  /** Whether `sealed` is already under the current key (nothing to re-encrypt). */
  sealedWithCurrentKey(sealed: string): boolean;
  /** The stored form of an API token: `hmac-sha256:<key id>:<hex>`. */
  hashToken(token: string): string;
  /** Compares in constant time; an absent hash compares against a dummy and is false. */
  tokenMatches(presented: string, storedHash: string | undefined): boolean;
  /** What a stored token hash is made with: the current key, an older listed key, an unknown key, or plain SHA-256. */
  tokenHashKind(storedHash: string): 'current' | 'old_key' | 'unknown_key' | 'sha256';
}

interface Key {
  id: string;
  cipherKey: Buffer;
  tokenKey: Buffer;
}

function deriveKey(passphrase: string): Key {
  return {
    id: createHmac('sha256', passphrase).update('chatrelay key id').digest('hex').slice(0, 12),
    // The derivation every `v1` value was sealed with; unchanged so they still open.
    cipherKey: createHash('sha256').update(`chatrelay-secret-box\u0000${passphrase}`).digest(),
    tokenKey: createHmac('sha256', passphrase).update('chatrelay api token hmac').digest(),
  };
}

const LEGACY_TOKEN_HASH = /^[0-9a-f]{64}$/;

export function createSecretBox(passphrase: string, oldPassphrases: readonly string[] = []): SecretBox {
  const current = deriveKey(passphrase);
  const keys = [current, ...oldPassphrases.map(deriveKey).filter((key) => key.id !== current.id)];
  const byId = new Map(keys.map((key) => [key.id, key]));

  const decrypt = (key: Key, iv: string, tag: string, body: string): string => {
    const decipher = createDecipheriv('aes-256-gcm', key.cipherKey, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  };
  const tokenHmac = (key: Key, token: string): Buffer =>
    createHmac('sha256', key.tokenKey).update(token, 'utf8').digest();

  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.cipherKey, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [
        'v2',
        current.id,
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        body.toString('base64url'),
      ].join('.');
    },
    open(sealed) {
      const fields = sealed.split('.');
      if (fields[0] === 'v2' && fields.length === 5) {
        const [, id = '', iv = '', tag = '', body = ''] = fields;
        const key = byId.get(id);
        if (!key)
          throw new Error(
            `sealed with key ${id}, which is neither SECRETS_ENCRYPTION_KEY nor one of SECRETS_ENCRYPTION_OLD_KEYS`,
          );
        return decrypt(key, iv, tag, body);
      }
      if (fields[0] === 'v1' && fields.length === 4) {
        const [, iv = '', tag = '', body = ''] = fields;
        // No key id: try each key; GCM's tag tells the right one.
        let lastError: unknown;
        for (const key of keys) {
          try {
            return decrypt(key, iv, tag, body);
          } catch (error) {
            lastError = error;
          }
        }
        throw lastError;
      }
      throw new Error('not a sealed secret');
    },
    sealedWithCurrentKey(sealed) {
      return sealed.startsWith(`v2.${current.id}.`);
    },
    hashToken(token) {
      return `hmac-sha256:${current.id}:${tokenHmac(current, token).toString('hex')}`;
    },
    tokenMatches(presented, storedHash) {
      if (storedHash !== undefined && LEGACY_TOKEN_HASH.test(storedHash)) {
        return timingSafeEqual(createHash('sha256').update(presented, 'utf8').digest(), Buffer.from(storedHash, 'hex'));
      }
      const [scheme, id = '', hex = ''] = storedHash?.split(':') ?? [];
      const key = scheme === 'hmac-sha256' ? byId.get(id) : undefined;
      // Unknown page, unknown key or a malformed hash: the same HMAC work, against a value it cannot equal.
      const expected = key && /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
      const actual = tokenHmac(key ?? current, presented);
      return timingSafeEqual(actual, expected ?? Buffer.alloc(actual.length)) && expected !== undefined;
    },
    tokenHashKind(storedHash) {
      if (LEGACY_TOKEN_HASH.test(storedHash)) return 'sha256';
      const [scheme, id = ''] = storedHash.split(':');
      if (scheme !== 'hmac-sha256' || !byId.has(id)) return 'unknown_key';
      return id === current.id ? 'current' : 'old_key';
    },
  };
}

/** A Standard Webhooks signing secret: `whsec_` + base64 of 24 random bytes. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}
