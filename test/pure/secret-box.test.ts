import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { createSecretBox } from '../../src/lib/secret-box.js';

const KEY = 'secret-box-unit-test-key-0123456789abcdef';
const OLD = 'secret-box-unit-test-old-key-0123456789ab';

/** The key id versions before scrypt stored beside every value: one HMAC of the passphrase, testable offline. */
const fastKeyId = (passphrase: string): string =>
  createHmac('sha256', passphrase).update('chatrelay key id').digest('hex').slice(0, 12);

test('nothing stored beside a value is a fast function of the passphrase: the key id is a random salt, per process', () => {
  const a = createSecretBox(KEY);
  const b = createSecretBox(KEY);
  const sealed = a.seal('whsec_x');
  const hash = a.hashToken('crt_token');
  for (const stored of [sealed, hash])
    assert.ok(!stored.includes(fastKeyId(KEY)), `no passphrase-derived id in ${stored}`);
  const [version, salt] = sealed.split('.');
  assert.equal(version, 'v3');
  assert.equal(Buffer.from(salt ?? '', 'base64url').length, 16, 'a 16-byte salt');
  assert.notEqual(b.seal('whsec_x').split('.')[1], salt, 'another process draws another salt');
  // Another process with the same key reads it, and calls it current; a box without the key does not.
  assert.equal(b.open(sealed), 'whsec_x');
  assert.ok(b.sealedWithCurrentKey(sealed));
  assert.ok(b.tokenMatches('crt_token', hash));
  assert.equal(b.tokenHashKind(hash), 'current');
  assert.throws(() => createSecretBox(OLD).open(sealed), /neither SECRETS_ENCRYPTION_KEY nor/);
  assert.equal(createSecretBox(OLD).tokenHashKind(hash), 'unknown_key');
  // During a key change the old key still reads, and is named old.
  const changing = createSecretBox(OLD, [KEY]);
  assert.equal(changing.open(sealed), 'whsec_x');
  assert.ok(!changing.sealedWithCurrentKey(sealed));
  assert.equal(changing.tokenHashKind(hash), 'old_key');
});

test('the GCM tag length is pinned: a value whose tag was cut short is refused, not checked on fewer bytes', () => {
  const box = createSecretBox(KEY);
  const fields = box.seal('whsec_y').split('.');
  const tagAt = fields.length - 2;
  const shortTag = Buffer.from(fields[tagAt] ?? '', 'base64url')
    .subarray(0, 4)
    .toString('base64url');
  const cut = fields.map((field, index) => (index === tagAt ? shortTag : field)).join('.');
  assert.throws(() => box.open(cut));
});
