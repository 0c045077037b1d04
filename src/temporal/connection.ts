/**
 * The one way every chatrelay process connects to Temporal: the API's client, the worker, the load
 * gate, the search-attribute check, the codec endpoint's client and the benchmark all take their
 * options from here.
 *
 * The settings are read as the `temporal` CLI and every Temporal SDK read them, with
 * `@temporalio/envconfig`: the TOML file (`TEMPORAL_CONFIG_FILE`, else
 * `~/.config/temporalio/temporal.toml`), its profile (`TEMPORAL_PROFILE`, else `default`), and over
 * it the variables `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS`,
 * `TEMPORAL_TLS_CLIENT_CERT_PATH` / `_DATA`, `TEMPORAL_TLS_CLIENT_KEY_PATH` / `_DATA`,
 * `TEMPORAL_TLS_SERVER_CA_CERT_PATH` / `_DATA`, `TEMPORAL_TLS_SERVER_NAME` and
 * `TEMPORAL_GRPC_META_*`. What the package accepts silently (a certificate without its key, a
 * `TEMPORAL_TLS` of `yes`, an expired certificate, an API key over plaintext) is refused here, each
 * problem naming the variable, or the key of the profile, that holds it.
 */
import type { ConnectionOptions } from '@temporalio/client';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import type { NativeConnectionOptions, TLSConfig } from '@temporalio/worker';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../lib/config-error.js';
import type { Logger } from '../lib/logger.js';
import { checkServerIdentity as tlsCheckServerIdentity, connect as tlsConnect } from 'node:tls';

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** The three files (or inline values) of a TLS setup. */
type TlsPart = 'clientCert' | 'clientKey' | 'serverCACert';

/** The profile as loaded, and where each of its settings came from, to name it in errors. */
export interface TemporalProfile {
  address: string;
  namespace: string;
  apiKey?: string;
  /** Undefined: plaintext. */
  tls?: {
    serverName?: string;
    clientCert?: ConfigDataSource;
    clientKey?: ConfigDataSource;
    serverCACert?: ConfigDataSource;
  };
  metadata?: Record<string, string>;
  /** The name of each setting as the operator wrote it: a variable, or a key of the TOML profile. */
  names: Record<'address' | 'namespace' | 'apiKey' | 'tls' | 'serverName' | TlsPart, string>;
}

const envNames: Record<TlsPart, { path: string; data: string }> = {
  clientCert: { path: 'TEMPORAL_TLS_CLIENT_CERT_PATH', data: 'TEMPORAL_TLS_CLIENT_CERT_DATA' },
  clientKey: { path: 'TEMPORAL_TLS_CLIENT_KEY_PATH', data: 'TEMPORAL_TLS_CLIENT_KEY_DATA' },
  serverCACert: { path: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', data: 'TEMPORAL_TLS_SERVER_CA_CERT_DATA' },
};
const tomlNames: Record<TlsPart, string> = {
  clientCert: 'client_cert',
  clientKey: 'client_key',
  serverCACert: 'server_ca_cert',
};

/**
 * Loads the profile from the environment and the TOML file, as every Temporal tool does, and
 * checks what can be checked without the network. Files are not read here: see
 * {@link temporalTlsConfig}.
 */
export function loadTemporalProfile(env: NodeJS.ProcessEnv = process.env): TemporalProfile {
  // Empty variables are unset (compose files produce them); envconfig would take them as values.
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== '') vars[key] = value;
  const profileName = vars.TEMPORAL_PROFILE ?? 'default';
  const where = `profile "${profileName}" of ${vars.TEMPORAL_CONFIG_FILE ?? 'the Temporal config file'}`;
  let loaded: ClientConfigProfile;
  try {
    loaded = loadClientConfigProfile({ overrideEnvVars: vars, configFileStrict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const setting = /Profile '/.test(message)
      ? 'TEMPORAL_PROFILE'
      : vars.TEMPORAL_CONFIG_FILE !== undefined
        ? 'TEMPORAL_CONFIG_FILE'
        : 'the Temporal config file (~/.config/temporalio/temporal.toml)';
    throw new ConfigError([`${setting}: ${message}`]);
  }
  // A setting is named as the operator wrote it: its variable, else its key in the file; unset, its variable.
  const fromFile = (set: boolean, variable: string, key: string): string =>
    vars[variable] === undefined && set ? `${key} of ${where}` : variable;
  const tlsSet = loaded.tls ?? {};
  const names: TemporalProfile['names'] = {
    address: fromFile(loaded.address !== undefined, 'TEMPORAL_ADDRESS', 'address'),
    namespace: fromFile(loaded.namespace !== undefined, 'TEMPORAL_NAMESPACE', 'namespace'),
    apiKey: fromFile(loaded.apiKey !== undefined, 'TEMPORAL_API_KEY', 'api_key'),
    tls: fromFile(tlsSet.disabled !== undefined, 'TEMPORAL_TLS', 'tls.disabled'),
    serverName: fromFile(tlsSet.serverName !== undefined, 'TEMPORAL_TLS_SERVER_NAME', 'tls.server_name'),
    clientCert: partName(vars, 'clientCert', tlsSet.clientCert, where),
    clientKey: partName(vars, 'clientKey', tlsSet.clientKey, where),
    serverCACert: partName(vars, 'serverCACert', tlsSet.serverCACert, where),
  };
  const problems: string[] = [];
  const tlsVar = vars.TEMPORAL_TLS;
  if (tlsVar !== undefined && !['true', 'false', '1', '0'].includes(tlsVar))
    problems.push(`TEMPORAL_TLS must be true or false (it is "${tlsVar}")`);
  const address = loaded.address ?? DEFAULT_TEMPORAL_ADDRESS;
  if (!/^[^\s:/]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(address))
    problems.push(`${names.address} must be host:port (it is "${address}")`);
  const tls = loaded.tls;
  const tlsOn = tls ? tls.disabled !== true : loaded.apiKey !== undefined;
  if (tls && tls.disabled === true) {
    if (loaded.apiKey !== undefined)
      problems.push(
        `${names.apiKey} is set but ${names.tls} turns TLS off: an API key is never sent in the clear (Temporal Cloud requires TLS)`,
      );
    for (const part of ['clientCert', 'clientKey', 'serverCACert'] as const)
      if (tls[part] !== undefined) problems.push(`${names[part]} is set but ${names.tls} turns TLS off`);
  }
  if (tlsOn && tls) {
    if ((tls.clientCert === undefined) !== (tls.clientKey === undefined)) {
      const [set, missing] = tls.clientCert !== undefined ? ['clientCert', 'clientKey'] : ['clientKey', 'clientCert'];
      problems.push(
        `${names[set as TlsPart]} is set without ${names[missing as TlsPart]}: a client certificate needs its key`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    address,
    namespace: loaded.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    ...(loaded.apiKey !== undefined ? { apiKey: loaded.apiKey } : {}),
    ...(tlsOn
      ? {
          tls: {
            ...(tls?.serverName !== undefined ? { serverName: tls.serverName } : {}),
            ...(tls?.clientCert !== undefined ? { clientCert: tls.clientCert } : {}),
            ...(tls?.clientKey !== undefined ? { clientKey: tls.clientKey } : {}),
            ...(tls?.serverCACert !== undefined ? { serverCACert: tls.serverCACert } : {}),
          },
        }
      : {}),
    ...(loaded.grpcMeta !== undefined && Object.keys(loaded.grpcMeta).length > 0 ? { metadata: loaded.grpcMeta } : {}),
    names,
  };
}

function partName(
  vars: Record<string, string>,
  part: TlsPart,
  source: ConfigDataSource | undefined,
  where: string,
): string {
  const env = envNames[part];
  if (vars[env.path] !== undefined) return env.path;
  if (vars[env.data] !== undefined) return env.data;
  if (source === undefined) return env.path;
  return `tls.${tomlNames[part]}_${'path' in source ? 'path' : 'data'} of ${where}`;
}

function readPart(profile: TemporalProfile, part: TlsPart): Buffer | undefined {
  const source = profile.tls?.[part];
  if (source === undefined) return undefined;
  if ('data' in source) return Buffer.from(source.data);
  try {
    return readFileSync(source.path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError([`${profile.names[part]}: cannot read ${source.path} (${code})`]);
  }
}

/** Certificates in a PEM bundle, in order. */
function pemCertificates(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/**
 * Reads the TLS files now and checks them: each is a PEM of its kind, the client certificate is
 * within its validity and matches its key. Undefined when TLS is off. Called at every connection,
 * so a new connection reads the files as they are then.
 */
export function temporalTlsConfig(profile: TemporalProfile, now: Date = new Date()): TLSConfig | undefined {
  if (!profile.tls) return undefined;
  const { names } = profile;
  const problems: string[] = [];
  const ca = readPart(profile, 'serverCACert');
  const crt = readPart(profile, 'clientCert');
  const key = readPart(profile, 'clientKey');
  if (ca) {
    try {
      if (pemCertificates(ca).length === 0) problems.push(`${names.serverCACert} holds no PEM certificate`);
    } catch (error) {
      problems.push(`${names.serverCACert} is not a valid PEM certificate (${(error as Error).message})`);
    }
  }
  if (crt && key) {
    let leaf: X509Certificate | undefined;
    let privateKey: KeyObject | undefined;
    try {
      leaf = pemCertificates(crt)[0];
      if (!leaf) problems.push(`${names.clientCert} holds no PEM certificate`);
    } catch (error) {
      problems.push(`${names.clientCert} is not a valid PEM certificate (${(error as Error).message})`);
    }
    try {
      privateKey = createPrivateKey(key);
    } catch (error) {
      problems.push(`${names.clientKey} is not a valid PEM private key (${(error as Error).message})`);
    }
    if (leaf) {
      const notAfter = new Date(leaf.validTo);
      const notBefore = new Date(leaf.validFrom);
      if (notAfter.getTime() <= now.getTime())
        problems.push(`${names.clientCert}: the client certificate expired on ${notAfter.toISOString()}`);
      else if (notBefore.getTime() > now.getTime())
        problems.push(`${names.clientCert}: the client certificate is not valid before ${notBefore.toISOString()}`);
      if (privateKey && !leaf.checkPrivateKey(privateKey))
        problems.push(`${names.clientKey} is not the key of the certificate in ${names.clientCert}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...(profile.tls.serverName !== undefined ? { serverNameOverride: profile.tls.serverName } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
  };
}

/**
 * Logs where and how the process connects (never the API key): TLS, mTLS and when the client
 * certificate expires, since a restart is what picks up a renewed one (docs/operations.md).
 */
export function logTemporalConnection(profile: TemporalProfile, logger: Pick<Logger, 'info'>): void {
  const crt = readPart(profile, 'clientCert');
  const leaf = crt ? pemCertificates(crt)[0] : undefined;
  logger.info(
    {
      address: profile.address,
      namespace: profile.namespace,
      tls: profile.tls !== undefined,
      mtls: leaf !== undefined,
      apiKey: profile.apiKey !== undefined,
      ...(leaf ? { clientCertificateExpires: new Date(leaf.validTo).toISOString() } : {}),
    },
    'Temporal connection',
  );
}

function common(profile: TemporalProfile): {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
  metadata?: Record<string, string>;
} {
  const tls = temporalTlsConfig(profile);
  return {
    address: profile.address,
    ...(tls ? { tls } : {}),
    ...(profile.apiKey !== undefined ? { apiKey: profile.apiKey } : {}),
    ...(profile.metadata ? { metadata: { ...profile.metadata } } : {}),
  };
}

/** Options of the worker's `NativeConnection` (Rust core). Reads the TLS files now. */
export function nativeConnectionOptions(profile: TemporalProfile): NativeConnectionOptions {
  return common(profile);
}

/** Options of a client `Connection` (grpc-js): the API's, the benchmark's. Reads the TLS files now. */
export function clientConnectionOptions(profile: TemporalProfile): ConnectionOptions {
  return common(profile);
}

/** What a TLS handshake with the frontend showed. */
export type TlsProbeResult =
  | { outcome: 'ok' }
  /** Nothing answers (yet): not a setting's fault, the caller retries or waits. */
  | { outcome: 'unreachable'; reason: string }
  /** A setting is wrong: the error names it. */
  | { outcome: 'refused'; error: ConfigError };

const serverTrustCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
]);

/**
 * Which setting a failed TLS handshake points at, or undefined when it is not a setting's fault.
 * Exported for its unit test; the codes are OpenSSL's as Node reports them.
 */
export function classifyTlsFailure(profile: TemporalProfile, error: NodeJS.ErrnoException): string | undefined {
  const { names } = profile;
  const code = error.code ?? '';
  const detail = `${code || error.message}`;
  const caName = profile.tls?.serverCACert ? names.serverCACert : `${names.serverCACert} (unset: the system's CAs)`;
  if (serverTrustCodes.has(code))
    return `${caName} does not verify the server's certificate (${detail}): set it to the CA that issued the frontend's certificate`;
  if (code === 'CERT_HAS_EXPIRED') return `the server's certificate has expired (${detail}); ${caName}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `${names.serverName}: the server's certificate is not for this name (${error.message})`;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL/.test(code))
    return `${names.tls}: the server at ${profile.address} does not speak TLS (${detail})`;
  if (/ALERT_CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE/.test(code))
    return profile.tls?.clientCert
      ? `${names.clientCert}: the server refused the client certificate (${detail})`
      : `${names.clientCert} is unset and the server requires a client certificate (mTLS) (${detail})`;
  if (/ALERT_CERTIFICATE_EXPIRED/.test(code))
    return `${names.clientCert}: the server says the client certificate has expired (${detail})`;
  if (
    /ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|DECRYPT_ERROR)/.test(
      code,
    )
  )
    return `${names.clientCert}: the server refused the client certificate (${detail}): it must be issued by a CA the server trusts`;
  if (unreachableCodes.has(code)) return undefined;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))
    return `${names.tls}: the TLS handshake with ${profile.address} failed (${detail})`;
  return undefined;
}

/** HTTP/2's client preface and an empty SETTINGS frame: a gRPC server answers with its SETTINGS. */
const h2Preface = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/**
 * Makes one TLS handshake with the frontend, with the settings' files as they are now, and sends
 * HTTP/2's preface: under TLS 1.3 a server refuses a client certificate only after the handshake,
 * so its answer (SETTINGS, or an alert) is what tells. The gRPC clients' own errors say
 * "transport error" at best; this names the setting. Plaintext settings are not probed.
 */
export async function probeTemporalTls(profile: TemporalProfile, timeoutMs = 5_000): Promise<TlsProbeResult> {
  const tls = temporalTlsConfig(profile);
  if (!tls) return { outcome: 'ok' };
  const separator = profile.address.lastIndexOf(':');
  const host = profile.address.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
  const port = Number(profile.address.slice(separator + 1));
  const servername = tls.serverNameOverride ?? host;
  return new Promise<TlsProbeResult>((resolve) => {
    const socket = tlsConnect({
      host,
      port,
      ...(/^[\d.]+$|:/.test(servername) ? {} : { servername }),
      ...(tls.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
      ...(tls.clientCertPair
        ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) }
        : {}),
      ALPNProtocols: ['h2'],
      checkServerIdentity: (name, cert) => {
        // As gRPC does: the name checked is the override when there is one.
        return tlsCheckServerIdentity(tls.serverNameOverride ?? name, cert);
      },
    });
    let settled = false;
    const finish = (result: TlsProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ outcome: 'unreachable', reason: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once('secureConnect', () => socket.write(h2Preface));
    socket.once('data', () => finish({ outcome: 'ok' }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const problem = classifyTlsFailure(profile, error);
      finish(
        problem
          ? { outcome: 'refused', error: new ConfigError([problem]) }
          : { outcome: 'unreachable', reason: error.code ?? error.message },
      );
    });
    socket.once('close', () => finish({ outcome: 'unreachable', reason: 'the connection closed' }));
  });
}
