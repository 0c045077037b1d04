/**
 * The tests' one stand-in for a channel's Reply Webhook URL: a real HTTP server that records every
 * POST and answers as the test says. Workflow, end-to-end and fault tests all use it (the process
 * stack too): 200 by default; scripted answers for the next POSTs; a mode for every following POST
 * (a status, held until released, slow, failing at first), for all paths or one; down and up again
 * on the same port. GET serves files registered with `serve`.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { waitFor } from '../../src/lib/wait.js';

export interface ReceivedPost {
  path: string;
  headers: IncomingHttpHeaders;
  /** `webhook-id`: `<messageId>.<partIndex>`, the same on every attempt of a part. */
  webhookId: string;
  rawBody: string;
  fields: Record<string, string>;
  receivedAt: number;
  /** The status the receiver answered (or was going to answer); undefined while held. */
  status?: number;
  /**
   * `answered`: the answer was written; `lost`: the connection closed before the answer could be
   * sent (the sender never learnt the outcome); `held`: still waiting for release().
   */
  outcome: 'answered' | 'lost' | 'held';
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
}

export type ReceiverMode =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  | { kind: 'hold' }
  /** A slow receiver: 200 after `ms`, unless the sender closed the connection first (the post is then `lost`). */
  | { kind: 'delay'; ms: number }
  /** A receiver that fails at first: the first `times` POSTs of each webhook-id are answered `status`, later ones 200. */
  | { kind: 'fail-first'; status: number; times: number };

export interface Receiver {
  /** A reply URL shared by the tests that do not need one of their own. */
  readonly url: string;
  readonly baseUrl: string;
  readonly port: number;
  readonly posts: ReceivedPost[];
  readonly isUp: boolean;
  /** A fresh reply URL, so that one test's late deliveries never count for another. */
  endpoint(): { url: string; path: string };
  /** The posts answered 2xx whose answer was written, i.e. delivered as far as the receiver knows (to `path` when given). */
  delivered(path?: string): ReceivedPost[];
  postsTo(path: string): ReceivedPost[];
  waitForDelivered(count: number, options?: { path?: string; timeoutMs?: number }): Promise<ReceivedPost[]>;
  /** The next POSTs, whatever their path, get these answers, in order; a mode applies after them. */
  answerNext(...answers: ScriptedAnswer[]): void;
  /** Answer every POST with this status until changed (undefined: back to 200). */
  answerAlways(answer: ScriptedAnswer | undefined): void;
  /** How every following POST (to `path` only, when given) is answered; default 200. A path's own mode wins. */
  setMode(mode: ReceiverMode, path?: string): void;
  /** Answers every held POST with `status` (default 200); a held POST whose connection is gone becomes `lost`. */
  release(status?: number): number;
  serve(path: string, contentType: string, body: Buffer): string;
  /** Stops listening and drops every connection: senders get connection refused. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Forgets the posts, scripted answers and modes. */
  reset(): void;
  close(): Promise<void>;
}

const isDelivered = (post: ReceivedPost): boolean =>
  post.outcome === 'answered' && post.status !== undefined && post.status >= 200 && post.status < 300;

export async function startReceiver(): Promise<Receiver> {
  const posts: ReceivedPost[] = [];
  const scripted: ScriptedAnswer[] = [];
  const held: Array<{ post: ReceivedPost; res: ServerResponse }> = [];
  const files = new Map<string, { contentType: string; body: Buffer }>();
  const sockets = new Set<Socket>();
  let mode: ReceiverMode = { kind: 'ok' };
  const modes = new Map<string, ReceiverMode>();
  let endpoints = 0;

  const answer = (post: ReceivedPost, res: ServerResponse, status: number, headers: Record<string, string> = {}) => {
    post.status = status;
    if (res.destroyed || res.socket === null || res.socket.destroyed) {
      post.outcome = 'lost';
      return;
    }
    post.outcome = 'answered';
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end('{}');
  };

  const answerByMode = (post: ReceivedPost, res: ServerResponse): void => {
    const current = modes.get(post.path) ?? mode;
    switch (current.kind) {
      case 'ok':
        return answer(post, res, 200);
      case 'status':
        return answer(post, res, current.status, current.headers);
      case 'fail-first': {
        const earlier = posts.filter((other) => other.path === post.path && other.webhookId === post.webhookId).length;
        return answer(post, res, earlier - 1 < current.times ? current.status : 200);
      }
      case 'delay': {
        const timer = setTimeout(() => answer(post, res, 200), current.ms);
        res.once('close', () => {
          clearTimeout(timer);
          if (post.outcome === 'held') post.outcome = 'lost';
        });
        return;
      }
      case 'hold':
        held.push({ post, res });
        // The sender went away (killed) while we held its answer: nothing can reach it any more.
        res.once('close', () => {
          if (post.outcome === 'held') post.outcome = 'lost';
        });
        return;
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      if (req.method === 'GET') {
        const file = files.get(path);
        if (!file) res.writeHead(404).end();
        else
          res.writeHead(200, { 'content-type': file.contentType, 'content-length': file.body.length }).end(file.body);
        return;
      }
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const post: ReceivedPost = {
        path,
        headers: req.headers,
        webhookId: String(req.headers['webhook-id'] ?? ''),
        rawBody,
        fields: Object.fromEntries(new URLSearchParams(rawBody)),
        receivedAt: Date.now(),
        outcome: 'held',
      };
      posts.push(post);
      if (req.method !== 'POST') return answer(post, res, 405);
      const next = scripted.shift();
      if (next) return answer(post, res, next.status, next.headers);
      answerByMode(post, res);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  let listening = true;

  const stopListening = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  const delivered = (path?: string) =>
    posts.filter((post) => isDelivered(post) && (path === undefined || post.path === path));
  const setMode = (next: ReceiverMode, path?: string): void => {
    if (path === undefined) {
      mode = next;
      modes.clear();
    } else modes.set(path, next);
  };

  return {
    url: `${baseUrl}/replies`,
    baseUrl,
    port,
    posts,
    get isUp() {
      return listening;
    },
    endpoint() {
      endpoints += 1;
      const path = `/replies/${endpoints}`;
      return { url: `${baseUrl}${path}`, path };
    },
    delivered,
    postsTo: (path) => posts.filter((post) => post.path === path),
    waitForDelivered: (count, options = {}) =>
      waitFor(() => (delivered(options.path).length >= count ? delivered(options.path) : undefined), {
        timeoutMs: options.timeoutMs ?? 30_000,
        what: `${count} delivered replies`,
      }),
    answerNext: (...answers) => scripted.push(...answers),
    answerAlways: (always) =>
      setMode(
        always
          ? { kind: 'status', status: always.status, ...(always.headers ? { headers: always.headers } : {}) }
          : { kind: 'ok' },
      ),
    setMode,
    release(status = 200) {
      const waiting = held.splice(0, held.length);
      for (const { post, res } of waiting) {
        if (post.outcome === 'held') answer(post, res, status);
      }
      return waiting.length;
    },
    serve(path, contentType, body) {
      files.set(path, { contentType, body });
      return `${baseUrl}${path}`;
    },
    down: stopListening,
    async up() {
      if (listening) return;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      listening = true;
    },
    reset() {
      posts.length = 0;
      scripted.length = 0;
      setMode({ kind: 'ok' });
    },
    async close() {
      for (const { res } of held.splice(0, held.length)) res.destroy();
      await stopListening();
    },
  };
}
