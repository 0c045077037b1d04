/**
 * A certificate authority and the certificates the TLS tests need, made in the test: Node cannot
 * sign X.509 certificates by itself, so @peculiar/x509 (a devDependency) does, on WebCrypto
 * (ECDSA P-256). Everything is PEM, as Temporal's settings take it.
 *
 * Why that library: the openssl CLI is not guaranteed where the tests run; node-forge signs RSA
 * only (slow keys, no ECDSA certificates) and is untyped; @peculiar/x509 is TypeScript, maintained,
 * and lets a test set any validity (an expired certificate). Its cost: the reflect-metadata polyfill.
 */
// @peculiar/x509 resolves its parts with tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto);

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const day = 24 * 60 * 60 * 1000;

export interface Issued {
  cert: string;
  key: string;
}

export interface TestAuthority extends Issued {
  /** A certificate for a server at these names (DNS names and IP addresses). */
  server(names: readonly string[]): Promise<Issued>;
  /** A client certificate; `expired` makes one whose validity ended yesterday. */
  client(commonName: string, options?: { expired?: boolean }): Promise<Issued>;
}

async function pemKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

let serial = 1;
const nextSerial = (): string => (serial++).toString(16).padStart(2, '0');

export async function createTestAuthority(name = 'chatrelay test CA'): Promise<TestAuthority> {
  const caKeys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name}`,
    notBefore: new Date(now - day),
    notAfter: new Date(now + 30 * day),
    signingAlgorithm: algorithm,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const issue = async (
    subject: string,
    extensions: x509.Extension[],
    validity: { notBefore: Date; notAfter: Date },
  ): Promise<Issued> => {
    const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject,
      issuer: ca.subject,
      ...validity,
      signingAlgorithm: algorithm,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ...extensions,
      ],
    });
    return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
  };
  const current = { notBefore: new Date(now - day), notAfter: new Date(now + 7 * day) };
  return {
    cert: ca.toString('pem'),
    key: await pemKey(caKeys.privateKey),
    server: (names) =>
      issue(
        `CN=${names[0] ?? 'server'}`,
        [
          new x509.SubjectAlternativeNameExtension(
            names.map((value) => (/^[\d.]+$|:/.test(value) ? { type: 'ip', value } : { type: 'dns', value })),
          ),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        ],
        current,
      ),
    client: (commonName, options = {}) =>
      issue(
        `CN=${commonName}`,
        [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
        options.expired ? { notBefore: new Date(now - 10 * day), notAfter: new Date(now - day) } : current,
      ),
  };
}
