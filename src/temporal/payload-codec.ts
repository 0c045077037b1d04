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
 * Payloads that are not encrypted are refused on decode (PayloadPlaintextError) unless
 * `acceptPlaintext`: whoever can write to Temporal without the keys must not be able to feed a
 * workflow or an activity. Turning encryption on over running workflows needs it for a while.
 *
 * Binding: when the SDK tells the codec whose payload it is (its serialization context names a
 * workflow id), the ciphertext is bound to that workflow: the id is GCM's associated data, and is
 * also written in the metadata (`encryption-workflow-id`, ids are readable in Temporal anyway), so
 * a reader with no context (the codec endpoint, a client's describe) still decrypts. A payload
 * copied into another workflow is refused wherever a context names that other workflow.
 *
 * Cost: keys are imported once (KeyObject) when the codec is created; per payload there is one
 * protobuf encode and one AES-GCM pass, with no key derivation.
 */
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import proto from '@temporalio/proto';
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { KEY_BYTES, type PayloadKey } from './payload-keys.js';

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const WORKFLOW_ID_METADATA = 'encryption-workflow-id';
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

/** A payload that is not encrypted, where only encrypted ones are accepted. */
export class PayloadPlaintextError extends Error {
  constructor() {
    super(
      'payload is not encrypted, and unencrypted payloads are refused (PAYLOAD_ACCEPT_PLAINTEXT=true accepts them during a migration)',
    );
    this.name = 'PayloadPlaintextError';
  }
}

/** A payload bound to one workflow, presented as another's. */
export class PayloadBindingError extends Error {
  constructor(boundTo: string, presentedAs: string) {
    super(`payload was encrypted for workflow "${boundTo}" and is presented as one of "${presentedAs}"`);
    this.name = 'PayloadBindingError';
  }
}

export interface EncryptionCodecOptions {
  /** Newest first: the first encrypts; all decrypt. */
  keys: readonly PayloadKey[];
  /** False: encode passes payloads through (decode still decrypts what it has keys for). */
  encrypt: boolean;
  /** Whether decode passes unencrypted payloads through; default: only when `encrypt` is false. */
  acceptPlaintext?: boolean;
}

export interface EncryptionCodec extends PayloadCodec {
  /** The id new payloads are encrypted under; undefined when encryption is off. */
  readonly writeKeyId: string | undefined;
  /** Decode for a reader (the codec endpoint): unencrypted payloads come back as they are. */
  decodeForReading(payloads: Payload[]): Promise<Payload[]>;
}

/**
 * A Schedule's action is encoded for the workflow id it names, and each run it starts gets that id
 * with the run's time appended (`<id>-2026-12-07T03:17:00Z`): that run reads it as its own.
 */
const SCHEDULED_RUN_SUFFIX = /^-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
function sameWorkflow(boundTo: string, workflowId: string): boolean {
  return (
    boundTo === workflowId ||
    (workflowId.startsWith(boundTo) && SCHEDULED_RUN_SUFFIX.test(workflowId.slice(boundTo.length)))
  );
}

/** The workflow a payload belongs to, when the SDK says (an activity's context names its workflow when known). */
function workflowOf(context: SerializationContext | undefined): string | undefined {
  const id = context?.workflowId;
  return id ? id : undefined;
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
  const acceptPlaintext = options.acceptPlaintext ?? !options.encrypt;

  const encryptOne = (payload: Payload, workflowId: string | undefined): Payload => {
    if (!write) return payload;
    const plain = PayloadMessage.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', write.key, iv, { authTagLength: TAG_BYTES });
    if (workflowId !== undefined) cipher.setAAD(utf8.encode(workflowId));
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    const metadata: Record<string, Uint8Array> = { encoding: encodingBytes, [KEY_ID_METADATA]: write.idBytes };
    if (workflowId !== undefined) metadata[WORKFLOW_ID_METADATA] = utf8.encode(workflowId);
    return { metadata, data };
  };

  const decryptOne = (payload: Payload, workflowId: string | undefined, plaintext: boolean): Payload => {
    const encoding = payload.metadata?.encoding;
    if (!encoding || fromUtf8.decode(encoding) !== ENCRYPTED_ENCODING) {
      if (plaintext) return payload;
      throw new PayloadPlaintextError();
    }
    const boundBytes = payload.metadata?.[WORKFLOW_ID_METADATA];
    const boundTo = boundBytes ? fromUtf8.decode(boundBytes) : undefined;
    if (boundTo !== undefined && workflowId !== undefined && !sameWorkflow(boundTo, workflowId))
      throw new PayloadBindingError(boundTo, workflowId);
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
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    // Payloads written before binding (and those with no workflow to bind to) carry no id: no associated data.
    if (boundTo !== undefined) decipher.setAAD(utf8.encode(boundTo));
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
    async encode(payloads, context) {
      const workflowId = workflowOf(context);
      return payloads.map((payload) => encryptOne(payload, workflowId));
    },
    async decode(payloads, context) {
      const workflowId = workflowOf(context);
      return payloads.map((payload) => decryptOne(payload, workflowId, acceptPlaintext));
    },
    async decodeForReading(payloads) {
      return payloads.map((payload) => decryptOne(payload, undefined, true));
    },
  };
}
