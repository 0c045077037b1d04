import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import { capRetryAfter } from '../domain/retry-wait.js';
import { guardedConnection, UnsafeUrlError, type AddressPolicy } from '../lib/address-policy.js';

/*
 * One signed webhook POST, a reply part's or an operational event's: its form body (replyForm),
 * its Standard Webhooks headers (signatureHeaders) and the guarded POST itself (postForm).
 */

/** Formats the reply POST: the four fields of the contract, always present, empty when unused. */
export function replyForm(
  part: { text: string; images: string[]; file?: string },
  audioUrl: string | undefined,
): string {
  return new URLSearchParams({
    text: part.text,
    // Several images travel as one field, comma-separated; a comma inside a URL is percent-encoded first.
    images: part.images.map((url) => url.replaceAll(',', '%2C')).join(','),
    file: part.file ?? '',
    audio: audioUrl ?? '',
  }).toString();
}

/**
 * Standard Webhooks headers for one attempt: the id is stable across retries, the timestamp is
 * the attempt's own (receivers reject stale ones), and there is one `v1,` signature per active
 * secret, space-separated, so receivers verify with either secret during a rotation.
 */
export function signatureHeaders(secrets: string[], webhookId: string, at: Date, body: string): Record<string, string> {
  const headers: Record<string, string> = {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
  };
  // Never unsigned: the caller holds the part back when the channel has no secret.
  if (secrets.length === 0) throw new Error('no signing secret: a reply is never sent unsigned');
  headers['webhook-signature'] = secrets.map((secret) => new Webhook(secret).sign(webhookId, at, body)).join(' ');
  return headers;
}

/** The outcome of one delivery attempt, as the workflow's retry schedule needs it. */
export type PostOutcome =
  | { result: 'delivered'; status: number }
  | { result: 'retry'; status?: number; retryAfterSeconds?: number; error: string }
  | { result: 'gone'; status: 410; error: string }
  | { result: 'rejected'; status?: number; error: string };

/**
 * Where reply POSTs may go (DELIVERY_ALLOW_PRIVATE, DELIVERY_ALLOW_HOSTS): the address guard of
 * voice-note downloads (src/lib/address-policy.ts), so that a reply URL, or a receiver's DNS, cannot
 * point deliveries at loopback, private or metadata addresses.
 */
export interface DeliveryPolicy extends AddressPolicy {
  /** Most bytes of the receiver's answer read (default 4 KiB); the rest is dropped with the connection. */
  maxResponseBytes?: number;
}

/** How much of a receiver's answer is read by default: enough for any acknowledgement, never a flood. */
export const DEFAULT_MAX_RESPONSE_BYTES = 4096;

/**
 * Parses Retry-After (seconds or an HTTP date) into seconds from now; undefined when absent or bad.
 * Capped here, where the receiver's word enters, at MAX_RETRY_AFTER_SECONDS: a receiver asking for
 * years would otherwise hold every later message of the chat behind its part.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return capRetryAfter(Number(trimmed));
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return capRetryAfter(Math.max(0, Math.ceil((at - now) / 1000)));
}

/**
 * POSTs a form to a receiver and classifies the answer: 2xx delivered; network errors, timeouts,
 * 408, 429 and 5xx worth retrying; 410 means the receiver is gone; any other status is final
 * (redirects are not followed: a 3xx is final too).
 *
 * The connection can only reach addresses `policy` allows, checked at DNS lookup time (no
 * rebinding); a refused address is final. The policy is required: there is no POST without the
 * guard (`{ allowPrivate: true }` is how a caller says it means any address). The status decides
 * the outcome and at most `maxResponseBytes` of the answer are read: a receiver that streams
 * gigabytes is cut off.
 *
 * `signal` (the step's cancellation): once it aborts, the request is destroyed wherever it is (the
 * receiver sees the connection close) and the outcome is a retry; a step that timed out must not
 * go on posting beside its own retry (docs/reliability.md, 23.8).
 */
export async function postForm(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  policy: DeliveryPolicy,
  signal?: AbortSignal,
): Promise<PostOutcome> {
  // A client span when tracing is on (a no-op otherwise), and its traceparent on the request, so
  // a receiver can join the message's trace. Only the receiver's origin is recorded: a reply URL
  // may carry a secret in its path or query.
  const origin = URL.canParse(url) ? new URL(url).origin : 'invalid';
  return tracer.startActiveSpan(
    'POST',
    { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'POST', 'url.full': origin } },
    async (span) => {
      const traced = { ...headers };
      propagation.inject(context.active(), traced);
      try {
        const outcome = await post(url, body, traced, timeoutMs, policy, signal);
        if (outcome.status !== undefined) span.setAttribute('http.response.status_code', outcome.status);
        if (outcome.result !== 'delivered') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.result });
        return outcome;
      } finally {
        span.end();
      }
    },
  );
}

const tracer = trace.getTracer('chatrelay-delivery');

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  policy: DeliveryPolicy,
  signal?: AbortSignal,
): Promise<PostOutcome> {
  if (signal?.aborted) return { result: 'retry', error: cancelled(signal) };
  let target: URL;
  let connection = {};
  try {
    target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:')
      return { result: 'rejected', error: `the reply URL is not http(s) (${target.protocol})` };
    connection = guardedConnection(target, policy);
  } catch (error) {
    if (error instanceof UnsafeUrlError) return { result: 'rejected', error: policyRefusal(error) };
    return { result: 'rejected', error: 'the reply URL is not a valid URL' };
  }
  const maxResponseBytes = policy.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const isHttps = target.protocol === 'https:';
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const settle = (outcome: PostOutcome): void => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const request = (isHttps ? https : http).request(target, {
      method: 'POST',
      agent: agentFor(isHttps, policy),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': 'chatrelay',
        ...headers,
        'content-length': String(Buffer.byteLength(body)),
      },
      ...connection,
    });
    // One deadline for the connection, the answer's head and the little of its body we read.
    const timer = setTimeout(() => {
      settle({ result: 'retry', error: `no answer within ${timeoutMs} ms` });
      request.destroy();
    }, timeoutMs);
    // The step's cancellation cuts the request off at once, whatever stage it is at.
    const onAbort = (): void => {
      clearTimeout(timer);
      settle({ result: 'retry', error: cancelled(signal) });
      request.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('close', () => signal?.removeEventListener('abort', onAbort));
    request.on('error', (error) => {
      clearTimeout(timer);
      settle(
        error instanceof UnsafeUrlError
          ? { result: 'rejected', error: policyRefusal(error) }
          : { result: 'retry', error: describe(error) },
      );
    });
    request.on('response', (response) => {
      // The status and headers decide; the body is read only so that the connection can be reused.
      settle(classify(response.statusCode ?? 0, response.headers['retry-after']));
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxResponseBytes) response.destroy();
      });
      response.on('close', () => clearTimeout(timer));
      response.on('error', () => undefined);
    });
    request.end(body);
  });
}

function classify(status: number, retryAfter: string | undefined): PostOutcome {
  if (status >= 200 && status < 300) return { result: 'delivered', status };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterSeconds = parseRetryAfter(retryAfter);
    return {
      result: 'retry',
      status,
      error: `receiver answered ${status}`,
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    };
  }
  if (status === 410) return { result: 'gone', status, error: 'receiver answered 410 Gone' };
  return { result: 'rejected', status, error: `receiver answered ${status}` };
}

function cancelled(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return `the step was cancelled before the receiver answered (${reason instanceof Error ? reason.message : String(reason)})`;
}

function policyRefusal(error: UnsafeUrlError): string {
  return `${error.message} (allow it with DELIVERY_ALLOW_PRIVATE or DELIVERY_ALLOW_HOSTS)`;
}

/**
 * Keep-alive agents, one per policy: a pooled connection was checked when it was opened, so it
 * may only be reused under the same policy. Idle pooled sockets do not keep a process alive.
 */
const agents = new Map<string, http.Agent>();
function agentFor(isHttps: boolean, policy: DeliveryPolicy): http.Agent {
  const key = JSON.stringify([isHttps, policy.allowPrivate, policy.allowHosts]);
  let agent = agents.get(key);
  if (!agent) {
    agent = isHttps ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    agents.set(key, agent);
  }
  return agent;
}

function describe(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}
