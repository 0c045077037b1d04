/**
 * A proxy in front of the demo model for `--feature model-retry`: the first chat request of every
 * message (told apart by its last user text, which the benchmark makes unique) is answered 500,
 * as a model API in trouble would; every other request goes through to the model unchanged. The
 * product has no hook for this, and needs none: the worker sees a real 500 and retries.
 */
import {
  echoReply,
  listenModel,
  readModelRequest,
  sendError,
  type ModelHttpServer,
} from '../../src/demo-model/protocol.js';

export interface FlakyModel extends ModelHttpServer {
  /** Chat requests answered 500 so far. */
  failures(): number;
}

/** Headers of the model's answer not to copy: the proxy sends the body whole, with its own length. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding']);

export async function startFlakyModel(upstreamBaseUrl: string): Promise<FlakyModel> {
  const failed = new Set<string>();
  let seq = 0;
  const server = await listenModel(
    async (req, res, signal) => {
      seq += 1;
      const request = await readModelRequest(req, seq);
      const messages = Array.isArray(request.json?.['messages']) ? (request.json['messages'] as unknown[]) : undefined;
      const key = request.endpoint === 'chat' && messages ? echoReply(messages) : undefined;
      if (key !== undefined && !failed.has(key)) {
        failed.add(key);
        sendError(res, request.seq, { status: 500, message: 'failed on purpose, once per message (bench)' });
        return;
      }
      // The request's path after /v1, to the model's /v1.
      const answer = await fetch(`${upstreamBaseUrl}${request.path.replace(/^\/v1/, '')}`, {
        method: request.method,
        headers: Object.fromEntries(
          Object.entries(request.headers).filter(([name]) => !HOP_HEADERS.has(name) && name !== 'host'),
        ),
        ...(request.method === 'GET' || request.method === 'HEAD' ? {} : { body: request.rawBody }),
        signal,
      });
      const body = Buffer.from(await answer.arrayBuffer());
      const headers: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!HOP_HEADERS.has(name)) headers[name] = value;
      });
      res.writeHead(answer.status, { ...headers, 'content-length': body.length }).end(body);
    },
    0,
    '127.0.0.1',
  );
  return { ...server, close: () => server.close(), failures: () => failed.size };
}
