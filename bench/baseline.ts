/**
 * The non-durable baseline chatrelay is compared with: the least a webhook-to-model relay can do.
 *
 * One Express process that validates the request with the same zod schema as chatrelay, answers
 * at once, then (in memory, so a crash loses the message) asks the same fake model with the same
 * openai SDK, keeps the last messages of each chat in a Map, splits the reply with the same
 * buildReplyParts and POSTs each part, in order, to the receiver with the same headers.
 *
 * Environment: PORT (0 = any), BASELINE_TOKEN, BASELINE_REPLY_URL, OPENAI_BASE_URL, OPENAI_API_KEY,
 * BASELINE_MAX_MESSAGE_LENGTH (2000), BASELINE_REPLY_DELAY_S (0), BASELINE_HISTORY (20),
 * BASELINE_MODEL (gpt-4o-mini). Prints `{"url":"http://127.0.0.1:PORT"}` once listening.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { inboundMessageSchema, type InboundMessage } from '../src/domain/inbound.js';
import { buildReplyParts } from '../src/domain/reply-parts.js';
import { randomId, stableId } from '../src/lib/secrets.js';

const env = process.env;
const required = (name: string): string => {
  const value = env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const token = required('BASELINE_TOKEN');
const replyUrl = required('BASELINE_REPLY_URL');
const maxMessageLength = Number(env.BASELINE_MAX_MESSAGE_LENGTH ?? 2000);
const replyDelayMs = Number(env.BASELINE_REPLY_DELAY_S ?? 0) * 1000;
const historyLimit = Number(env.BASELINE_HISTORY ?? 20);
const model = env.BASELINE_MODEL ?? 'gpt-4o-mini';
const systemPrompt = 'You are a helpful assistant.';

const openai = new OpenAI({
  apiKey: required('OPENAI_API_KEY'),
  baseURL: required('OPENAI_BASE_URL'),
  maxRetries: 2,
  timeout: 60_000,
});
const schema = inboundMessageSchema();
const histories = new Map<string, ChatCompletionMessageParam[]>();

function remember(chat: string, entry: ChatCompletionMessageParam): ChatCompletionMessageParam[] {
  const history = histories.get(chat) ?? [];
  history.push(entry);
  if (history.length > historyLimit) history.splice(0, history.length - historyLimit);
  histories.set(chat, history);
  return history;
}

async function post(body: string, headers: Record<string, string>): Promise<void> {
  // A few quick in-memory retries: whatever is still failing after them is lost.
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(replyUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'user-agent': 'chatrelay-baseline',
          ...headers,
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      if (response.ok || attempt >= 3) return;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
    await sleep(1_000 * attempt);
  }
}

async function answer(messageId: string, message: InboundMessage): Promise<void> {
  const chat = `${message.page_id}\u0000${message.client_id}`;
  const history = remember(chat, { role: 'user', content: message.text ?? '' });
  const completion = await openai.chat.completions.create({
    model,
    temperature: 0.7,
    messages: [{ role: 'system', content: systemPrompt }, ...history],
  });
  const reply = completion.choices[0]?.message.content ?? '';
  remember(chat, { role: 'assistant', content: reply });
  const parts = buildReplyParts(reply, maxMessageLength);
  if (replyDelayMs > 0) await sleep(replyDelayMs);
  for (const [index, part] of parts.entries()) {
    const body = new URLSearchParams({
      text: part.text,
      images: part.images.join(','),
      file: part.file ?? '',
      audio: '',
    }).toString();
    await post(body, {
      'webhook-id': `${messageId}.${index}`,
      'x-chatrelay-message-id': messageId,
      'x-chatrelay-part': `${index + 1}/${parts.length}`,
    });
  }
}

const app = express();
app.disable('x-powered-by');
app.post('/webhook/mychatbot', express.json({ limit: 256 * 1024 }), (req, res) => {
  const parsed = schema.safeParse(req.body);
  if (!parsed.success) {
    res.status(400).json({ error: 'invalid_request' });
    return;
  }
  if (req.get('authorization') !== `Bearer ${token}`) {
    res.status(401).json({ error: 'unauthorized' });
    return;
  }
  const message = parsed.data;
  const messageId =
    message.message_id === undefined
      ? `msg_${randomId(16)}`
      : `msg_${stableId(message.page_id, message.client_id, message.message_id)}`;
  res.status(200).json({ status: 'accepted', message_id: messageId });
  answer(messageId, message).catch((error: unknown) =>
    console.error(`baseline: message ${messageId} lost: ${String(error)}`),
  );
});
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});

const server = app.listen(Number(env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
server.keepAliveTimeout = 30_000;

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
