/**
 * The keys of the payload codec (payload-codec.ts): parsed from PAYLOAD_ENCRYPTION_KEYS, or
 * derived from a secret the deployment already has. Kept apart from the codec so that reading
 * the configuration does not load the protobuf definitions.
 */
import { createHash, hkdfSync } from 'node:crypto';

export const KEY_BYTES = 32;
const keyIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/** One AES-256 key and the id that names it in the payloads it encrypted. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

/**
 * Parses `id:base64key,id:base64key,...` (newest first). Each key is 32 bytes, base64 or base64url
 * (`openssl rand -base64 32`); ids are 1 to 64 letters, digits, `.`, `_` or `-`, and unique.
 * Throws an Error whose message names the bad entry by position and id, never the key.
 */
export function parsePayloadKeys(value: string): PayloadKey[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) throw new Error('must list at least one key as id:base64key');
  const seen = new Set<string>();
  return entries.map((entry, index) => {
    const separator = entry.indexOf(':');
    const id = separator > 0 ? entry.slice(0, separator) : '';
    const encoded = separator > 0 ? entry.slice(separator + 1) : '';
    const where = `entry ${index + 1}${keyIdPattern.test(id) ? ` ("${id}")` : ''}`;
    if (!keyIdPattern.test(id))
      throw new Error(`${where} must be id:base64key, the id 1 to 64 letters, digits, ".", "_" or "-"`);
    if (seen.has(id)) throw new Error(`${where} repeats the key id "${id}"`);
    seen.add(id);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) throw new Error(`${where} is not base64`);
    const key = Buffer.from(encoded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length !== KEY_BYTES)
      throw new Error(`${where} is ${key.length} bytes; an AES-256 key is ${KEY_BYTES} (openssl rand -base64 32)`);
    return { id, key };
  });
}

/**
 * A key derived from a secret the deployment already has (HKDF-SHA256), for deployments that set
 * no PAYLOAD_ENCRYPTION_KEYS. Its id carries a fingerprint, so that a key that changed (a new
 * passphrase) is reported as an unknown key id, not as a corrupt payload.
 */
export function derivePayloadKey(passphrase: string): PayloadKey {
  const key = Buffer.from(hkdfSync('sha256', passphrase, 'chatrelay', 'temporal-payload-encryption-v1', KEY_BYTES));
  const fingerprint = createHash('sha256')
    .update('chatrelay-payload-key-id\u0000')
    .update(key)
    .digest('hex')
    .slice(0, 12);
  return { id: `derived-${fingerprint}`, key };
}
