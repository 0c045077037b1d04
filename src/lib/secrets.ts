import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new API token: 32 random bytes, URL-safe, with a prefix that makes leaked tokens easy to spot. */
export function generateApiToken(): string {
  return `crt_${randomBytes(32).toString('base64url')}`;
}

/** An unguessable id for public URLs (media) and messages without a client id. */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

/** Constant-time comparison of two secrets of any length (e.g. the admin token). */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * A stable id derived from parts, for ids that must come out the same on every retry. Different
 * parts always give different ids: parts are joined with NUL when none holds one (the encoding
 * every id was made with so far, so existing chat and message ids stay as they were), and
 * otherwise encoded as a JSON array, which holds no raw NUL at all. Joining alone was ambiguous:
 * ("a\0b", "c") and ("a", "b\0c") gave one id, so a second message was dropped as a duplicate.
 */
export function stableId(...parts: string[]): string {
  return createHash('sha256').update(stableIdInput(parts), 'utf8').digest('base64url').slice(0, 27);
}

/**
 * Injective over lists of two or more parts: a NUL-joined list of n parts holds exactly n - 1
 * NULs (so the count tells lists of different lengths apart, and splitting at them gives the parts
 * back), a JSON array none. Lists of one part always take JSON, which keeps them apart too.
 */
function stableIdInput(parts: string[]): string {
  return parts.length >= 2 && !parts.some((part) => part.includes('\u0000'))
    ? parts.join('\u0000')
    : JSON.stringify(parts);
}
