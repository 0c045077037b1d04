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

/** The shortest bearer token the deployment accepts for its own secrets (ADMIN_TOKEN, CODEC_TOKEN). */
export const MIN_OPERATOR_TOKEN_LENGTH = 24;
const MIN_OPERATOR_TOKEN_BITS = 128;
const MIN_OPERATOR_TOKEN_DISTINCT = 12;

/**
 * Why a token an operator set is too weak to guard what it guards, or undefined when it is not:
 * fewer than 24 characters, fewer than 12 different ones, or under 128 bits estimated as length ×
 * log2 of the alphabet its character classes span (lower case, upper case, digits, others). A
 * generated token passes (`openssl rand -hex 32`: 64 characters × log2(36) bits by this count);
 * a word with a counter does not.
 */
export function weakOperatorTokenReason(token: string): string | undefined {
  const alphabet =
    (/[a-z]/.test(token) ? 26 : 0) +
    (/[A-Z]/.test(token) ? 26 : 0) +
    (/[0-9]/.test(token) ? 10 : 0) +
    (/[^A-Za-z0-9]/.test(token) ? 33 : 0);
  const bits = Math.floor(token.length * Math.log2(Math.max(alphabet, 1)));
  const distinct = new Set(token).size;
  const advice = 'generate one, e.g. `openssl rand -hex 32`';
  if (token.length < MIN_OPERATOR_TOKEN_LENGTH)
    return `must be at least ${MIN_OPERATOR_TOKEN_LENGTH} characters (it has ${token.length}); ${advice}`;
  if (distinct < MIN_OPERATOR_TOKEN_DISTINCT)
    return `repeats itself: it has ${distinct} different characters, at least ${MIN_OPERATOR_TOKEN_DISTINCT} are needed; ${advice}`;
  if (bits < MIN_OPERATOR_TOKEN_BITS)
    return `is too easy to guess: about ${bits} bits by its length and character classes, at least ${MIN_OPERATOR_TOKEN_BITS} are needed (longer, or mix upper and lower case, digits and symbols); ${advice}`;
  return undefined;
}
