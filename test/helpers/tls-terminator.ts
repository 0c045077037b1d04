import { connect as netConnect, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';

/**
 * A TLS terminator in front of a plaintext server, as a load balancer or an ingress puts one in
 * front of Temporal's frontend: it requires a client certificate issued by `ca`, verifies it, and
 * pipes the bytes to `upstream` (gRPC's HTTP/2 passes through unchanged).
 */
export interface TlsTerminator {
  /** `127.0.0.1:port`, for TEMPORAL_ADDRESS. */
  readonly address: string;
  /** The common names of the verified client certificates, one per connection accepted. */
  readonly clients: readonly string[];
  /** The handshakes it refused, with OpenSSL's reason. */
  readonly refused: readonly string[];
  close(): Promise<void>;
}

export async function startTlsTerminator(options: {
  upstream: string;
  cert: string;
  key: string;
  /** The CA that client certificates must chain to. */
  ca: string;
}): Promise<TlsTerminator> {
  const separator = options.upstream.lastIndexOf(':');
  const upstreamHost = options.upstream.slice(0, separator);
  const upstreamPort = Number(options.upstream.slice(separator + 1));
  const clients: string[] = [];
  const refused: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer(
    {
      cert: options.cert,
      key: options.key,
      ca: options.ca,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (socket: TLSSocket) => {
      const subject = socket.getPeerCertificate().subject as Record<string, string> | undefined;
      clients.push(subject?.CN ?? '(none)');
      const upstream = netConnect({ host: upstreamHost, port: upstreamPort });
      sockets.add(socket).add(upstream);
      const end = (): void => {
        socket.destroy();
        upstream.destroy();
        sockets.delete(socket);
        sockets.delete(upstream);
      };
      socket.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      socket.pipe(upstream);
      upstream.pipe(socket);
    },
  );
  server.on('tlsClientError', (error: NodeJS.ErrnoException) => refused.push(error.code ?? error.message));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the TLS terminator has no port');
  return {
    address: `127.0.0.1:${address.port}`,
    clients,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
