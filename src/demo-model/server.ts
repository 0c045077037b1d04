/**
 * The demo model: a small, real HTTP server that speaks just enough of the OpenAI API for the
 * official `openai` SDK to talk to it (point the client at `baseURL`). The local stack runs it when
 * no OPENAI_API_KEY is set, so chatrelay can be tried without an account; the benchmark and the
 * tests use it instead of the real service so that runs are free, offline and deterministic.
 * It is not part of the production build (tsconfig.build.json): the image never runs it.
 *
 * Default answers are derived from the request, so a test can tell what the "model" saw:
 *  - chat:           `Echo: <last user text>` (+ `(+N image[s])` when image parts were sent); a
 *                    last user text containing `#call:<tool>` calls that function tool when the
 *                    request offers it (try the handoff from a chat: `#call:handoff_to_human`)
 *  - transcriptions: the text after `TRANSCRIPT:` in the uploaded bytes, else `transcribed <n> bytes`
 *  - speech:         the bytes `FAKEAUDIO:<input>`
 * Every request is recorded, and per-endpoint queues of scripted steps let a test inject
 * failures, exact replies, delays and hangs for the next requests, or make the model call one of
 * the function tools the request offers (`callToolNext`).
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

/** Prefix of the fake speech audio; the rest is the UTF-8 input text, so tests can recognise it. */
export const FAKE_AUDIO_PREFIX = 'FAKEAUDIO:';
/** Uploaded audio starting with this (as UTF-8 text) is "transcribed" to the text that follows. */
export const TRANSCRIPT_PREFIX = 'TRANSCRIPT:';

export interface RecordedFile {
  readonly filename: string;
  readonly contentType: string;
  readonly size: number;
  readonly bytes: Buffer;
}

export type FormValue = string | RecordedFile;

export interface RecordedRequest {
  /** 1-based arrival order, stable across `reset()` so ids in responses stay unique. */
  readonly seq: number;
  readonly method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  readonly path: string;
  /** Null for requests that were answered 404. */
  readonly endpoint: ModelEndpoint | null;
  /** Lower-cased names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed body when it was a JSON object. */
  readonly json?: Readonly<Record<string, unknown>>;
  /** Multipart fields; a repeated field keeps its last value (all values are in `formEntries`). */
  readonly form?: Readonly<Record<string, FormValue>>;
  readonly formEntries?: ReadonlyArray<readonly [string, FormValue]>;
  readonly rawBody: Buffer;
  /** `Date.now()` at arrival, for asserting on gaps between retries. */
  readonly receivedAt: number;
}

export interface ErrorStep {
  readonly kind: 'error';
  readonly status: number;
  readonly message?: string;
  /** OpenAI error `type`; a sensible one is derived from the status when omitted. */
  readonly type?: string;
  readonly code?: string | null;
  /** Extra response headers, e.g. `{ 'retry-after': '2' }`. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly delayMs?: number;
}

/**
 * One scripted answer. `delayMs` replaces the server's default latency for that answer.
 * `reply.text` is the assistant content (chat), the transcript (transcriptions) or the exact
 * audio bytes as UTF-8 (speech). `hang` never answers, until the client gives up or the server closes.
 */
export type ScriptStep =
  | { readonly kind: 'default'; readonly delayMs?: number }
  | { readonly kind: 'reply'; readonly text: string; readonly delayMs?: number }
  /** Chat only: the model calls the function tool `name` (which the request must offer, or it is a 400). */
  | { readonly kind: 'tool_call'; readonly name: string; readonly arguments?: string; readonly delayMs?: number }
  | ErrorStep
  | { readonly kind: 'hang' };

export type FailOptions = Omit<ErrorStep, 'kind' | 'status'>;

/** Replaces the default chat echo; receives the (shallowly validated) request body. */
export type ChatReplyFn = (
  body: OpenAI.Chat.ChatCompletionCreateParams,
  request: RecordedRequest,
) => string | Promise<string>;

export interface DemoModelOptions {
  /** 0 (default) lets the kernel choose. */
  port?: number;
  host?: string;
  /** Delay before every answer, to imitate a slow model. */
  latencyMs?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` or get a 401. */
  apiKey?: string;
}

export interface DemoModel {
  /** `http://host:port/v1`, ready for `new OpenAI({ baseURL })`. */
  readonly baseURL: string;
  readonly port: number;
  /** Every request since start or the last `reset()`, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  readonly latencyMs: number;
  /** Requests currently being answered, and the most seen at once (for benchmarks). */
  readonly inFlight: number;
  readonly maxInFlight: number;
  requestsTo(endpoint: ModelEndpoint): RecordedRequest[];
  /** Appends steps to the endpoint's queue; each request takes one, then defaults apply. */
  script(endpoint: ModelEndpoint, ...steps: ScriptStep[]): void;
  /** The next `count` requests to `endpoint` fail with `status` and an OpenAI-style error body. */
  failNext(endpoint: ModelEndpoint, count: number, status: number, options?: FailOptions): void;
  /** The next request to `endpoint` (chat by default) answers with exactly `text`. */
  replyNext(text: string, endpoint?: ModelEndpoint): void;
  /** The next chat request calls the function tool `name` it offers (OpenAI tool calling), with `args` as JSON text. */
  callToolNext(name: string, args?: string): void;
  /** The next `count` requests to `endpoint` get their default answer after `ms`. */
  delayNext(endpoint: ModelEndpoint, ms: number, count?: number): void;
  /** The next `count` requests to `endpoint` never get an answer (client timeouts, cancellation). */
  hangNext(endpoint: ModelEndpoint, count?: number): void;
  /** Scripted steps not yet used for `endpoint`. */
  pendingSteps(endpoint: ModelEndpoint): number;
  /** Replaces the chat echo for every unscripted chat request; `null` restores the echo. */
  setReply(fn: ChatReplyFn | null): void;
  setLatency(ms: number): void;
  /**
   * Resolves once at least `count` requests (to `endpoint`, if given) have been recorded, so tests
   * can synchronise on arrival instead of sleeping. Rejects after `timeoutMs` or on `close()`.
   */
  waitForRequests(count: number, endpoint?: ModelEndpoint, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Forgets requests, scripts, the custom reply and latency changes (back to the start options). */
  reset(): void;
  /** Stops listening, aborts pending answers and destroys every socket, so no handles stay open. */
  close(): Promise<void>;
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

/** The default transcript for uploaded bytes. */
export function fakeTranscript(bytes: Uint8Array): string {
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Not UTF-8, so it cannot carry a scripted transcript; fall through to the byte count.
  }
  const scripted = text?.indexOf(TRANSCRIPT_PREFIX) ?? -1;
  // After an audio signature (fakeVoiceNote), so the bytes also pass the relay's audio sniffing.
  if (text !== undefined && scripted >= 0 && scripted <= 16) return text.slice(scripted + TRANSCRIPT_PREFIX.length);
  return `transcribed ${bytes.byteLength} bytes`;
}

/** A voice note the relay takes for audio (it starts as an Ogg file does) that the fake transcribes as `transcript`. */
export function fakeVoiceNote(transcript: string): Buffer {
  return Buffer.from(`OggS${TRANSCRIPT_PREFIX}${transcript}`, 'utf8');
}

/** The default speech audio for an input text. */
export function fakeSpeechBytes(input: string): Buffer {
  return Buffer.from(FAKE_AUDIO_PREFIX + input, 'utf8');
}

export async function startDemoModel(options: DemoModelOptions = {}): Promise<DemoModel> {
  const fake = new DemoModelServer(options);
  await fake.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return fake;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkDelay(ms: number, what: string): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${what} must be a non-negative number of ms, got ${ms}`);
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

interface Waiter {
  readonly count: number;
  readonly endpoint: ModelEndpoint | undefined;
  readonly resolve: (requests: RecordedRequest[]) => void;
  readonly reject: (error: Error) => void;
}

class DemoModelServer implements DemoModel {
  private readonly server: Server;
  private readonly initialLatencyMs: number;
  private readonly apiKey: string | undefined;
  /** One per open request; aborted when its client leaves or on close, so delayed and hanging answers release their timers. */
  private readonly open = new Set<AbortController>();
  private closed = false;
  private recorded: RecordedRequest[] = [];
  private queues = new Map<ModelEndpoint, ScriptStep[]>();
  private replyFn: ChatReplyFn | null = null;
  private latency: number;
  private waiters = new Set<Waiter>();
  private seq = 0;
  private active = 0;
  private peak = 0;
  private address: { host: string; port: number } | undefined;

  constructor(options: DemoModelOptions) {
    const latency = options.latencyMs ?? 0;
    checkDelay(latency, 'latencyMs');
    this.initialLatencyMs = latency;
    this.latency = latency;
    this.apiKey = options.apiKey;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        // A bug in the fake must be loud in the test that hit it, not a hung request.
        const message = error instanceof Error ? error.message : String(error);
        if (!res.headersSent)
          sendError(res, 0, { kind: 'error', status: 500, message: `demo-model internal error: ${message}` });
        else res.destroy();
      });
    });
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const info = this.server.address() as AddressInfo;
        this.address = { host, port: info.port };
        resolve();
      });
    });
  }

  get port(): number {
    if (!this.address) throw new Error('demo-model is not listening');
    return this.address.port;
  }

  get baseURL(): string {
    if (!this.address) throw new Error('demo-model is not listening');
    const { host, port } = this.address;
    // A wildcard bind is reachable on loopback; IPv6 literals need brackets in URLs.
    const reachable =
      host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
    return `http://${reachable}:${port}/v1`;
  }

  get requests(): readonly RecordedRequest[] {
    return this.recorded;
  }

  get latencyMs(): number {
    return this.latency;
  }

  get inFlight(): number {
    return this.active;
  }

  get maxInFlight(): number {
    return this.peak;
  }

  requestsTo(endpoint: ModelEndpoint): RecordedRequest[] {
    return this.recorded.filter((r) => r.endpoint === endpoint);
  }

  script(endpoint: ModelEndpoint, ...steps: ScriptStep[]): void {
    for (const step of steps) {
      if (step.kind !== 'hang' && step.delayMs !== undefined) checkDelay(step.delayMs, 'delayMs');
      if (step.kind === 'error' && (!Number.isInteger(step.status) || step.status < 400 || step.status > 599)) {
        throw new RangeError(`scripted error status must be 400-599, got ${step.status}`);
      }
    }
    const queue = this.queues.get(endpoint) ?? [];
    queue.push(...steps);
    this.queues.set(endpoint, queue);
  }

  failNext(endpoint: ModelEndpoint, count: number, status: number, options: FailOptions = {}): void {
    this.script(endpoint, ...Array.from({ length: count }, (): ScriptStep => ({ ...options, kind: 'error', status })));
  }

  replyNext(text: string, endpoint: ModelEndpoint = 'chat'): void {
    this.script(endpoint, { kind: 'reply', text });
  }

  callToolNext(name: string, args = '{}'): void {
    this.script('chat', { kind: 'tool_call', name, arguments: args });
  }

  delayNext(endpoint: ModelEndpoint, ms: number, count = 1): void {
    this.script(endpoint, ...Array.from({ length: count }, (): ScriptStep => ({ kind: 'default', delayMs: ms })));
  }

  hangNext(endpoint: ModelEndpoint, count = 1): void {
    this.script(endpoint, ...Array.from({ length: count }, (): ScriptStep => ({ kind: 'hang' })));
  }

  pendingSteps(endpoint: ModelEndpoint): number {
    return this.queues.get(endpoint)?.length ?? 0;
  }

  setReply(fn: ChatReplyFn | null): void {
    this.replyFn = fn;
  }

  setLatency(ms: number): void {
    checkDelay(ms, 'latency');
    this.latency = ms;
  }

  waitForRequests(count: number, endpoint?: ModelEndpoint, timeoutMs = 10_000): Promise<RecordedRequest[]> {
    const matching = (): RecordedRequest[] => (endpoint ? this.requestsTo(endpoint) : [...this.recorded]);
    const now = matching();
    if (now.length >= count) return Promise.resolve(now);
    if (this.closed) return Promise.reject(new Error('demo-model is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const seen = matching().length;
        reject(
          new Error(
            `demo-model: timed out after ${timeoutMs} ms waiting for ${count} ${endpoint ?? ''} request(s), saw ${seen}`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        count,
        endpoint,
        resolve: (requests) => {
          clearTimeout(timer);
          resolve(requests);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  reset(): void {
    this.recorded = [];
    this.queues = new Map();
    this.replyFn = null;
    this.latency = this.initialLatencyMs;
    this.peak = this.active;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const request of this.open) request.abort();
    for (const waiter of this.waiters) waiter.reject(new Error('demo-model closed'));
    this.waiters.clear();
    return new Promise((resolve, reject) => {
      this.server.close((error) => {
        // Closing twice is harmless for callers (e.g. an `after` hook plus an explicit close).
        if (error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(error);
        else resolve();
      });
      // Keep-alive sockets of the SDK's fetch would otherwise keep the process (and test) alive.
      this.server.closeAllConnections();
    });
  }

  private record(request: RecordedRequest): void {
    this.recorded.push(request);
    for (const waiter of this.waiters) {
      const matching = waiter.endpoint ? this.requestsTo(waiter.endpoint) : [...this.recorded];
      if (matching.length >= waiter.count) {
        this.waiters.delete(waiter);
        waiter.resolve(matching);
      }
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
    // Aborts waits when the client goes away, so a hung or delayed answer does not outlive it.
    const gone = new AbortController();
    this.open.add(gone);
    res.once('close', () => {
      this.active -= 1;
      this.open.delete(gone);
      gone.abort();
    });

    const path = new URL(req.url ?? '/', 'http://fake.invalid').pathname;
    const method = req.method ?? 'GET';
    const endpoint = method === 'POST' ? (ROUTES.get(path) ?? null) : null;
    const rawBody = await readBody(req);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const contentType = headers['content-type'] ?? '';
    const parsed = await parseBody(rawBody, contentType);
    this.seq += 1;
    const request: RecordedRequest = {
      seq: this.seq,
      method,
      path,
      endpoint,
      headers,
      rawBody,
      receivedAt: Date.now(),
      ...(parsed.json ? { json: parsed.json } : {}),
      ...(parsed.formEntries ? { form: Object.fromEntries(parsed.formEntries), formEntries: parsed.formEntries } : {}),
    };
    this.record(request);

    if (endpoint === null) {
      sendError(res, request.seq, {
        kind: 'error',
        status: 404,
        message: `Unknown request URL: ${method} ${path}. (demo-model)`,
      });
      return;
    }
    if (this.apiKey !== undefined && headers['authorization'] !== `Bearer ${this.apiKey}`) {
      sendError(res, request.seq, { kind: 'error', status: 401 });
      return;
    }

    const step: ScriptStep = this.queues.get(endpoint)?.shift() ?? { kind: 'default' };
    const signal = gone.signal;
    if (step.kind === 'hang') {
      if (signal.aborted) return;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    const delayMs = step.delayMs ?? this.latency;
    if (delayMs > 0) {
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        return; // client left or server closing: nobody to answer
      }
    }
    if (signal.aborted) return;
    if (step.kind === 'error') {
      sendError(res, request.seq, step);
      return;
    }

    try {
      if (parsed.error) throw new BadRequest(parsed.error);
      const override = step.kind === 'reply' ? step.text : undefined;
      const toolCall = step.kind === 'tool_call' ? step : step.kind === 'default' ? askedToolCall(request) : undefined;
      if (toolCall) {
        if (endpoint !== 'chat') throw new BadRequest(`demo-model: a tool call is a chat answer, not ${endpoint}.`);
        answerToolCall(res, request, toolCall);
      } else if (endpoint === 'chat') await this.answerChat(res, request, override);
      else if (endpoint === 'transcriptions') answerTranscription(res, request, override);
      else answerSpeech(res, request, override);
    } catch (error) {
      if (!(error instanceof BadRequest)) throw error;
      sendError(res, request.seq, { kind: 'error', status: 400, message: error.message }, error.param);
    }
  }

  private async answerChat(res: ServerResponse, request: RecordedRequest, override: string | undefined): Promise<void> {
    const body = request.json;
    if (!body) throw new BadRequest('Chat completions need a JSON body.');
    const model = requiredString(body, 'model');
    const messages = body['messages'];
    if (!Array.isArray(messages) || messages.length === 0)
      throw new BadRequest("'messages' must be a non-empty array.", 'messages');
    if (body['stream'] === true)
      throw new BadRequest('demo-model does not implement streaming chat completions.', 'stream');
    // Only model and messages are checked; the cast gives reply functions the SDK's own types to read with.
    const params = body as unknown as OpenAI.Chat.ChatCompletionCreateParams;
    const content = override ?? (this.replyFn ? await this.replyFn(params, request) : echoReply(messages));
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
}

/** A chat completion answering `request` with one choice. */
function chatCompletion(
  request: RecordedRequest,
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

/** `#call:<tool>` in the last user text, for a tool the request offers: the default answer is that call. */
function askedToolCall(request: RecordedRequest): Extract<ScriptStep, { kind: 'tool_call' }> | undefined {
  const body = request.json;
  if (request.endpoint !== 'chat' || !body || !Array.isArray(body['tools'])) return undefined;
  const messages = Array.isArray(body['messages']) ? (body['messages'] as unknown[]) : [];
  const name = /#call:([\w-]+)/.exec(echoReply(messages))?.[1];
  return name !== undefined && offersTool(body, name) ? { kind: 'tool_call', name } : undefined;
}

function offersTool(body: Readonly<Record<string, unknown>>, name: string): boolean {
  const tools = Array.isArray(body['tools']) ? (body['tools'] as unknown[]) : [];
  return tools.some((tool) => isRecord(tool) && isRecord(tool['function']) && tool['function']['name'] === name);
}

/** The model calls a function tool: as the real API, only one the request offers. */
function answerToolCall(
  res: ServerResponse,
  request: RecordedRequest,
  step: Extract<ScriptStep, { kind: 'tool_call' }>,
): void {
  const body = request.json;
  if (!body) throw new BadRequest('Chat completions need a JSON body.');
  const model = requiredString(body, 'model');
  if (!offersTool(body, step.name))
    throw new BadRequest(`The request offers no function tool named '${step.name}'.`, 'tools');
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
          function: { name: step.name, arguments: step.arguments ?? '{}' },
        },
      ],
    },
    'tool_calls',
    { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  );
  sendJson(res, 200, completion, request.seq);
}

function sendError(res: ServerResponse, seq: number, step: ErrorStep, param: string | null = null): void {
  const fallback = defaultErrorShape(step.status);
  const body = {
    error: {
      message: step.message ?? fallback.message,
      type: step.type ?? fallback.type,
      param,
      code: step.code === undefined ? fallback.code : step.code,
    },
  };
  for (const [name, value] of Object.entries(step.headers ?? {})) res.setHeader(name, value);
  sendJson(res, step.status, body, seq);
}

function answerTranscription(res: ServerResponse, request: RecordedRequest, override: string | undefined): void {
  const form = request.form;
  if (!form) throw new BadRequest('Transcriptions need a multipart/form-data body.');
  requiredString(form, 'model');
  const file = form['file'];
  if (file === undefined || typeof file === 'string')
    throw new BadRequest("Missing required parameter: 'file'.", 'file');
  const text = override ?? fakeTranscript(file.bytes);
  const format = form['response_format'];
  if (format === undefined || format === 'json') {
    sendJson(res, 200, { text }, request.seq);
  } else if (format === 'verbose_json') {
    sendJson(res, 200, { task: 'transcribe', language: 'english', duration: 0, text, segments: [] }, request.seq);
  } else if (format === 'text' || format === 'srt' || format === 'vtt') {
    // Subtitle formats get the bare text: enough for callers that only pass the string through.
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-request-id': `req_fake_${request.seq}` });
    res.end(`${text}\n`);
  } else {
    throw new BadRequest(
      `Unsupported response_format: ${typeof format === 'string' ? format : 'file'}.`,
      'response_format',
    );
  }
}

function answerSpeech(res: ServerResponse, request: RecordedRequest, override: string | undefined): void {
  const body = request.json;
  if (!body) throw new BadRequest('Speech needs a JSON body.');
  requiredString(body, 'model');
  requiredString(body, 'voice');
  const input = requiredString(body, 'input');
  const format = body['response_format'] ?? 'mp3';
  const contentType = typeof format === 'string' ? SPEECH_CONTENT_TYPES[format] : undefined;
  if (!contentType) throw new BadRequest(`Unsupported response_format: ${JSON.stringify(format)}.`, 'response_format');
  const audio = override === undefined ? fakeSpeechBytes(input) : Buffer.from(override, 'utf8');
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

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface ParsedBody {
  json?: Record<string, unknown>;
  formEntries?: Array<readonly [string, FormValue]>;
  /** Why the body could not be parsed; reported as a 400 unless a scripted step answers first. */
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
