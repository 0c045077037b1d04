import type { Payload } from '@temporalio/common';
import type { EncryptionCodec } from '../../temporal/payload-codec.js';
import { Router, type RequestHandler } from 'express';
import { codecHeadersSchema, codecPayloadsSchema, type CodecPayload } from '../contracts/codec.js';
import type { FieldError } from '../../domain/inbound.js';
import { HttpError } from '../errors.js';
import type { RateLimiter } from '../rate-limit.js';
import { mountRoutes, requireBearerToken, type RouteSpec } from '../route-spec.js';

/**
 * The codec endpoint: the Temporal UI and `temporal … --codec-endpoint <API>/codec` send the
 * payloads of a history here to be decrypted (or encrypted, for input typed in the UI). Anyone who
 * may call it reads every message's content, so it needs its own bearer token (CODEC_TOKEN; without
 * one the endpoint is off, never opened by ADMIN_TOKEN), and browsers may call it only from the
 * origins in CODEC_CORS_ORIGINS.
 */

/** Large enough for the biggest batch the UI sends (Temporal refuses single payloads over 2 MB). */
export const codecMaxBodyBytes = 8 * 1024 * 1024;

const common = {
  tag: 'Codec',
  headers: codecHeadersSchema,
  body: codecPayloadsSchema,
  maxBodyBytes: codecMaxBodyBytes,
  security: 'codecToken',
  usesDatabase: false,
  errors: [400, 401, 403, 404, 413, 415],
  errorDescriptions: {
    404: 'The codec endpoint is off (`codec_disabled`): CODEC_TOKEN is not set.',
  },
} as const;

export const codecRoutes = [
  {
    ...common,
    method: 'post',
    path: '/codec/decode',
    operationId: 'decodePayloads',
    summary: 'Decrypt Temporal payloads (codec server protocol)',
    description:
      'Payloads encrypted by chatrelay are decrypted with the key their `encryption-key-id` names; any other payload is returned as it is. ' +
      'For the Temporal UI (codec endpoint `<this API>/codec`) and `temporal workflow show --codec-endpoint <this API>/codec --codec-auth "Bearer <CODEC_TOKEN>"`.',
    success: { status: 200, description: 'The payloads, decoded, in the same order.', schema: codecPayloadsSchema },
  },
  {
    ...common,
    method: 'post',
    path: '/codec/encode',
    operationId: 'encodePayloads',
    summary: 'Encrypt Temporal payloads (codec server protocol)',
    description:
      'Encrypts each payload under the newest key, as chatrelay writes them (unchanged when PAYLOAD_ENCRYPTION is false).',
    success: { status: 200, description: 'The payloads, encoded, in the same order.', schema: codecPayloadsSchema },
  },
] as const satisfies readonly RouteSpec[];

export interface CodecDeps {
  codec: Pick<EncryptionCodec, 'encode' | 'decodeForReading'>;
  /** CODEC_TOKEN; undefined: the endpoint answers 404 `codec_disabled`. */
  token: string | undefined;
  /** Failed authentications per source address, shared with the admin routes; absent: no limit. */
  authFailures?: RateLimiter;
  /** Browser origins allowed to call the endpoint (the Temporal UI's), exact `scheme://host[:port]`. */
  corsOrigins: readonly string[];
}

const toPayload = (input: CodecPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(input.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
  ),
  ...(input.data !== undefined ? { data: Buffer.from(input.data, 'base64') } : {}),
});

const base64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

const toJson = (payload: Payload): CodecPayload => ({
  metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, base64(value)])),
  ...(payload.data && payload.data.length > 0 ? { data: base64(payload.data) } : {}),
});

/**
 * CORS for the Temporal UI: a preflight from an allowed origin is answered here (without the
 * token, which browsers do not send on preflights); a request from any other browser origin is
 * refused with 403, so that no page elsewhere can have a logged-in operator's browser decode.
 * Requests without Origin (the CLI, curl) are not browsers' and pass.
 */
function codecCors(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.get('origin');
    if (origin === undefined) {
      next();
      return;
    }
    res.vary('Origin');
    if (!allowed.has(origin)) {
      next(
        new HttpError(
          403,
          'forbidden_origin',
          `Origin ${origin} may not call the codec endpoint; list it in CODEC_CORS_ORIGINS.`,
        ),
      );
      return;
    }
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-credentials', 'true');
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'POST');
      res.setHeader('access-control-allow-headers', 'authorization, content-type, x-namespace');
      res.setHeader('access-control-max-age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

export function codecRouter(deps: CodecDeps): Router {
  const router = Router();
  const token = deps.token;
  if (token === undefined) {
    // Its own token or nothing: the admin token opening every message's content was a silent widening.
    router.use('/codec', (_req, _res, next) => {
      next(new HttpError(404, 'codec_disabled', 'The codec endpoint is off: set CODEC_TOKEN to turn it on.'));
    });
    return router;
  }
  router.use('/codec', codecCors(deps.corsOrigins));
  router.use(
    '/codec',
    requireBearerToken(token, {
      realm: 'chatrelay-codec',
      expected: 'codec token (Authorization: Bearer <CODEC_TOKEN>)',
      failures: deps.authFailures,
    }),
  );

  /** Runs the codec one payload at a time, so that an error names the payload it is about. */
  const run = async (payloads: CodecPayload[], step: (payload: Payload) => Promise<Payload>) => {
    const out: CodecPayload[] = [];
    const problems: FieldError[] = [];
    for (const [index, payload] of payloads.entries()) {
      try {
        out.push(toJson(await step(toPayload(payload))));
      } catch (error) {
        problems.push({ path: `payloads.${index}`, message: error instanceof Error ? error.message : String(error) });
      }
    }
    if (problems.length > 0)
      throw new HttpError(400, 'undecodable_payload', 'Some payloads could not be processed; see details.', problems);
    return { status: 200, body: { payloads: out } };
  };
  // Decoding for a reader passes unencrypted payloads through: refusing them protects workflows, not readers.
  const codecFor = {
    encode: (payloads: Payload[]) => deps.codec.encode(payloads),
    decode: (payloads: Payload[]) => deps.codec.decodeForReading(payloads),
  };
  const single =
    (method: 'encode' | 'decode') =>
    async (payload: Payload): Promise<Payload> => {
      const [result] = await codecFor[method]([payload]);
      if (!result) throw new Error(`the codec returned no payload to ${method}`);
      return result;
    };

  mountRoutes(router, codecRoutes, {
    decodePayloads: ({ body }) => run(body.payloads, single('decode')),
    encodePayloads: ({ body }) => run(body.payloads, single('encode')),
  });
  return router;
}
