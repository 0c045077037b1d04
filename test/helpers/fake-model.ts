/**
 * The tests' fake model API: a real HTTP server speaking the OpenAI protocol of the demo model
 * (src/demo-model/protocol.ts: chat completions, audio transcriptions and speech, the same default
 * answers), plus what only tests need. It records every request, and per-endpoint queues of
 * scripted steps make the next requests fail, answer an exact text or a tool call, or wait; the
 * latency and the chat answer can be changed while it runs.
 *
 * One default differs from the demo model's: uploaded bytes holding `TRANSCRIPT:<text>` (see
 * fakeVoiceNote) are transcribed as `<text>`, so a test chooses what a voice note says.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  checkDelay,
  listenModel,
  pause,
  readModelRequest,
  requestedToolCall,
  respond,
  sendError,
  uploadedFile,
  type Answer,
  type ErrorAnswer,
  type ModelEndpoint,
  type ModelHttpServer,
  type ModelRequest,
} from '../../src/demo-model/protocol.js';

export { FAKE_AUDIO_PREFIX, type ModelEndpoint, type RecordedFile } from '../../src/demo-model/protocol.js';

/** A request as the fake saw it; `seq` is stable across `reset()`, so ids in responses stay unique. */
export type RecordedRequest = ModelRequest;

/** Uploaded audio starting with this (as UTF-8 text, after an audio signature) is "transcribed" to the text that follows. */
const TRANSCRIPT_PREFIX = 'TRANSCRIPT:';

/** A voice note the relay takes for audio (it starts as an Ogg file does) that the fake transcribes as `transcript`. */
export function fakeVoiceNote(transcript: string): Buffer {
  return Buffer.from(`OggS${TRANSCRIPT_PREFIX}${transcript}`, 'utf8');
}

/** The transcript a fakeVoiceNote carries, if the upload is one. */
function scriptedTranscript(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined; // not UTF-8, so it cannot carry a transcript
  }
  const at = text.indexOf(TRANSCRIPT_PREFIX);
  // After an audio signature (fakeVoiceNote), so the bytes also pass the relay's audio sniffing.
  return at >= 0 && at <= 16 ? text.slice(at + TRANSCRIPT_PREFIX.length) : undefined;
}

/** One scripted answer; `delayMs` replaces the fake's latency for it. */
type ScriptStep = (Answer | ({ readonly kind: 'error' } & ErrorAnswer)) & { readonly delayMs?: number };

export type FailOptions = Omit<ErrorAnswer, 'status'>;

/** Replaces the default chat answer (not a `#call:` tool call); gets the request. */
export type ChatReplyFn = (request: RecordedRequest) => string | Promise<string>;

export interface FakeModelOptions {
  /** Delay before every answer, to imitate a slow model. */
  latencyMs?: number;
}

export interface FakeModel {
  /** `http://127.0.0.1:port/v1`, ready for `new OpenAI({ baseURL })`. */
  readonly baseURL: string;
  readonly port: number;
  /** Every request since start or the last `reset()`, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  readonly latencyMs: number;
  /** Requests currently being answered, and the most seen at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  requestsTo(endpoint: ModelEndpoint): RecordedRequest[];
  /** The next `count` requests to `endpoint` fail with `status` and an OpenAI-style error body. */
  failNext(endpoint: ModelEndpoint, count: number, status: number, options?: FailOptions): void;
  /** The next request to `endpoint` (chat by default) answers with exactly `text`. */
  replyNext(text: string, endpoint?: ModelEndpoint): void;
  /** The next chat request calls the function tool `name` it offers (OpenAI tool calling), with `args` as JSON text. */
  callToolNext(name: string, args?: string): void;
  /** The next `count` requests to `endpoint` get their default answer after `ms`. */
  delayNext(endpoint: ModelEndpoint, ms: number, count?: number): void;
  /** Scripted steps not yet used for `endpoint`. */
  pendingSteps(endpoint: ModelEndpoint): number;
  /** Replaces the chat answer for every unscripted chat request; `null` restores the echo. */
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

interface Waiter {
  readonly count: number;
  readonly endpoint: ModelEndpoint | undefined;
  readonly resolve: (requests: RecordedRequest[]) => void;
  readonly reject: (error: Error) => void;
}

export async function startFakeModel(options: FakeModelOptions = {}): Promise<FakeModel> {
  const fake = new Fake(options.latencyMs ?? 0);
  fake.server = await listenModel((req, res, signal) => fake.handle(req, res, signal), 0, '127.0.0.1');
  return fake;
}

class Fake implements FakeModel {
  server: ModelHttpServer | undefined;
  private closed = false;
  private recorded: RecordedRequest[] = [];
  private queues = new Map<ModelEndpoint, ScriptStep[]>();
  private replyFn: ChatReplyFn | null = null;
  private latency: number;
  private waiters = new Set<Waiter>();
  private seq = 0;
  private active = 0;
  private peak = 0;

  constructor(private readonly initialLatencyMs: number) {
    checkDelay(initialLatencyMs, 'latencyMs');
    this.latency = initialLatencyMs;
  }

  private get listening(): ModelHttpServer {
    if (!this.server) throw new Error('fake model is not listening');
    return this.server;
  }

  get baseURL(): string {
    return this.listening.baseURL;
  }

  get port(): number {
    return this.listening.port;
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

  private script(endpoint: ModelEndpoint, steps: ScriptStep[]): void {
    for (const step of steps) {
      if (step.delayMs !== undefined) checkDelay(step.delayMs, 'delayMs');
      if (step.kind === 'error' && (!Number.isInteger(step.status) || step.status < 400 || step.status > 599)) {
        throw new RangeError(`scripted error status must be 400-599, got ${step.status}`);
      }
    }
    this.queues.set(endpoint, [...(this.queues.get(endpoint) ?? []), ...steps]);
  }

  failNext(endpoint: ModelEndpoint, count: number, status: number, options: FailOptions = {}): void {
    this.script(
      endpoint,
      Array.from({ length: count }, (): ScriptStep => ({ ...options, kind: 'error', status })),
    );
  }

  replyNext(text: string, endpoint: ModelEndpoint = 'chat'): void {
    this.script(endpoint, [{ kind: 'reply', text }]);
  }

  callToolNext(name: string, args = '{}'): void {
    this.script('chat', [{ kind: 'tool_call', name, arguments: args }]);
  }

  delayNext(endpoint: ModelEndpoint, ms: number, count = 1): void {
    this.script(
      endpoint,
      Array.from({ length: count }, (): ScriptStep => ({ kind: 'default', delayMs: ms })),
    );
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
    if (this.closed) return Promise.reject(new Error('fake model is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const seen = matching().length;
        reject(
          new Error(
            `fake model: timed out after ${timeoutMs} ms waiting for ${count} ${endpoint ?? ''} request(s), saw ${seen}`,
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

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters) waiter.reject(new Error('fake model closed'));
    this.waiters.clear();
    await this.server?.close();
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

  async handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
    res.once('close', () => {
      this.active -= 1;
    });
    this.seq += 1;
    const request = await readModelRequest(req, this.seq);
    this.record(request);
    const { endpoint } = request;
    if (endpoint === null) {
      respond(res, request, { kind: 'default' });
      return;
    }
    const step: ScriptStep = this.queues.get(endpoint)?.shift() ?? { kind: 'default' };
    if (!(await pause(step.delayMs ?? this.latency, signal))) return;
    if (step.kind === 'error') sendError(res, request.seq, step);
    else respond(res, request, step.kind === 'default' ? await this.defaultAnswer(request) : step);
  }

  /** The demo model's default, but with a fakeVoiceNote's transcript and the reply set by `setReply`. */
  private async defaultAnswer(request: RecordedRequest): Promise<Answer> {
    const file = request.endpoint === 'transcriptions' ? uploadedFile(request) : undefined;
    const transcript = file && scriptedTranscript(file.bytes);
    if (transcript !== undefined) return { kind: 'reply', text: transcript };
    if (request.endpoint === 'chat' && this.replyFn && !requestedToolCall(request))
      return { kind: 'reply', text: await this.replyFn(request) };
    return { kind: 'default' };
  }
}
