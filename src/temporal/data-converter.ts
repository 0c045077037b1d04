/**
 * The one data converter of every Temporal client and worker chatrelay creates (API, worker,
 * tests, tools): payloads through the encryption codec, failure messages encoded as payloads so
 * that the codec covers them too. Build the codec once per process (createPayloadCodec) and share it.
 */
import type { DataConverter } from '@temporalio/common';
import { fileURLToPath } from 'node:url';
import { secretBoxPassphrase, type Config } from '../config.js';
import { createEncryptionCodec, type EncryptionCodec } from './payload-codec.js';
import { derivePayloadKey } from './payload-keys.js';

/** For WorkerOptions.dataConverter, bundleWorkflowCode and the client: the module exporting `failureConverter`. */
export const failureConverterPath = fileURLToPath(
  new URL(`./failure-converter${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

type CodecConfig = Pick<
  Config,
  | 'PAYLOAD_ENCRYPTION'
  | 'PAYLOAD_ENCRYPTION_KEYS'
  | 'SECRETS_ENCRYPTION_KEY'
  | 'PAYLOAD_ENCRYPTION_DERIVED_KEY'
  | 'PAYLOAD_ACCEPT_PLAINTEXT'
>;

/**
 * The payload codec of this deployment: PAYLOAD_ENCRYPTION_KEYS (newest first) when set, then the
 * key derived from SECRETS_ENCRYPTION_KEY, which encrypts when no keys are set and otherwise stays
 * readable (payloads written before the keys were configured still open) until
 * PAYLOAD_ENCRYPTION_DERIVED_KEY=false retires it. Unencrypted payloads are refused on decode unless
 * PAYLOAD_ACCEPT_PLAINTEXT (a migration) or encryption is off.
 */
export function createPayloadCodec(config: CodecConfig): EncryptionCodec {
  const configured = config.PAYLOAD_ENCRYPTION_KEYS ?? [];
  const derived = config.PAYLOAD_ENCRYPTION_DERIVED_KEY ? [derivePayloadKey(secretBoxPassphrase(config))] : [];
  const keys = [...configured, ...derived.filter((key) => !configured.some((own) => own.id === key.id))];
  return createEncryptionCodec({
    keys,
    encrypt: config.PAYLOAD_ENCRYPTION,
    acceptPlaintext: config.PAYLOAD_ACCEPT_PLAINTEXT || !config.PAYLOAD_ENCRYPTION,
  });
}

/** The DataConverter for Client, Worker.create and Worker.runReplayHistory. */
export function temporalDataConverter(codec: EncryptionCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath };
}
