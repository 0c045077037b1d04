/**
 * The channel's Reply Webhook URL during a benchmark: a plain HTTP server that answers 200 at
 * once and records, for every reply part, when it arrived and the headers that identify it.
 * With `refuseFirst`, it answers 503 to the first attempt of the parts it names (the
 * receiver-retry mode). It also serves the voice note of the voice-in mode (GET, any path).
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
  /** What the receiver answered: 200, or 503 to an attempt it refused on purpose. */
  status: number;
  /** Whether the part carried a speech audio URL (voice replies). */
  audio: boolean;
}

export interface BenchReceiverOptions {
  /** Parts (by webhook-id) whose first attempt is answered 503. */
  refuseFirst?: (webhookId: string) => boolean;
}

/** The voice note served: an Ogg page header (what the worker checks for) and 8 KiB of payload. */
const voiceNote = Buffer.concat([Buffer.from('OggS', 'ascii'), Buffer.alloc(8 * 1024, 7)]);

export interface BenchReceiver {
  readonly baseUrl: string;
  readonly arrivals: Arrival[];
  /** Arrivals on `path` since index `from`. */
  on(path: string, from?: number): Arrival[];
  /** Voice notes served so far. */
  voiceNotesServed(): number;
  close(): Promise<void>;
}

export async function startBenchReceiver(options: BenchReceiverOptions = {}): Promise<BenchReceiver> {
  const arrivals: Arrival[] = [];
  const refused = new Set<string>();
  let voiceNotes = 0;
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET') {
      voiceNotes += 1;
      res.writeHead(200, { 'content-type': 'audio/ogg', 'content-length': voiceNote.length }).end(voiceNote);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      const header = (name: string): string | undefined => {
        const value = req.headers[name];
        return Array.isArray(value) ? value.join(',') : value;
      };
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const text = form.get('text') ?? '';
      const webhookId = header('webhook-id');
      const refuse = webhookId !== undefined && !refused.has(webhookId) && options.refuseFirst?.(webhookId) === true;
      if (refuse) refused.add(webhookId);
      const status = refuse ? 503 : 200;
      arrivals.push({
        path: (req.url ?? '/').split('?')[0] ?? '/',
        webhookId,
        part: header('x-chatrelay-part'),
        at,
        textLength: text.length,
        status,
        audio: (form.get('audio') ?? '') !== '',
      });
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    arrivals,
    on: (path, from = 0) => arrivals.slice(from).filter((arrival) => arrival.path === path),
    voiceNotesServed: () => voiceNotes,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
