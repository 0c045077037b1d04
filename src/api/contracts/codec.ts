import { z } from 'zod';

/**
 * The codec server protocol the Temporal UI and the `temporal` CLI speak (`POST /codec/encode`,
 * `POST /codec/decode`): a `temporal.api.common.v1.Payloads` message in protobuf's JSON mapping,
 * where bytes are standard base64. Pure: the route validates with it and the OpenAPI document
 * derives from it.
 */

const base64 = z
  .string()
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'must be standard base64');

export const codecPayloadSchema = z
  .strictObject({
    metadata: z
      .record(z.string(), base64)
      .optional()
      .describe('Metadata values, base64 (e.g. `encoding`, `encryption-key-id`).'),
    data: base64.optional().describe('The payload bytes, base64.'),
  })
  .describe('One Temporal payload in protobuf JSON form.');

export const codecPayloadsSchema = z
  .strictObject({
    payloads: z.array(codecPayloadSchema).describe('Encoded or decoded in order; the answer has as many.'),
  })
  .describe('Temporal payloads (`temporal.api.common.v1.Payloads`, protobuf JSON).');

export const codecHeadersSchema = z.object({
  'x-namespace': z
    .string()
    .optional()
    .describe(
      'The namespace the payloads belong to, as the Temporal UI and CLI send it. One set of keys serves every namespace, so it does not change the answer.',
    ),
});

export type CodecPayload = z.output<typeof codecPayloadSchema>;
