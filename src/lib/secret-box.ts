import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  scryptSync,
  timingSafeEqual,
} from 'node:crypto';

/**
 * The deployment's secrets key (SECRETS_ENCRYPTION_KEY) at work:
 *
 * - it encrypts secrets that must be read back (webhook signing secrets: an HMAC needs the key
 *   itself, so a hash will not do) with AES-256-GCM;
 * - it keys the hash of channel API tokens (HMAC-SHA-256 with a key derived from it under its own
 *   label), so a database dump alone does not let anyone test token guesses offline.
 *
 * The passphrase goes through scrypt with a random salt that is stored beside every value (`v3`):
 * a database dump lets no one test passphrase guesses at the speed of a hash. The salt is drawn
 * once per process (so scrypt runs once per salt and passphrase, cached), and doubles as the
 * value's key id; a short check derived from the scrypt output names which configured key made it.
 *
 * Older keys (SECRETS_ENCRYPTION_OLD_KEYS) stay readable during a key change: new values always
 * use the current key. Values from before (`v1`, `v2` sealed with one SHA-256 of the passphrase;
 * tokens as plain SHA-256 hex or `hmac-sha256:`) are still read, only to be migrated at start:
 * signing secrets are re-sealed (see the signing secret store), token hashes wrapped under the
 * scrypt key (see the channel store), since the token itself is never stored.
 */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
  /** Whether `sealed` is already a `v3` value under the current key (nothing to re-encrypt). */
  sealedWithCurrentKey(sealed: string): boolean;
  /** The stored form of an API token: `v3:<salt>:<key check>:<hex>`. */
  hashToken(token: string): string;
  /**
   * A token hash of an earlier version (plain SHA-256, or `hmac-sha256:` under a fast-derived key
   * and its key id), wrapped under the current key without knowing the token:
   * `v3w:<salt>:<key check>:<sha256|hmac>:<hex>`, the HMAC of the old hash. Undefined for any other form.
   */
  wrapLegacyTokenHash(storedHash: string): string | undefined;
  /** Compares in constant time; an absent hash compares against a dummy and is false. */
  tokenMatches(presented: string, storedHash: string | undefined): boolean;
  /**
   * What a stored token hash is made with: the current key, an older listed key, an unknown key,
   * or a form from before scrypt (`sha256`: plain SHA-256 or the fast-derived `hmac-sha256:`, both
   * wrapped at the API's start: see wrapLegacyTokenHash).
   */
  tokenHashKind(storedHash: string): 'current' | 'old_key' | 'unknown_key' | 'sha256';
}

/** GCM's tag is pinned at 16 bytes: a shorter tag presented on decrypt is refused, not trusted. */
const TAG_BYTES = 16;
const SALT_BYTES = 16;
/** scrypt at 2^15 (32 MiB, tens of milliseconds): paid once per salt and key in a process, and per guess offline. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

interface Key {
  cipherKey: Buffer;
  tokenKey: Buffer;
  /** Names the key among the configured ones (behind scrypt: no faster to test than a decryption). */
  check: string;
}

/** The derivation of `v1` and `v2` values: one SHA-256 of the passphrase; kept to read and migrate them. */
interface LegacyKey {
  id: string;
  cipherKey: Buffer;
  tokenKey: Buffer;
}

function deriveLegacyKey(passphrase: string): LegacyKey {
  return {
    id: createHmac('sha256', passphrase).update('chatrelay key id').digest('hex').slice(0, 12),
    cipherKey: createHash('sha256').update(`chatrelay-secret-box\u0000${passphrase}`).digest(),
    tokenKey: createHmac('sha256', passphrase).update('chatrelay api token hmac').digest(),
  };
}

function deriveKey(passphrase: string, salt: Buffer): Key {
  const root = scryptSync(passphrase, salt, 32, SCRYPT);
  const expand = (label: string, bytes = 32): Buffer => Buffer.from(hkdfSync('sha256', root, salt, label, bytes));
  return {
    cipherKey: expand('chatrelay secret box v3 cipher'),
    tokenKey: expand('chatrelay secret box v3 api token hmac'),
    check: expand('chatrelay secret box v3 key check', 6).toString('base64url'),
  };
}

const LEGACY_TOKEN_HASH = /^[0-9a-f]{64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

function gcmOpen(cipherKey: Buffer, iv: string, tag: string, body: string): string {
  const tagBytes = Buffer.from(tag, 'base64url');
  if (tagBytes.length !== TAG_BYTES) throw new Error(`a sealed secret's tag must be ${TAG_BYTES} bytes`);
  const decipher = createDecipheriv('aes-256-gcm', cipherKey, Buffer.from(iv, 'base64url'), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAuthTag(tagBytes);
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}

export function createSecretBox(passphrase: string, oldPassphrases: readonly string[] = []): SecretBox {
  const passphrases = [passphrase, ...oldPassphrases.filter((old) => old !== passphrase)];
  // Derived keys by salt, then by position in `passphrases` (0: the current key); filled lazily.
  const derived = new Map<string, Array<Key | undefined>>();
  const keyFor = (salt: string, index: number): Key => {
    let row = derived.get(salt);
    if (!row) derived.set(salt, (row = []));
    let key = row[index];
    if (!key) row[index] = key = deriveKey(passphrases[index] ?? '', Buffer.from(salt, 'base64url'));
    return key;
  };
  /** Which configured key made a value: its index in `passphrases`, or undefined. */
  const resolve = (salt: string, check: string): number | undefined => {
    if (!B64URL.test(salt) || Buffer.from(salt, 'base64url').length !== SALT_BYTES) return undefined;
    const index = passphrases.findIndex((_, i) => keyFor(salt, i).check === check);
    return index >= 0 ? index : undefined;
  };
  const ownSalt = randomBytes(SALT_BYTES).toString('base64url');
  const current = (): Key => keyFor(ownSalt, 0);

  let legacyKeys: LegacyKey[] | undefined;
  const legacy = (): LegacyKey[] => (legacyKeys ??= passphrases.map(deriveLegacyKey));
  const tokenHmac = (tokenKey: Buffer, token: string): Buffer =>
    createHmac('sha256', tokenKey).update(token, 'utf8').digest();

  const legacyHashes = (token: string): Array<['sha256' | 'hmac', Buffer]> => [
    ['sha256', createHash('sha256').update(token, 'utf8').digest()],
    ...legacy().map((key): ['hmac', Buffer] => ['hmac', tokenHmac(key.tokenKey, token)]),
  ];
  /** `rest` of a `v3w:` hash; every candidate old hash is compared, so the time does not say which matched. */
  const wrappedMatches = (presented: string, [salt = '', check = '', inner = '', hex = '']: string[]): boolean => {
    const index = resolve(salt, check);
    const expected = index !== undefined && /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
    const tokenKey = keyFor(index === undefined ? ownSalt : salt, index ?? 0).tokenKey;
    let matched = false;
    for (const [kind, old] of legacyHashes(presented)) {
      const actual = createHmac('sha256', tokenKey).update(old).digest();
      const equal = timingSafeEqual(actual, expected ?? Buffer.alloc(actual.length));
      matched = (equal && expected !== undefined && kind === inner) || matched;
    }
    return matched;
  };

  return {
    wrapLegacyTokenHash(storedHash) {
      const key = current();
      const wrap = (inner: 'sha256' | 'hmac', old: Buffer): string =>
        `v3w:${ownSalt}:${key.check}:${inner}:${createHmac('sha256', key.tokenKey).update(old).digest('hex')}`;
      if (LEGACY_TOKEN_HASH.test(storedHash)) return wrap('sha256', Buffer.from(storedHash, 'hex'));
      const [scheme, id = '', hex = '', ...extra] = storedHash.split(':');
      if (scheme !== 'hmac-sha256' || extra.length > 0 || !/^[0-9a-f]{64}$/.test(hex)) return undefined;
      // Under a key no longer configured, the token no longer works anyway: left as it is (reported unknown).
      return legacy().some((candidate) => candidate.id === id) ? wrap('hmac', Buffer.from(hex, 'hex')) : undefined;
    },
    seal(plain) {
      const key = current();
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key.cipherKey, iv, { authTagLength: TAG_BYTES });
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [
        'v3',
        ownSalt,
        key.check,
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        body.toString('base64url'),
      ].join('.');
    },
    open(sealed) {
      const fields = sealed.split('.');
      if (fields[0] === 'v3' && fields.length === 6) {
        const [, salt = '', check = '', iv = '', tag = '', body = ''] = fields;
        const index = resolve(salt, check);
        if (index === undefined)
          throw new Error(
            'sealed with a key that is neither SECRETS_ENCRYPTION_KEY nor one of SECRETS_ENCRYPTION_OLD_KEYS',
          );
        return gcmOpen(keyFor(salt, index).cipherKey, iv, tag, body);
      }
      if (fields[0] === 'v2' && fields.length === 5) {
        const [, id = '', iv = '', tag = '', body = ''] = fields;
        const key = legacy().find((candidate) => candidate.id === id);
        if (!key)
          throw new Error(
            `sealed with key ${id}, which is neither SECRETS_ENCRYPTION_KEY nor one of SECRETS_ENCRYPTION_OLD_KEYS`,
          );
        return gcmOpen(key.cipherKey, iv, tag, body);
      }
      if (fields[0] === 'v1' && fields.length === 4) {
        const [, iv = '', tag = '', body = ''] = fields;
        // No key id: try each key; GCM's tag tells the right one.
        let lastError: unknown;
        for (const key of legacy()) {
          try {
            return gcmOpen(key.cipherKey, iv, tag, body);
          } catch (error) {
            lastError = error;
          }
        }
        throw lastError;
      }
      throw new Error('not a sealed secret');
    },
    sealedWithCurrentKey(sealed) {
      const [version, salt = '', check = ''] = sealed.split('.');
      return version === 'v3' && resolve(salt, check) === 0;
    },
    hashToken(token) {
      const key = current();
      return `v3:${ownSalt}:${key.check}:${tokenHmac(key.tokenKey, token).toString('hex')}`;
    },
    tokenMatches(presented, storedHash) {
      if (storedHash !== undefined && LEGACY_TOKEN_HASH.test(storedHash)) {
        return timingSafeEqual(createHash('sha256').update(presented, 'utf8').digest(), Buffer.from(storedHash, 'hex'));
      }
      const [scheme, ...rest] = storedHash?.split(':') ?? [];
      let tokenKey: Buffer | undefined;
      let hex = '';
      if (scheme === 'v3' && rest.length === 3) {
        const [salt = '', check = ''] = rest;
        const index = resolve(salt, check);
        if (index !== undefined) tokenKey = keyFor(salt, index).tokenKey;
        hex = rest[2] ?? '';
      } else if (scheme === 'v3w' && rest.length === 4) {
        return wrappedMatches(presented, rest);
      } else if (scheme === 'hmac-sha256' && rest.length === 2) {
        tokenKey = legacy().find((key) => key.id === rest[0])?.tokenKey;
        hex = rest[1] ?? '';
      }
      // Unknown page, unknown key or a malformed hash: the same HMAC work, against a value it cannot equal.
      const expected = tokenKey && /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
      const actual = tokenHmac(tokenKey ?? current().tokenKey, presented);
      return timingSafeEqual(actual, expected ?? Buffer.alloc(actual.length)) && expected !== undefined;
    },
    tokenHashKind(storedHash) {
      if (LEGACY_TOKEN_HASH.test(storedHash)) return 'sha256';
      const [scheme, ...rest] = storedHash.split(':');
      if (scheme === 'hmac-sha256' && rest.length === 2)
        return legacy().some((key) => key.id === rest[0]) ? 'sha256' : 'unknown_key';
      if (!((scheme === 'v3' && rest.length === 3) || (scheme === 'v3w' && rest.length === 4))) return 'unknown_key';
      const index = resolve(rest[0] ?? '', rest[1] ?? '');
      if (index === undefined) return 'unknown_key';
      return index === 0 ? 'current' : 'old_key';
    },
  };
}

/** A Standard Webhooks signing secret: `whsec_` + base64 of 24 random bytes. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}
