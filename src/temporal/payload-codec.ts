/**
 * Encryption of every payload chatrelay writes to Temporal (workflow and activity inputs and
 * results, signals, queries, memos, encoded failure messages), so that the cluster's database
 * never holds a user's text, name or URLs in the clear.
 *
 * The format is the one of Temporal's encryption samples, so any codec server built from them
 * with the same keys reads our payloads: the whole original Payload, protobuf-encoded, is
 * encrypted with AES-256-GCM; the new payload's metadata says `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`; its data is `iv (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`.
 *
 * Key rotation: the first key encrypts, every key decrypts (chosen by the payload's key id).
 * Payloads that are not encrypted (written before encryption was turned on, or by a tool without
 * the codec) are passed through on decode, so turning encryption on never strands a workflow.
 *
 * Cost: keys are imported once (KeyObject) when the codec is created; per payload there is one
 * protobuf encode and one AES-GCM pass, with no key derivation.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { KEY_BYTES, type PayloadKey } from './payload-keys.js';

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class PayloadKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadKeyError';
  }
}

export interface EncryptionCodecOptions {
  /** Newest first: the first encrypts; all decrypt. */
  keys: readonly PayloadKey[];
  /** False: encode passes payloads through (decode still decrypts what it has keys for). */
  encrypt: boolean;
}

export interface EncryptionCodec extends PayloadCodec {
  /** The id new payloads are encrypted under; undefined when encryption is off. */
  readonly writeKeyId: string | undefined;
}

export function createEncryptionCodec(options: EncryptionCodecOptions): EncryptionCodec {
  if (options.keys.length === 0) throw new Error('the payload codec needs at least one key');
  const keys = new Map<string, KeyObject>();
  for (const { id, key } of options.keys) {
    if (key.length !== KEY_BYTES) throw new Error(`payload key "${id}" is ${key.length} bytes, not ${KEY_BYTES}`);
    if (!keys.has(id)) keys.set(id, createSecretKey(key));
  }
  const [writer] = options.keys;
  const write =
    options.encrypt && writer
      ? { id: writer.id, idBytes: utf8.encode(writer.id), key: keys.get(writer.id)! }
      : undefined;
  const encodingBytes = utf8.encode(ENCRYPTED_ENCODING);

  const encryptOne = (payload: Payload): Payload => {
    if (!write) return payload;
    const plain = PayloadMessage.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', write.key, iv);
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { encoding: encodingBytes, [KEY_ID_METADATA]: write.idBytes }, data };
  };

  const decryptOne = (payload: Payload): Payload => {
    const encoding = payload.metadata?.encoding;
    if (!encoding || fromUtf8.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    const id = idBytes ? fromUtf8.decode(idBytes) : '';
    const key = keys.get(id);
    if (!key) {
      throw new PayloadKeyError(
        `payload was encrypted with key "${id}", which is not configured (PAYLOAD_ENCRYPTION_KEYS has ${[...keys.keys()].map((known) => `"${known}"`).join(', ')})`,
      );
    }
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadKeyError(`payload encrypted with key "${id}" is truncated`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadKeyError(
        `payload encrypted with key "${id}" does not decrypt: the key with that id changed, or the payload was altered`,
      );
    }
    return PayloadMessage.decode(plain);
  };

  return {
    writeKeyId: write?.id,
    async encode(payloads) {
      return payloads.map(encryptOne);
    },
    async decode(payloads) {
      return payloads.map(decryptOne);
    },
  };
}
