/**
 * The channel's Reply Webhook URL during a benchmark: a plain HTTP server that answers 200 at
 * once and records, for every reply part, when it arrived and the headers that identify it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Arrival {
  /** Which system sent it: the first path segment (`/chatrelay`, `/baseline`, `/warmup`). */
  path: string;
  /** `webhook-id`: `<messageId>.<partIndex>`. */
  webhookId: string | undefined;
  /** `x-chatrelay-part`: `k/n`, 1-based. */
  part: string | undefined;
  /** performance.now() when the body had been read. */
  at: number;
  textLength: number;
}

export interface BenchReceiver {
  readonly baseUrl: string;
  readonly arrivals: Arrival[];
  /** Arrivals on `path` since index `from`. */
  on(path: string, from?: number): Arrival[];
  close(): Promise<void>;
}

export async function startBenchReceiver(): Promise<BenchReceiver> {
  const arrivals: Arrival[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      const header = (name: string): string | undefined => {
        const value = req.headers[name];
        return Array.isArray(value) ? value.join(',') : value;
      };
      const text = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('text') ?? '';
      arrivals.push({
        path: (req.url ?? '/').split('?')[0] ?? '/',
        webhookId: header('webhook-id'),
        part: header('x-chatrelay-part'),
        at,
        textLength: text.length,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    arrivals,
    on: (path, from = 0) => arrivals.slice(from).filter((arrival) => arrival.path === path),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
