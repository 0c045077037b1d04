import express, { Router, type Request } from 'express';
import { fieldErrors, inboundMessageSchema, type InboundLimits } from '../../domain/inbound.js';
import type { Channel, InboundEnvelope } from '../../domain/models.js';
import { chatIdFor } from '../../stores/chats.js';
import { randomId, stableId } from '../../lib/secrets.js';
import type { Logger } from '../../lib/logger.js';
import type { ChannelAuthenticator } from '../channel-auth.js';
import type { LoadGate } from '../load-gate.js';
import type { RateLimiter } from '../rate-limit.js';
import { sourceKey } from '../source-address.js';
import { HttpError, invalidRequest, overloaded, unauthorized } from '../errors.js';

export interface MessageStarter {
  /** Starts the message's workflow; `duplicate` when a workflow for this message id already exists. */
  start(envelope: InboundEnvelope): Promise<{ workflowId: string; duplicate: boolean }>;
}

export interface WebhookDeps {
  auth: ChannelAuthenticator;
  /** Per channel and per end user; absent: no limits. */
  rateLimits?: { channel: RateLimiter; client: RateLimiter };
  /**
   * Failed requests (not JSON, malformed, no page_id, wrong token or unknown page) per source
   * address. Over it, every failure gets the same 429, so the answers no longer tell a known page
   * from an unknown one; a request with a valid token still gets in, for a channel this process has
   * seen or not, so that one tenant's failures never lock out the others behind the same address
   * (a platform sending every tenant's traffic from one address). Absent: no limit.
   */
  failureLimit?: RateLimiter;
  starter: MessageStarter;
  /** Refuses messages while the accepted ones wait too long (src/api/load-gate.ts); absent: no shedding. */
  loadGate?: Pick<LoadGate, 'admit'>;
  limits: InboundLimits & { maxBodyBytes: number };
  logger: Logger;
}

/** The token from `Authorization: Bearer <token>`, or from `X-Api-Token` for platforms that cannot set Authorization. */
export function presentedToken(
  authorization: string | undefined,
  apiTokenHeader: string | undefined,
): string | undefined {
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  return bearer ?? (apiTokenHeader?.trim() || undefined);
}

/**
 * Message ids: derived from the client's own message_id when given, so a retried POST maps to the
 * same workflow and is answered once; random otherwise, so every POST is a new message.
 */
export function messageIdFor(channelId: string, clientId: string, clientMessageId: string | undefined): string {
  return clientMessageId === undefined
    ? `msg_${randomId(16)}`
    : `msg_${stableId(channelId, clientId, clientMessageId)}`;
}

/**
 * What a message's workflow is started with, for a message accepted on `channel`: one function, so
 * the webhook and the dashboard's test messages (routes/dashboard-api.ts) start the same input.
 */
export function inboundEnvelope(
  channel: Pick<Channel, 'id' | 'page_id' | 'token_version'>,
  message: InboundEnvelope['message'],
): InboundEnvelope {
  return {
    messageId: messageIdFor(channel.id, message.client_id, message.message_id),
    chatId: chatIdFor(channel.id, message.client_id),
    channelId: channel.id,
    pageId: channel.page_id,
    tokenVersion: channel.token_version,
    receivedAt: new Date().toISOString(),
    message,
  };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function webhookRouter(deps: WebhookDeps): Router {
  const router = Router();
  const schema = inboundMessageSchema(deps.limits);
  const pageIdRule = schema.shape.page_id;
  const json = express.json({ limit: deps.limits.maxBodyBytes, type: () => true, strict: false });
  const source = (req: Request): string => sourceKey(req.socket.remoteAddress);
  /**
   * Counts a failed request against its address, and the error to answer it with: its own while the
   * address is within its budget, else the one 429 every failure gets past it.
   */
  const failed = (req: Request, error: unknown): unknown => {
    const key = source(req);
    const wait = deps.failureLimit?.wait(key) ?? 0;
    deps.failureLimit?.take(key);
    if (wait === 0) return error;
    return new HttpError(
      429,
      'rate_limited',
      `Too many failed requests from this address; retry after ${wait} s.`,
      undefined,
      { 'retry-after': String(wait) },
    );
  };

  router.post('/webhook/mychatbot', (req, res, next) => {
    if (!req.is('application/json') && !req.is('+json')) {
      next(
        failed(
          req,
          new HttpError(
            415,
            'unsupported_media_type',
            'The request body must be JSON (Content-Type: application/json).',
          ),
        ),
      );
      return;
    }
    json(req, res, (error?: unknown) => {
      next(error === undefined ? undefined : failed(req, error));
    });
  });

  router.post('/webhook/mychatbot', async (req, res) => {
    const body: unknown = req.body;
    // Authenticate first, with only the page_id read from the body: a stranger's request costs no
    // validation of the rest, and learns nothing about it (401 whatever the fields hold).
    // A page_id that breaks its own rule (blank, too long) can match no channel: no lookup for it.
    const pageId = isRecord(body) && pageIdRule.safeParse(body.page_id).success ? (body.page_id as string) : undefined;
    if (pageId === undefined) {
      // Nothing to authenticate against: the body is malformed, and its errors help the integrator.
      const parsed = schema.safeParse(body);
      throw failed(
        req,
        invalidRequest(
          parsed.success ? [{ path: 'page_id', message: 'is required' }] : fieldErrors(parsed.error, body),
        ),
      );
    }
    // Past the address's failure budget too: a valid token gets in (its channel cached, or read
    // once), and only a failure is refused.
    const token = presentedToken(req.get('authorization'), req.get('x-api-token'));
    const channel = token ? await deps.auth.authenticate(pageId, token) : undefined;
    if (!channel) throw failed(req, unauthorized('Missing or invalid API token for this page_id.'));
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw invalidRequest(fieldErrors(parsed.error, body));
    const message = parsed.data;
    // Shed before anything is written or started, and before the rate limits take a token: a
    // refused message costs the client nothing but the retry. Authentication and validation come
    // first, so a bad request still learns what is wrong with it.
    const refusal = deps.loadGate?.admit();
    if (refusal) throw overloaded(refusal.retryAfterSeconds);
    if (deps.rateLimits) {
      const channelWait = deps.rateLimits.channel.take(channel.id);
      const clientWait = channelWait > 0 ? 0 : deps.rateLimits.client.take(`${channel.id}\u0000${message.client_id}`);
      if (channelWait > 0 || clientWait > 0) {
        const wait = Math.max(channelWait, clientWait);
        throw new HttpError(
          429,
          'rate_limited',
          `Too many messages ${channelWait > 0 ? 'for this channel' : 'from this client'}; retry after ${wait} s.`,
          undefined,
          {
            'retry-after': String(wait),
          },
        );
      }
    }

    const { page_id: _pageId, ...rest } = message;
    const envelope = inboundEnvelope(channel, rest);
    const messageId = envelope.messageId;
    const started = await deps.starter.start(envelope);
    deps.logger.info(
      {
        requestId: req.requestId,
        pageId: channel.page_id,
        messageId,
        workflowId: started.workflowId,
        duplicate: started.duplicate,
      },
      'message accepted',
    );
    res.status(200).json({
      status: 'accepted',
      message_id: messageId,
      workflow_id: started.workflowId,
      duplicate: started.duplicate,
    });
  });
  return router;
}
