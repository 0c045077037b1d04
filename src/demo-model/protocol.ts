/**
 * The OpenAI protocol of the demo model: just enough of chat completions, audio transcriptions and
 * audio speech for the official `openai` SDK to talk to it, as a small HTTP server core. The demo
 * model (server.ts) answers every request with its default answer through it; the tests' fake
 * model (test/helpers/fake-model.ts) answers through the same core, so both speak the same protocol.
 *
 * Default answers are derived from the request:
 *  - chat:           `Echo: <last user text>` (+ `(+N image[s])` when image parts were sent); a
 *                    last user text containing `#call:<tool>` calls that function tool when the
 *                    request offers it (try the handoff from a chat: `#call:handoff_to_human`)
 *  - transcriptions: `transcribed <n> bytes`
 *  - speech:         the bytes `FAKEAUDIO:<input>`
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type OpenAI from 'openai';

export type ModelEndpoint = 'chat' | 'transcriptions' | 'speech';

const ROUTES: ReadonlyMap<string, ModelEndpoint> = new Map([
  ['/v1/chat/completions', 'chat'],
  ['/v1/audio/transcriptions', 'transcriptions'],
  ['/v1/audio/speech', 'speech'],
]);

/** Prefix of the demo speech audio; the rest is the UTF-8 input text, so it can be recognised. */
export const FAKE_AUDIO_PREFIX = 'FAKEAUDIO:';

export interface RecordedFile {
  readonly filename: string;
  readonly contentType: string;
  readonly size: number;
  readonly bytes: Buffer;
}

export type FormValue = string | RecordedFile;

/** One request as read off the wire. */
export interface ModelRequest {
  /** 1-based arrival order, so ids in responses are unique. */
  readonly seq: number;
  readonly method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  readonly path: string;
  /** Null for requests that are answered 404. */
  readonly endpoint: ModelEndpoint | null;
  /** Lower-cased names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed body when it was a JSON object. */
  readonly json?: Readonly<Record<string, unknown>>;
  /** Multipart fields; a repeated field keeps its last value (all values are in `formEntries`). */
  readonly form?: Readonly<Record<string, FormValue>>;
  readonly formEntries?: ReadonlyArray<readonly [string, FormValue]>;
  readonly rawBody: Buffer;
  /** Why the body could not be parsed; answered with a 400. */
  readonly bodyError?: string;
  /** `Date.now()` at arrival. */
  readonly receivedAt: number;
}

/** What to answer a routed request with: its default answer, an exact text, or a call of a function tool (chat). */
export type Answer =
  | { readonly kind: 'default' }
  /** The assistant content (chat), the transcript (transcriptions) or the exact audio bytes as UTF-8 (speech). */
  | { readonly kind: 'reply'; readonly text: string }
  /** Chat only: the model calls the function tool `name` (which the request must offer, or it is a 400). */
  | { readonly kind: 'tool_call'; readonly name: string; readonly arguments?: string };

/** An OpenAI-style error answer. */
export interface ErrorAnswer {
  readonly status: number;
  readonly message?: string;
  /** OpenAI error `type`; a sensible one is derived from the status when omitted. */
  readonly type?: string;
  readonly code?: string | null;
  /** Extra response headers, e.g. `{ 'retry-after': '2' }`. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The default chat answer for a request body: `Echo: <last user text>[ (+N image[s])]`. */
export function echoReply(messages: readonly unknown[]): string {
  let lastUser: unknown;
  for (const message of messages) {
    if (isRecord(message) && message['role'] === 'user') lastUser = message;
  }
  if (!isRecord(lastUser)) return 'Echo: (no user message)';
  const content = lastUser['content'];
  if (typeof content === 'string') return `Echo: ${content}`;
  const texts: string[] = [];
  let images = 0;
  if (Array.isArray(content)) {
    for (const part of content) {
      if (!isRecord(part)) continue;
      if (part['type'] === 'text' && typeof part['text'] === 'string') texts.push(part['text']);
      else if (part['type'] === 'image_url') images += 1;
    }
  }
  const imageNote = images === 0 ? '' : `(+${images} image${images === 1 ? '' : 's'})`;
  return `Echo: ${[texts.join(' '), imageNote].filter((piece) => piece.length > 0).join(' ')}`;
}

/** The default speech audio for an input text. */
export function fakeSpeechBytes(input: string): Buffer {
  return Buffer.from(FAKE_AUDIO_PREFIX + input, 'utf8');
}

/** The uploaded file of a transcription request, if it has one. */
export function uploadedFile(request: ModelRequest): RecordedFile | undefined {
  const file = request.form?.['file'];
  return file === undefined || typeof file === 'string' ? undefined : file;
}

/** `#call:<tool>` in the last user text of a chat request, for a tool the request offers: the default answer is that call. */
export function requestedToolCall(request: ModelRequest): Extract<Answer, { kind: 'tool_call' }> | undefined {
  const body = request.json;
  if (request.endpoint !== 'chat' || !body || !Array.isArray(body['tools'])) return undefined;
  const messages = Array.isArray(body['messages']) ? (body['messages'] as unknown[]) : [];
  const name = /#call:([\w-]+)/.exec(echoReply(messages))?.[1];
  return name !== undefined && offersTool(body, name) ? { kind: 'tool_call', name } : undefined;
}

/** Whether `Authorization` carries `apiKey` as a Bearer token. */
export function authorized(request: ModelRequest, apiKey: string): boolean {
  return request.headers['authorization'] === `Bearer ${apiKey}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Waits `ms`; false when `signal` aborted first (the client left or the server is closing: nobody to answer). */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms > 0) {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      return false;
    }
  }
  return !signal.aborted;
}

export function checkDelay(ms: number, what: string): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${what} must be a non-negative number of ms, got ${ms}`);
}

/**
 * Answers a request: 404 for an unknown route, 400 for a body the real API would refuse, else
 * `answer` in the endpoint's response format.
 */
export function respond(res: ServerResponse, request: ModelRequest, answer: Answer): void {
  const { endpoint } = request;
  if (endpoint === null) {
    sendError(res, request.seq, {
      status: 404,
      message: `Unknown request URL: ${request.method} ${request.path}. (demo-model)`,
    });
    return;
  }
  try {
    if (request.bodyError !== undefined) throw new BadRequest(request.bodyError);
    const toolCall =
      answer.kind === 'tool_call' ? answer : answer.kind === 'default' ? requestedToolCall(request) : undefined;
    const text = answer.kind === 'reply' ? answer.text : undefined;
    if (toolCall) {
      if (endpoint !== 'chat') throw new BadRequest(`demo-model: a tool call is a chat answer, not ${endpoint}.`);
      answerToolCall(res, request, toolCall);
    } else if (endpoint === 'chat') answerChat(res, request, text);
    else if (endpoint === 'transcriptions') answerTranscription(res, request, text);
    else answerSpeech(res, request, text);
  } catch (error) {
    if (!(error instanceof BadRequest)) throw error;
    sendError(res, request.seq, { status: 400, message: error.message }, error.param);
  }
}

/** Mirrors the `type`/`code` pairs the real API sends, so SDK error classes and handlers see familiar values. */
function defaultErrorShape(status: number): { type: string; code: string | null; message: string } {
  if (status === 401)
    return { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' };
  if (status === 403) return { type: 'permission_error', code: null, message: 'You are not allowed to do this.' };
  if (status === 404) return { type: 'invalid_request_error', code: 'unknown_url', message: 'Unknown request URL.' };
  if (status === 429) return { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached (fake).' };
  if (status >= 500) return { type: 'server_error', code: null, message: 'The server had an error (fake).' };
  return { type: 'invalid_request_error', code: null, message: `Request failed with status ${status} (fake).` };
}

const SPEECH_CONTENT_TYPES: Readonly<Record<string, string>> = {
  mp3: 'audio/mpeg',
  opus: 'audio/ogg',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};

/** Thrown while interpreting a request; becomes a 400 with the message, like the real API's validation. */
class BadRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** A parameter the real API requires, as a non-empty string; a 400 naming it otherwise. */
function requiredString(fields: Readonly<Record<string, unknown>>, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.length === 0)
    throw new BadRequest(`Missing required parameter: '${name}'.`, name);
  return value;
}

function answerChat(res: ServerResponse, request: ModelRequest, text: string | undefined): void {
  const body = request.json;
  if (!body) throw new BadRequest('Chat completions need a JSON body.');
  const model = requiredString(body, 'model');
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0)
    throw new BadRequest("'messages' must be a non-empty array.", 'messages');
  if (body['stream'] === true)
    throw new BadRequest('demo-model does not implement streaming chat completions.', 'stream');
  const content = text ?? echoReply(messages);
  // Rough but deterministic token counts (about 4 characters per token), so usage accounting has numbers to sum.
  const promptTokens = Math.ceil(JSON.stringify(messages).length / 4);
  const completionTokens = Math.max(1, Math.ceil(content.length / 4));
  const completion = chatCompletion(request, model, { role: 'assistant', content, refusal: null }, 'stop', {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  });
  sendJson(res, 200, completion, request.seq);
}

/** A chat completion answering `request` with one choice. */
function chatCompletion(
  request: ModelRequest,
  model: string,
  message: OpenAI.Chat.ChatCompletionMessage,
  finishReason: OpenAI.Chat.ChatCompletion.Choice['finish_reason'],
  usage: OpenAI.CompletionUsage,
): OpenAI.Chat.ChatCompletion {
  return {
    id: `chatcmpl-fake-${request.seq}`,
    object: 'chat.completion',
    created: Math.floor(request.receivedAt / 1000),
    model,
    system_fingerprint: 'fp_fake_openai',
    choices: [{ index: 0, message, finish_reason: finishReason, logprobs: null }],
    usage,
  };
}

function offersTool(body: Readonly<Record<string, unknown>>, name: string): boolean {
  const tools = Array.isArray(body['tools']) ? (body['tools'] as unknown[]) : [];
  return tools.some((tool) => isRecord(tool) && isRecord(tool['function']) && tool['function']['name'] === name);
}

/** The model calls a function tool: as the real API, only one the request offers. */
function answerToolCall(
  res: ServerResponse,
  request: ModelRequest,
  call: Extract<Answer, { kind: 'tool_call' }>,
): void {
  const body = request.json;
  if (!body) throw new BadRequest('Chat completions need a JSON body.');
  const model = requiredString(body, 'model');
  if (!offersTool(body, call.name))
    throw new BadRequest(`The request offers no function tool named '${call.name}'.`, 'tools');
  const completion = chatCompletion(
    request,
    model,
    {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        {
          id: `call_fake_${request.seq}`,
          type: 'function',
          function: { name: call.name, arguments: call.arguments ?? '{}' },
        },
      ],
    },
    'tool_calls',
    { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  );
  sendJson(res, 200, completion, request.seq);
}

/** An OpenAI-style error body with `status`. */
export function sendError(res: ServerResponse, seq: number, error: ErrorAnswer, param: string | null = null): void {
  const fallback = defaultErrorShape(error.status);
  const body = {
    error: {
      message: error.message ?? fallback.message,
      type: error.type ?? fallback.type,
      param,
      code: error.code === undefined ? fallback.code : error.code,
    },
  };
  for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
  sendJson(res, error.status, body, seq);
}

function answerTranscription(res: ServerResponse, request: ModelRequest, text: string | undefined): void {
  const form = request.form;
  if (!form) throw new BadRequest('Transcriptions need a multipart/form-data body.');
  requiredString(form, 'model');
  const file = uploadedFile(request);
  if (file === undefined) throw new BadRequest("Missing required parameter: 'file'.", 'file');
  const transcript = text ?? `transcribed ${file.size} bytes`;
  const format = form['response_format'];
  if (format === undefined || format === 'json') {
    sendJson(res, 200, { text: transcript }, request.seq);
  } else if (format === 'verbose_json') {
    sendJson(
      res,
      200,
      { task: 'transcribe', language: 'english', duration: 0, text: transcript, segments: [] },
      request.seq,
    );
  } else if (format === 'text' || format === 'srt' || format === 'vtt') {
    // Subtitle formats get the bare text: enough for callers that only pass the string through.
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-request-id': `req_fake_${request.seq}` });
    res.end(`${transcript}\n`);
  } else {
    throw new BadRequest(
      `Unsupported response_format: ${typeof format === 'string' ? format : 'file'}.`,
      'response_format',
    );
  }
}

function answerSpeech(res: ServerResponse, request: ModelRequest, text: string | undefined): void {
  const body = request.json;
  if (!body) throw new BadRequest('Speech needs a JSON body.');
  requiredString(body, 'model');
  requiredString(body, 'voice');
  const input = requiredString(body, 'input');
  const format = body['response_format'] ?? 'mp3';
  const contentType = typeof format === 'string' ? SPEECH_CONTENT_TYPES[format] : undefined;
  if (!contentType) throw new BadRequest(`Unsupported response_format: ${JSON.stringify(format)}.`, 'response_format');
  const audio = text === undefined ? fakeSpeechBytes(input) : Buffer.from(text, 'utf8');
  res.writeHead(200, {
    'content-type': contentType,
    'content-length': audio.byteLength,
    'x-request-id': `req_fake_${request.seq}`,
  });
  res.end(audio);
}

function sendJson(res: ServerResponse, status: number, body: unknown, seq: number): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    // The SDK surfaces this as `request_id` / `error.requestID`; handy when a test logs a failure.
    'x-request-id': `req_fake_${seq}`,
  });
  res.end(text);
}

/** Reads a request off the wire: its route, headers and parsed body. */
export async function readModelRequest(req: IncomingMessage, seq: number): Promise<ModelRequest> {
  const path = new URL(req.url ?? '/', 'http://fake.invalid').pathname;
  const method = req.method ?? 'GET';
  const endpoint = method === 'POST' ? (ROUTES.get(path) ?? null) : null;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const rawBody = Buffer.concat(chunks);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const parsed = await parseBody(rawBody, headers['content-type'] ?? '');
  return {
    seq,
    method,
    path,
    endpoint,
    headers,
    rawBody,
    receivedAt: Date.now(),
    ...(parsed.json ? { json: parsed.json } : {}),
    ...(parsed.formEntries ? { form: Object.fromEntries(parsed.formEntries), formEntries: parsed.formEntries } : {}),
    ...(parsed.error !== undefined ? { bodyError: parsed.error } : {}),
  };
}

interface ParsedBody {
  json?: Record<string, unknown>;
  formEntries?: Array<readonly [string, FormValue]>;
  error?: string;
}

async function parseBody(raw: Buffer, contentType: string): Promise<ParsedBody> {
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/json') {
    let value: unknown;
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      return { error: 'We could not parse the JSON body of your request.' };
    }
    return isRecord(value) ? { json: value } : { error: 'The JSON body must be an object.' };
  }
  if (mediaType === 'multipart/form-data') {
    try {
      // Node's fetch Request implements the multipart parser; no need for a hand-written one.
      const form = await new Request('http://fake.invalid/', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: raw,
      }).formData();
      const entries: Array<readonly [string, FormValue]> = [];
      for (const [name, value] of form) {
        if (typeof value === 'string') {
          entries.push([name, value]);
        } else {
          const bytes = Buffer.from(await value.arrayBuffer());
          entries.push([name, { filename: value.name, contentType: value.type, size: bytes.byteLength, bytes }]);
        }
      }
      return { formEntries: entries };
    } catch (error) {
      return { error: `Could not parse multipart body: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return {};
}

/** Answers one request; `signal` aborts when its client leaves or the server closes. */
export type ModelHandler = (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => Promise<void>;

export interface ModelHttpServer {
  /** `http://host:port/v1`, ready for `new OpenAI({ baseURL })`. */
  readonly baseURL: string;
  readonly port: number;
  /** Stops listening, aborts pending answers and destroys every socket, so no handles stay open. */
  close(): Promise<void>;
}

/** Listens on `host:port` (0: the kernel chooses) and answers every request with `handle`. */
export async function listenModel(handle: ModelHandler, port: number, host: string): Promise<ModelHttpServer> {
  const open = new Set<AbortController>();
  const server: Server = createServer((req, res) => {
    const gone = new AbortController();
    open.add(gone);
    res.once('close', () => {
      open.delete(gone);
      gone.abort();
    });
    handle(req, res, gone.signal).catch((error: unknown) => {
      // A bug must be loud in the request that hit it, not a hung request.
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) sendError(res, 0, { status: 500, message: `demo-model internal error: ${message}` });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  // A wildcard bind is reachable on loopback; IPv6 literals need brackets in URLs.
  const reachable =
    host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return {
    baseURL: `http://${reachable}:${bound}/v1`,
    port: bound,
    close: () => {
      for (const request of open) request.abort();
      return new Promise((resolve, reject) => {
        server.close((error) => {
          // Closing twice is harmless for callers (e.g. an `after` hook plus an explicit close).
          if (error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(error);
          else resolve();
        });
        // Keep-alive sockets of the SDK's fetch would otherwise keep the process (and test) alive.
        server.closeAllConnections();
      });
    },
  };
}
