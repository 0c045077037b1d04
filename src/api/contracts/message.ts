import { z } from 'zod';

/**
 * Contracts of the message status and redelivery API (`/v1/messages`, `/v1/channels/:id/messages`,
 * `/v1/channels/:id/resume`). Pure: the routes validate with them and the OpenAPI document derives from them.
 */

export const messageStatusValues = [
  'accepted',
  'processing',
  'delivered',
  'failed',
  'not_answered',
  'coalesced',
  'superseded',
] as const;
export const messageStageValues = [
  'accepted',
  'validating',
  'transcribing',
  'waiting_turn',
  'generating',
  'preparing',
  'synthesizing',
  'waiting_reply_delay',
  'delivering',
  'retry_pending',
  'paused',
  'delivered',
  'failed',
  'not_answered',
  'coalesced',
  'superseded',
  'waiting_burst',
] as const;

const timestamp = z.iso.datetime();

export const deliveryAttemptSchema = z.object({
  part: z
    .number()
    .int()
    .describe(
      'Part number, from 1; 0 is the "one moment" part sent while the model was slow (`interim_after_seconds`).',
    ),
  attempt: z.number().int().describe('Attempt number for this part, from 1.'),
  redelivery: z.number().int().optional().describe("Set on attempts of an admin's redelivery: its number."),
  at: timestamp,
  duration_ms: z.number(),
  result: z.enum(['delivered', 'retry', 'rejected']),
  http_status: z.number().int().optional(),
  error: z.string().optional(),
});

export const replyPartStatusSchema = z.object({
  part: z.number().int().describe('Part number, from 1.'),
  delivery_id: z.string().describe('The `webhook-id` header every attempt of this part carries.'),
  characters: z.number().int(),
  images: z.array(z.string()),
  file: z.string().nullable(),
  audio_url: z.string().nullable(),
  delivered_at: timestamp.nullable(),
});

export const messageStatusSchema = z
  .object({
    id: z.string(),
    workflow_id: z.string(),
    channel_id: z.string(),
    page_id: z.string(),
    client_id: z.string(),
    status: z.enum(messageStatusValues),
    stage: z.enum(messageStageValues),
    /** "delivering part k of n": k here, n in part_count. */
    current_part: z.number().int().nullable().describe('While delivering: the part being delivered (from 1).'),
    part_count: z.number().int().nullable(),
    parts_delivered: z.number().int(),
    next_retry_at: timestamp.nullable().describe('While a retry is pending: when it is due.'),
    last_error: z.string().nullable(),
    reason: z
      .string()
      .nullable()
      .describe(
        'Why the message failed or was not answered (a chat with a person: its assistant is paused); on a delivered message, that the model handed the chat to a person; on a `coalesced` or `superseded` one whose answerer ended without a reply, how that one ended.',
      ),
    answered_by: z
      .string()
      .nullable()
      .describe(
        'For a `coalesced` or `superseded` message: the message whose reply answered it (the last of its burst).',
      ),
    live: z.boolean().describe('True when stage and retry fields were read from the running workflow.'),
    received_at: timestamp,
    updated_at: timestamp,
    completed_at: timestamp.nullable(),
    parts: z.array(replyPartStatusSchema),
    attempts: z.array(deliveryAttemptSchema),
  })
  .describe('Where a message is and what happened to it.');

export const messageSummarySchema = messageStatusSchema.pick({
  id: true,
  client_id: true,
  status: true,
  stage: true,
  part_count: true,
  parts_delivered: true,
  reason: true,
  answered_by: true,
  received_at: true,
  completed_at: true,
});

export const messageListResponseSchema = z.object({
  data: z.array(messageSummarySchema),
  next_before: timestamp.nullable().describe('Pass as `before` for the next (older) page; null at the end.'),
});

export const listMessagesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100').default(20),
  before: timestamp.optional().describe('Only messages received before this time (for paging).'),
});

export const redeliverSchema = z.strictObject({
  from_part: z
    .number()
    .int()
    .min(1, 'must be at least 1')
    .optional()
    .describe('First part to send again (from 1); default: the first part not delivered.'),
});

export const redeliverResponseSchema = z.object({
  message_id: z.string(),
  workflow_id: z.string(),
  from_part: z.number().int(),
  part_count: z.number().int(),
});

export const resumeResponseSchema = z.object({
  channel_id: z.string(),
  resumed_messages: z.number().int().describe('Messages that were waiting and now deliver, in order.'),
});

export type MessageStatusResponse = z.infer<typeof messageStatusSchema>;
export type MessageSummary = z.infer<typeof messageSummarySchema>;
