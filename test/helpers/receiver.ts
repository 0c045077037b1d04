import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../../src/lib/wait.js';

export interface ReceivedPost {
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  fields: Record<string, string>;
  /** Whether the receiver answered 2xx (a delivered post) or an error it was scripted to give. */
  answered: number;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
}

/**
 * A real HTTP server standing in for a channel's Reply Webhook URL. It records every POST and
 * answers 200 unless answers were scripted; GET serves files registered with `serve`.
 */
export interface Receiver {
  url: string;
  baseUrl: string;
  posts: ReceivedPost[];
  /** Only the posts that were answered 2xx, i.e. delivered (to `path` when given). */
  delivered(path?: string): ReceivedPost[];
  /** A fresh reply URL, so that one test's late deliveries never count for another. */
  endpoint(): { url: string; path: string };
  answerNext(...answers: ScriptedAnswer[]): void;
  /** Answer every POST with this status until changed (undefined: back to 200). */
  answerAlways(answer: ScriptedAnswer | undefined): void;
  serve(path: string, contentType: string, body: Buffer): string;
  waitForDelivered(count: number, options?: { path?: string; timeoutMs?: number }): Promise<ReceivedPost[]>;
  reset(): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const posts: ReceivedPost[] = [];
  const scripted: ScriptedAnswer[] = [];
  let always: ScriptedAnswer | undefined;
  const files = new Map<string, { contentType: string; body: Buffer }>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      if (req.method === 'GET') {
        const file = files.get(path);
        if (!file) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': file.contentType, 'content-length': file.body.length }).end(file.body);
        return;
      }
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const answer = scripted.shift() ?? always ?? { status: 200 };
      posts.push({
        path,
        headers: req.headers,
        rawBody,
        fields: Object.fromEntries(new URLSearchParams(rawBody)),
        answered: answer.status,
      });
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  const delivered = (path?: string) =>
    posts.filter((post) => post.answered >= 200 && post.answered < 300 && (path === undefined || post.path === path));
  let endpoints = 0;

  return {
    url: `${baseUrl}/replies`,
    baseUrl,
    posts,
    delivered,
    endpoint() {
      endpoints += 1;
      const path = `/replies/${endpoints}`;
      return { url: `${baseUrl}${path}`, path };
    },
    answerNext: (...answers) => scripted.push(...answers),
    answerAlways: (answer) => {
      always = answer;
    },
    serve(path, contentType, body) {
      files.set(path, { contentType, body });
      return `${baseUrl}${path}`;
    },
    waitForDelivered: (count, options = {}) =>
      waitFor(() => (delivered(options.path).length >= count ? delivered(options.path) : undefined), {
        timeoutMs: options.timeoutMs ?? 30_000,
        what: `${count} delivered replies`,
      }),
    reset() {
      posts.length = 0;
      scripted.length = 0;
      always = undefined;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
