/**
 * The workload and the open-loop load generator.
 *
 * The plan is deterministic (seeded): message i is sent at i/rate seconds, to chat i mod chats, and
 * is "long" for a seeded random fraction of messages. The fake model echoes the user's text
 * (`Echo: <text>`), so a long text gives a long reply that the channel's max_message_length splits
 * into several parts, and the number of parts each message must produce is known in advance.
 *
 * Open loop: sends follow the timetable whatever the answers; a slow answer never delays the next send.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildReplyParts } from '../../src/domain/reply-parts.js';

/** The client id of the benchmark's chat `chat` in phase `tag`. */
export const benchClientId = (tag: string, chat: number): string => `bench-${tag}-c${chat}`;

export interface WorkloadOptions {
  rate: number;
  count: number;
  chats: number;
  longRatio: number;
  /** Length of a long message's text. */
  longChars: number;
  maxMessageLength: number;
  seed: number;
  /** Keeps client and message ids of different phases and runs apart. */
  tag: string;
}

export interface PlannedMessage {
  index: number;
  chat: number;
  clientId: string;
  clientMessageId: string;
  text: string;
  /** A voice note's URL (--feature voice-in): sent instead of the text. */
  audio?: string;
  long: boolean;
  /** Parts the echoed reply splits into (buildReplyParts of `Echo: <text>`). */
  expectedParts: number;
  /** When to send, from the start of the phase. */
  offsetMs: number;
}

/** mulberry32: a small seeded PRNG, so a plan can be reproduced exactly. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SENTENCES = [
  'The quick brown fox jumps over the lazy dog near the river bank.',
  'Benchmarks should measure what users feel, not what is easy to count.',
  'Every reply part must arrive once, in order, even when the load is high.',
  'Durable workflows trade a little latency for never losing a message.',
  'A webhook receiver answers quickly and leaves the heavy work for later.',
  'Splitting long replies keeps each message within the channel limit.',
];

function longText(index: number, length: number, next: () => number): string {
  let text = `Long message ${index}.`;
  while (text.length < length) text += ` ${SENTENCES[Math.floor(next() * SENTENCES.length)] ?? ''}`;
  return text.slice(0, length).trimEnd();
}

export function planWorkload(options: WorkloadOptions): PlannedMessage[] {
  const next = random(options.seed);
  const plan: PlannedMessage[] = [];
  for (let index = 0; index < options.count; index++) {
    const chat = index % options.chats;
    const long = next() < options.longRatio;
    const text = long
      ? longText(index, options.longChars, next)
      : `Message ${index} in chat ${chat}: how are you today?`;
    plan.push({
      index,
      chat,
      clientId: benchClientId(options.tag, chat),
      clientMessageId: `${options.tag}-m${index}`,
      text,
      long,
      expectedParts: buildReplyParts(`Echo: ${text}`, options.maxMessageLength).length,
      offsetMs: (index * 1000) / options.rate,
    });
  }
  return plan;
}

export interface SendRecord {
  planned: PlannedMessage;
  /** performance.now() timestamps. */
  scheduledAt: number;
  sentAt: number;
  ackAt?: number;
  status?: number;
  error?: string;
  messageId?: string;
  workflowId?: string;
  duplicate?: boolean;
}

export interface Target {
  /** Base URL of the API (or the baseline), e.g. http://127.0.0.1:8080. */
  url: string;
  token: string;
  pageId: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 512, keepAliveMsecs: 10_000 });

/** One POST /webhook/mychatbot; resolves with the record completed (never rejects). */
export function sendOne(
  target: Target,
  message: PlannedMessage,
  scheduledAt: number,
  timeoutMs = 30_000,
): Promise<SendRecord> {
  const body = JSON.stringify({
    client_id: message.clientId,
    page_id: target.pageId,
    platform: 'Benchmark',
    client_name: `Bench user ${message.chat}`,
    ...(message.audio !== undefined ? { audio: message.audio } : { text: message.text }),
    message_id: message.clientMessageId,
  });
  const record: SendRecord = { planned: message, scheduledAt, sentAt: performance.now() };
  return new Promise((resolve) => {
    const request = http.request(
      `${target.url}/webhook/mychatbot`,
      {
        method: 'POST',
        agent,
        timeout: timeoutMs,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${target.token}`,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          record.ackAt = performance.now();
          record.status = response.statusCode ?? 0;
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            if (typeof parsed.message_id === 'string') record.messageId = parsed.message_id;
            if (typeof parsed.workflow_id === 'string') record.workflowId = parsed.workflow_id;
            if (typeof parsed.duplicate === 'boolean') record.duplicate = parsed.duplicate;
            if (record.status !== 200) record.error = `HTTP ${record.status}: ${JSON.stringify(parsed).slice(0, 200)}`;
          } catch {
            record.error = `HTTP ${record.status}: unparsable body`;
          }
          resolve(record);
        });
        response.on('error', (error) => {
          record.error = error.message;
          resolve(record);
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (error) => {
      record.error ??= error.message;
      resolve(record);
    });
    request.end(body);
  });
}

/**
 * Sends the plan on its timetable (open loop) and resolves when every POST has been answered.
 * `shouldStop` is checked before each send, so Ctrl-C stops the load at once.
 */
export async function runOpenLoop(
  target: Target,
  plan: readonly PlannedMessage[],
  shouldStop: () => boolean = () => false,
): Promise<SendRecord[]> {
  const start = performance.now() + 20;
  const pending: Array<Promise<SendRecord>> = [];
  for (const message of plan) {
    if (shouldStop()) break;
    const scheduledAt = start + message.offsetMs;
    const wait = scheduledAt - performance.now();
    if (wait >= 1) await sleep(wait);
    pending.push(sendOne(target, message, scheduledAt));
  }
  return Promise.all(pending);
}

export function closeLoadAgent(): void {
  agent.destroy();
}
