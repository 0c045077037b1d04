import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  defaultPayloadConverter,
  type ActivitySerializationContext,
  type Payload,
  type WorkflowSerializationContext,
} from '@temporalio/common';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createPayloadCodec } from '../../src/temporal/data-converter.js';
import {
  createEncryptionCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadKeyError,
  WORKFLOW_ID_METADATA,
} from '../../src/temporal/payload-codec.js';
import { derivePayloadKey, parsePayloadKeys, type PayloadKey } from '../../src/temporal/payload-keys.js';

const base = {
  MONGODB_URI: 'mongodb://127.0.0.1:27017',
  OPENAI_API_KEY: 'sk-test',
  ADMIN_TOKEN: 'a-strong-Admin-token-0123456789',
  SECRETS_ENCRYPTION_KEY: 'a-secrets-encryption-key-of-32-characters',
};
const key = (id: string): PayloadKey => ({ id, key: randomBytes(32) });
const text = (bytes: Uint8Array | null | undefined): string => Buffer.from(bytes ?? []).toString('utf8');
const envelope = {
  text: 'my secret question',
  client_name: 'Ada Lovelace',
  attachments: ['https://files.example/private.png'],
};

describe('payload keys (PAYLOAD_ENCRYPTION_KEYS)', () => {
  test('parses id:base64 pairs, newest first, base64 or base64url', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const keys = parsePayloadKeys(` k2:${a.toString('base64')} , k1:${b.toString('base64url')}`);
    assert.deepEqual(
      keys.map((entry) => entry.id),
      ['k2', 'k1'],
    );
    assert.ok(keys[0]?.key.equals(a));
    assert.ok(keys[1]?.key.equals(b));
  });

  test('a bad entry is named by position and id, and the key itself is never echoed', () => {
    const good = randomBytes(32).toString('base64');
    const short = randomBytes(16).toString('base64');
    const cases: Array<[string, RegExp]> = [
      ['', /at least one key/],
      [good, /entry 1 must be id:base64key/],
      [`bad id:${good}`, /entry 1 must be id:base64key/],
      [`k1:${good},k1:${good}`, /entry 2 \("k1"\) repeats the key id "k1"/],
      [`k1:${good},k2:not*base64`, /entry 2 \("k2"\) is not base64/],
      [`k1:${short}`, /entry 1 \("k1"\) is 16 bytes; an AES-256 key is 32/],
    ];
    for (const [value, expected] of cases) {
      assert.throws(
        () => parsePayloadKeys(value),
        (error: Error) => {
          assert.match(error.message, expected);
          assert.ok(!error.message.includes(good) && !error.message.includes(short), 'the key is not in the message');
          return true;
        },
      );
    }
  });

  test('configuration: a malformed value stops start-up naming PAYLOAD_ENCRYPTION_KEYS', () => {
    assert.throws(
      () => loadConfig({ ...base, PAYLOAD_ENCRYPTION_KEYS: 'k1:AAAA' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /^PAYLOAD_ENCRYPTION_KEYS entry 1 \("k1"\) is 3 bytes/.test(error.problems[0] ?? ''),
    );
    assert.throws(
      () => loadConfig({ ...base, PAYLOAD_ENCRYPTION: 'maybe' }),
      (error: unknown) => error instanceof ConfigError && /^PAYLOAD_ENCRYPTION /.test(error.problems[0] ?? ''),
    );
    const config = loadConfig(base);
    assert.equal(config.PAYLOAD_ENCRYPTION, true, 'on by default');
    assert.equal(config.PAYLOAD_ENCRYPTION_KEYS, undefined);
  });

  test('the derived key is stable for a passphrase, differs between passphrases, and its id says which', () => {
    const one = derivePayloadKey('passphrase-one');
    assert.deepEqual(derivePayloadKey('passphrase-one'), one);
    const two = derivePayloadKey('passphrase-two');
    assert.notEqual(one.id, two.id);
    assert.ok(!one.key.equals(two.key));
    assert.match(one.id, /^derived-[0-9a-f]{12}$/);
  });
});

describe('encryption codec', () => {
  const plain = (): Payload => defaultPayloadConverter.toPayload(envelope);

  test('encrypts under the newest key: no plain text left, a fresh IV each time, and it decodes back', async () => {
    const codec = createEncryptionCodec({ keys: [key('new'), key('old')], encrypt: true });
    assert.equal(codec.writeKeyId, 'new');
    const [first, second] = await codec.encode([plain(), plain()]);
    assert.ok(first && second);
    assert.equal(text(first.metadata?.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(first.metadata?.[KEY_ID_METADATA]), 'new');
    const wire = Buffer.from(
      JSON.stringify({ first: text(first.data), metadata: Object.values(first.metadata ?? {}).map(text) }),
    );
    for (const secret of ['my secret question', 'Ada Lovelace', 'files.example', 'json/plain'])
      assert.ok(!wire.includes(secret), secret);
    assert.ok(!Buffer.from(first.data!).equals(Buffer.from(second.data!)), 'two encryptions of one payload differ');
    const [decoded] = await codec.decode([first]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), envelope);
  });

  test('rotation: a payload written under the old key is read once a new key leads', async () => {
    const old = key('2024');
    const [written] = await createEncryptionCodec({ keys: [old], encrypt: true }).encode([plain()]);
    const rotated = createEncryptionCodec({ keys: [key('2025'), old], encrypt: true });
    const [read] = await rotated.decode([written!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(read!), envelope);
    const [rewritten] = await rotated.encode([read!]);
    assert.equal(text(rewritten?.metadata?.[KEY_ID_METADATA]), '2025');
  });

  test('a payload under a key that is not configured, or altered, fails with an error naming the key id', async () => {
    const [written] = await createEncryptionCodec({ keys: [key('gone')], encrypt: true }).encode([plain()]);
    const other = createEncryptionCodec({ keys: [key('current')], encrypt: true });
    await assert.rejects(
      other.decode([written!]),
      (error: unknown) =>
        error instanceof PayloadKeyError && /key "gone", which is not configured.*"current"/.test(error.message),
    );
    const sameIdOtherKey = createEncryptionCodec({ keys: [key('gone')], encrypt: true });
    await assert.rejects(sameIdOtherKey.decode([written!]), /key "gone" does not decrypt/);
    const owner = createEncryptionCodec({ keys: [key('mine')], encrypt: true });
    const [mine] = await owner.encode([plain()]);
    const altered = Buffer.from(mine!.data!);
    altered[20] = (altered[20] ?? 0) ^ 1;
    await assert.rejects(owner.decode([{ ...mine!, data: altered }]), /key "mine" does not decrypt/);
  });

  test('unencrypted payloads are refused on decode unless plaintext is accepted; with encryption off, encode passes through', async () => {
    const off = createEncryptionCodec({ keys: [key('k')], encrypt: false });
    assert.equal(off.writeKeyId, undefined);
    const [encoded] = await off.encode([plain()]);
    assert.deepEqual(encoded, plain());
    assert.deepEqual(await off.decode([plain()]), [plain()], 'encryption off: what it writes, it reads');
    const on = createEncryptionCodec({ keys: [key('k')], encrypt: true });
    await assert.rejects(on.decode([plain()]), (error: Error) => error.name === 'PayloadPlaintextError');
    assert.deepEqual(await on.decodeForReading([plain()]), [plain()], 'a reader (the codec endpoint) sees it as it is');
    const migrating = createEncryptionCodec({ keys: [key('k')], encrypt: true, acceptPlaintext: true });
    assert.deepEqual(await migrating.decode([plain()]), [plain()]);
  });

  test('a payload is bound to the workflow the SDK names: presented as another workflow’s, it is refused', async () => {
    const codec = createEncryptionCodec({ keys: [key('k')], encrypt: true });
    const of = (workflowId: string): WorkflowSerializationContext => ({
      type: 'workflow',
      namespace: 'default',
      workflowId,
    });
    const [bound] = await codec.encode([plain()], of('wf-a'));
    assert.equal(text(bound?.metadata?.[WORKFLOW_ID_METADATA]), 'wf-a');
    assert.deepEqual(defaultPayloadConverter.fromPayload((await codec.decode([bound!], of('wf-a')))[0]!), envelope);
    const activity: ActivitySerializationContext = {
      type: 'activity',
      namespace: 'default',
      workflowId: 'wf-a',
      isLocal: false,
    };
    assert.deepEqual(defaultPayloadConverter.fromPayload((await codec.decode([bound!], activity))[0]!), envelope);
    assert.deepEqual(
      defaultPayloadConverter.fromPayload((await codec.decode([bound!]))[0]!),
      envelope,
      'no context: read',
    );
    await assert.rejects(codec.decode([bound!], of('wf-b')), (error: Error) => error.name === 'PayloadBindingError');
    // A Schedule's action, encoded for its id, is read by the runs it starts (the id and the run's time).
    const scheduledRun = await codec.decode([bound!], of('wf-a-2026-12-07T03:17:00Z'));
    assert.deepEqual(defaultPayloadConverter.fromPayload(scheduledRun[0]!), envelope);
    await assert.rejects(codec.decode([bound!], of('wf-a-b')), (error: Error) => error.name === 'PayloadBindingError');
    // Rewriting the id in the metadata too: the associated data no longer matches, GCM refuses it.
    const moved = { ...bound!, metadata: { ...bound!.metadata, [WORKFLOW_ID_METADATA]: Buffer.from('wf-b') } };
    await assert.rejects(codec.decode([moved], of('wf-b')), /does not decrypt/);
  });

  test('the deployment codec: configured keys lead, the derived key stays readable, and without keys the derived key writes', async () => {
    const derivedOnly = createPayloadCodec(loadConfig(base));
    assert.equal(derivedOnly.writeKeyId, derivePayloadKey(base.SECRETS_ENCRYPTION_KEY).id);
    const [before] = await derivedOnly.encode([plain()]);
    const configured = createPayloadCodec(
      loadConfig({ ...base, PAYLOAD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` }),
    );
    assert.equal(configured.writeKeyId, 'k1');
    const [read] = await configured.decode([before!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(read!), envelope);
    const off = createPayloadCodec(loadConfig({ ...base, PAYLOAD_ENCRYPTION: 'false' }));
    assert.equal(off.writeKeyId, undefined);
    const [stillRead] = await off.decode([before!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(stillRead!), envelope);
  });

  test('the deployment codec refuses unencrypted payloads unless PAYLOAD_ACCEPT_PLAINTEXT, and can retire the derived key', async () => {
    await assert.rejects(
      createPayloadCodec(loadConfig(base)).decode([plain()]),
      (error: Error) => error.name === 'PayloadPlaintextError' && /PAYLOAD_ACCEPT_PLAINTEXT/.test(error.message),
    );
    const migrating = createPayloadCodec(loadConfig({ ...base, PAYLOAD_ACCEPT_PLAINTEXT: 'true' }));
    assert.deepEqual(await migrating.decode([plain()]), [plain()]);

    const [underDerived] = await createPayloadCodec(loadConfig(base)).encode([plain()]);
    const keys = `k1:${randomBytes(32).toString('base64')}`;
    const kept = createPayloadCodec(loadConfig({ ...base, PAYLOAD_ENCRYPTION_KEYS: keys }));
    assert.deepEqual(defaultPayloadConverter.fromPayload((await kept.decode([underDerived!]))[0]!), envelope);
    const retired = createPayloadCodec(
      loadConfig({ ...base, PAYLOAD_ENCRYPTION_KEYS: keys, PAYLOAD_ENCRYPTION_DERIVED_KEY: 'false' }),
    );
    assert.equal(retired.writeKeyId, 'k1');
    await assert.rejects(retired.decode([underDerived!]), PayloadKeyError);
    assert.throws(
      () => loadConfig({ ...base, PAYLOAD_ENCRYPTION_DERIVED_KEY: 'false' }),
      (error: unknown) => error instanceof ConfigError && /PAYLOAD_ENCRYPTION_KEYS/.test(error.problems[0] ?? ''),
    );
  });
});
