/**
 * Shared by the fault tests (test/faults/*.test.ts): sending messages to the process stack, and the
 * one check every fault test ends with: every accepted (200) message was answered exactly once (by
 * webhook-id), or recorded as failed with a reason; nothing that was not accepted was answered.
 */
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { messageStatusSchema, type MessageStatusResponse } from '../../src/api/contracts/message.js';
import { waitFor } from '../../src/lib/wait.js';
import type { RecordedRequest } from '../helpers/fake-model.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import type { PostResult, ProcessStack, SettledMessage } from '../helpers/process-stack.js';
import type { ReceivedPost } from '../helpers/receiver.js';

export interface SentMessage {
  text: string;
  clientId: string;
  result: PostResult;
  /** Our message id (`msg_…`), from a 200 answer. */
  messageId?: string;
}

export interface TestChannel {
  token: string;
  pageId: string;
  channelId: string;
  replyPath: string;
  /** `whsec_…`: every delivered post must verify with it. */
  signingSecret: string;
}

/** A channel (with its agent) whose replies go to a fresh path of the stack's receiver. */
export async function newChannel(stack: ProcessStack): Promise<TestChannel> {
  const reply = stack.receiver.endpoint();
  const { channel, token, signingSecret } = await createChannelWithAgent(stack.stores, { replyUrl: reply.url });
  return { token, pageId: channel.page_id, channelId: channel.id, replyPath: reply.path, signingSecret };
}

let sequence = 0;

/**
 * Sends `count` messages at once, spread over `clients` chats (messages of one chat are answered in
 * order, one at a time; chats in parallel). Every message carries a client message_id, as a
 * well-behaved platform's would.
 */
export async function sendMessages(
  stack: ProcessStack,
  channel: TestChannel,
  count: number,
  options: { label: string; clients?: number; timeoutMs?: number },
): Promise<SentMessage[]> {
  const clients = options.clients ?? count;
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      sequence += 1;
      const clientId = `${options.label}-client-${index % clients}`;
      const text = `${options.label} message ${index + 1} (#${sequence})`;
      const result = await stack.postMessage(
        channel.token,
        {
          client_id: clientId,
          page_id: channel.pageId,
          platform: 'CustomApp',
          text,
          message_id: `${options.label}-${sequence}`,
        },
        options.timeoutMs,
      );
      const messageId = result.status === 200 ? String(result.body.message_id) : undefined;
      return { text, clientId, result, ...(messageId !== undefined ? { messageId } : {}) };
    }),
  );
}

/**
 * Before an outage: six messages over three chats, all accepted, with the model (slowed to 1.5 s a call)
 * answering three of them when this returns, so that the fault strikes work in flight.
 */
export async function sendWorkInFlight(
  stack: ProcessStack,
  channel: TestChannel,
  label: string,
): Promise<SentMessage[]> {
  stack.fake.setLatency(1_500);
  const sent = await sendMessages(stack, channel, 6, { label, clients: 3 });
  assert.equal(accepted(sent).length, 6, JSON.stringify(sent.map((item) => item.result)));
  await waitFor(() => stack.fake.inFlight >= 3, { timeoutMs: 30_000, intervalMs: 10, what: 'model calls in flight' });
  return sent;
}

/**
 * During or after an outage: sends one message at a time until one is answered `status` (200 or 503); every
 * other answer must be the other of the two. Returns every message sent: each one accepted is owed a reply.
 */
export async function sendUntilAnswered(
  stack: ProcessStack,
  channel: TestChannel,
  status: 200 | 503,
  options: { label: string; timeoutMs: number; intervalMs: number; what: string },
): Promise<SentMessage[]> {
  const sent: SentMessage[] = [];
  await waitFor(
    async () => {
      const one = await sendMessages(stack, channel, 1, { label: options.label });
      sent.push(...one);
      const answered = one[0]?.result.status;
      assert.ok(answered === 200 || answered === 503, JSON.stringify(one[0]?.result));
      return answered === status;
    },
    { timeoutMs: options.timeoutMs, intervalMs: options.intervalMs, what: options.what },
  );
  return sent;
}

/**
 * After the restart that ends an outage: probes with real messages until the API accepts one again, then
 * sends three more, all accepted. Returns what was sent (each accepted message is owed a reply) and how
 * long after `upAt` the API took to accept again.
 */
export async function sendOnceAcceptingAgain(
  stack: ProcessStack,
  channel: TestChannel,
  label: string,
  upAt: number,
): Promise<{ probes: SentMessage[]; afterOutage: SentMessage[]; acceptingAfterMs: number }> {
  const probes = await sendUntilAnswered(stack, channel, 200, {
    label: `${label}-probe`,
    timeoutMs: 60_000,
    intervalMs: 200,
    what: 'the API to accept messages again',
  });
  const acceptingAfterMs = Date.now() - upAt;
  const afterOutage = await sendMessages(stack, channel, 3, { label: `${label}-after` });
  assert.equal(accepted(afterOutage).length, 3, JSON.stringify(afterOutage.map((item) => item.result)));
  return { probes, afterOutage, acceptingAfterMs };
}

/**
 * The API's readiness once a dependency is down: its status (503) and which of its checks pass.
 * Polled, because the API reuses a readiness answer for a second (READINESS_CACHE_MS).
 */
export async function readiness(
  stack: ProcessStack,
): Promise<{ status: number; checks: Record<string, { ok: boolean } | undefined> }> {
  return waitFor(
    async () => {
      const response = await fetch(`${stack.apiUrl}/readyz`);
      const body = (await response.json()) as { checks: Record<string, { ok: boolean } | undefined> };
      return response.status === 503 ? { status: response.status, checks: body.checks } : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: '/readyz to answer 503' },
  );
}

export const accepted = (sent: readonly SentMessage[]): Array<SentMessage & { messageId: string }> =>
  sent.filter((item): item is SentMessage & { messageId: string } => item.messageId !== undefined);

export interface AnsweredOnceOptions {
  /**
   * A SIGKILL while a POST is in flight may lose the receiver's 2xx: the part then comes again,
   * with the same webhook-id. Allowed only then: every extra post must be one whose answer was lost.
   */
  lostAnswersPossible?: boolean;
  /** Messages that may end `failed` (with a reason) instead of delivered. */
  mayFail?: boolean;
  timeoutMs: number;
}

export interface AnsweredOnceReport {
  records: SettledMessage[];
  /** Posts per webhook-id beyond the first (all of them re-sends after a lost answer). */
  duplicates: number;
  /** When the last accepted message reached its final status. */
  settledAt: number;
}

/**
 * The invariant every fault test ends with, checked at the receiver and in MongoDB:
 * - every accepted message reaches a final status; `delivered` unless `mayFail`, and a failed one has a reason;
 * - each delivered message's part arrived with exactly one 2xx answer the sender could see, under
 *   its webhook-id `<messageId>.0`, with the echo of the message's text (no fallback reply);
 * - any other post with that webhook-id is a re-send after a lost answer (only when allowed), with the same body;
 * - nothing else reached the channel's reply URL: no message that was not accepted was answered.
 */
export async function assertAnsweredOnce(
  stack: ProcessStack,
  channel: TestChannel,
  sent: readonly SentMessage[],
  options: AnsweredOnceOptions,
): Promise<AnsweredOnceReport> {
  const ok = accepted(sent);
  const records = await stack
    .settled(
      ok.map((item) => item.messageId),
      options.timeoutMs,
    )
    .catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${stack.diagnostics()}`);
    });
  const settledAt = Date.now();
  const byId = new Map(records.map((record) => [record._id, record]));
  const posts = stack.receiver.postsTo(channel.replyPath);
  const byWebhookId = new Map<string, ReceivedPost[]>();
  for (const post of posts) byWebhookId.set(post.webhookId, [...(byWebhookId.get(post.webhookId) ?? []), post]);
  let duplicates = 0;

  for (const item of ok) {
    const record = byId.get(item.messageId);
    assert.ok(record, `${item.messageId} is stored`);
    const forMessage = byWebhookId.get(`${item.messageId}.0`) ?? [];
    if (record.status !== 'delivered') {
      assert.ok(
        options.mayFail,
        `${item.messageId} ("${item.text}") ended ${record.status}: ${record.reason ?? ''}\n${stack.diagnostics()}`,
      );
      assert.equal(record.status, 'failed');
      assert.ok(record.reason && record.reason.length > 0, `${item.messageId} failed with a reason`);
      continue;
    }
    assert.equal(record.reason, undefined, `${item.messageId} delivered without a failure reason (no fallback)`);
    assert.equal(record.part_count, 1);
    assert.equal(record.parts_delivered, 1);
    const seen = forMessage.filter(
      (post) => post.outcome === 'answered' && post.status !== undefined && post.status >= 200 && post.status < 300,
    );
    assert.equal(seen.length, 1, `${item.messageId} ("${item.text}") was delivered once, not ${seen.length} times`);
    assert.equal(seen[0]?.fields.text, `Echo: ${item.text}`, "the reply is the model's, not the fallback");
    assertSigned(seen[0], channel.signingSecret);
    for (const post of forMessage) {
      if (post === seen[0]) continue;
      // Every attempt of a part carries the same webhook-id (grouped by it here) and the same body.
      assert.equal(post.rawBody, seen[0]?.rawBody, 'every attempt of a part carries the same body');
      if (post.outcome === 'lost') {
        assert.ok(
          options.lostAnswersPossible,
          `${item.messageId}: a post whose answer was lost, where no fault could cut it off`,
        );
        duplicates += 1;
      } else {
        // A failed attempt (the receiver answered an error), retried later.
        assert.ok(
          post.status !== undefined && (post.status < 200 || post.status >= 300),
          `${item.messageId}: unexpected extra post ${post.outcome} ${post.status}`,
        );
      }
    }
  }
  const expected = new Set(ok.map((item) => `${item.messageId}.0`));
  const strangers = posts.filter((post) => !expected.has(post.webhookId));
  assert.deepEqual(
    strangers.map((post) => `${post.webhookId}: ${post.fields.text ?? ''}`),
    [],
    'only accepted messages were answered',
  );
  return { records, duplicates, settledAt };
}

/** The post verifies with the channel's signing secret, as a receiver using the standardwebhooks library checks it. */
export function assertSigned(post: ReceivedPost, signingSecret: string): void {
  const headers = {
    'webhook-id': String(post.headers['webhook-id']),
    'webhook-timestamp': String(post.headers['webhook-timestamp']),
    'webhook-signature': String(post.headers['webhook-signature']),
  };
  assert.doesNotThrow(
    () => new Webhook(signingSecret).verify(post.rawBody, headers, { jsonParse: false }),
    `${post.webhookId} is signed`,
  );
}

/** A timing line in the test output, collected for docs/reliability.md. */
export function report(name: string, numbers: Record<string, number | string>): void {
  console.log(
    `FAULT ${name}: ${Object.entries(numbers)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ')}`,
  );
}

/** The text of the last user message a chat completion request carried (the message being answered). */
export function lastUserText(request: RecordedRequest): string | undefined {
  const messages = request.json?.messages;
  if (!Array.isArray(messages)) return undefined;
  const users = messages.filter(
    (message): message is { role: string; content: unknown } =>
      typeof message === 'object' && message !== null && (message as { role?: unknown }).role === 'user',
  );
  const content = users.at(-1)?.content;
  return typeof content === 'string' ? content : undefined;
}

/** An admin call to the stack's API (the admin token of its environment): its status and JSON body. */
export async function adminCall(
  stack: ProcessStack,
  method: 'GET' | 'POST',
  path: string,
  body?: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.env.ADMIN_TOKEN ?? ''}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A message's status from the admin API (`GET /v1/messages/{id}`), as an operator reads it. */
export async function messageStatus(stack: ProcessStack, messageId: string): Promise<MessageStatusResponse> {
  const { status, body } = await adminCall(stack, 'GET', `/v1/messages/${messageId}`);
  assert.equal(status, 200, JSON.stringify(body));
  return messageStatusSchema.parse(body);
}
