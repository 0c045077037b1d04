import { z } from 'zod';
import { defaultInboundLimits } from '../../domain/inbound.js';
import { messageStatusValues } from './message.js';

/**
 * Contracts of the admin routes the dashboard reads besides agents, channels and messages: a
 * channel's chats, one chat's history, a test message ("Try it"), pausing delivery, and the
 * overview. Pure: the routes validate with them and the OpenAPI document derives from them.
 */

const timestamp = z.iso.datetime();
const limit = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(1, `must be between 1 and ${max}`)
    .max(max, `must be between 1 and ${max}`)
    .default(fallback);

export const listChatsQuerySchema = z.strictObject({
  limit: limit(100, 20),
  before: timestamp.optional().describe('Only chats whose last message came before this time (for paging).'),
});

export const chatSummarySchema = z
  .object({
    id: z.string().describe("The chat's id (one end user on one channel page)."),
    client_id: z.string(),
    client_name: z.string().nullable(),
    client_avatar: z.string().nullable().describe('Avatar URL the platform sent.'),
    platform: z.string(),
    first_seen_at: timestamp,
    last_seen_at: timestamp.nullable(),
    last_message: z
      .object({ role: z.enum(['user', 'assistant']), text: z.string().describe('Up to 200 characters.') })
      .nullable(),
    assistant_paused: z
      .object({
        since: timestamp,
        by: z.enum(['admin', 'model']).describe('An admin paused it, or the model handed the chat to a person.'),
      })
      .nullable()
      .describe('Set while the chat is with a person: its messages are stored and not answered; null otherwise.'),
  })
  .describe('One end user of a channel.');
export type ChatSummary = z.infer<typeof chatSummarySchema>;

export const chatListResponseSchema = z.object({
  data: z.array(chatSummarySchema).describe('Most recently active first.'),
  next_before: timestamp.nullable().describe('Pass as `before` for the next page; null on the last one.'),
});

export const chatHistoryQuerySchema = z.strictObject({ limit: limit(200, 50) });

export const chatTurnSchema = z
  .object({
    message_id: z.string(),
    received_at: timestamp,
    status: z.enum(messageStatusValues),
    user: z.object({
      text: z.string().nullable(),
      audio: z.string().nullable().describe('URL of the voice message, when the user spoke.'),
      transcript: z.string().nullable().describe("The voice message's transcript, once transcribed."),
      attachments: z.array(z.string()),
    }),
    assistant: z
      .array(
        z.object({
          part: z.number().int().describe('Part number, from 1.'),
          text: z.string(),
          images: z.array(z.string()),
          file: z.string().nullable(),
          audio_url: z.string().nullable().describe("URL of the part's speech, when voice replies are on."),
          delivered_at: timestamp.nullable(),
        }),
      )
      .describe('The reply, part by part (empty until it is generated, or when there is none).'),
  })
  .describe("One message of the chat and the assistant's reply to it.");
export type ChatTurn = z.infer<typeof chatTurnSchema>;

export const chatHistoryResponseSchema = z.object({
  chat: chatSummarySchema,
  turns: z.array(chatTurnSchema).describe('Oldest first: the latest `limit` messages.'),
});

/**
 * A chat's avatar, as the dashboard shows it: fetched by the API under the address guard, never by
 * the admin's browser. Raster images only: SVG can carry script.
 */
export const avatarMediaTypes = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif'] as const;
/** The largest avatar the API fetches and serves (bytes). */
export const AVATAR_MAX_BYTES = 256 * 1024;

export const testMessageSchema = z
  .strictObject({
    text: z
      .string()
      .max(defaultInboundLimits.maxTextLength, `must be at most ${defaultInboundLimits.maxTextLength} characters`)
      .regex(/\S/, 'must not be empty')
      .describe('What the test user says.'),
    client_id: z
      .string()
      .max(256, 'must be at most 256 characters')
      .regex(/\S/, 'must not be empty')
      .default('dashboard-tester')
      .describe('The test user: its messages make one chat.'),
    client_name: z.string().max(256, 'must be at most 256 characters').default('Dashboard test user'),
  })
  .describe('A message from a test user, accepted as if the platform had sent it.');

export const testMessageResponseSchema = z.object({
  status: z.literal('accepted'),
  message_id: z.string(),
  workflow_id: z.string(),
  chat_id: z.string(),
  duplicate: z.boolean(),
});

export const overviewResponseSchema = z
  .object({
    since: timestamp.describe('Start of the hour summarised.'),
    generated_at: timestamp,
    per_minute: z
      .array(z.number().int())
      .describe('Messages received in each of the last 60 minutes, oldest first (the last is the current minute).'),
    received: z.number().int(),
    delivered: z.number().int(),
    failed: z.number().int(),
    not_answered: z.number().int(),
    ack_ms: z
      .object({ p50: z.number().nullable(), p99: z.number().nullable(), samples: z.number().int() })
      .describe('How long receivers took to acknowledge (2xx) a reply part, over the hour; null without samples.'),
    channels: z
      .array(
        z.object({
          id: z.string(),
          page_id: z.string(),
          failed: z.number().int().describe('Messages failed in the hour.'),
          delivery_paused: z.boolean(),
          paused_reason: z.string().nullable(),
        }),
      )
      .describe('Channels that need a look: failures in the hour, or delivery paused.'),
  })
  .describe('The last hour across every channel.');
export type OverviewResponse = z.infer<typeof overviewResponseSchema>;
export type ChatListResponse = z.infer<typeof chatListResponseSchema>;
export type ChatHistoryResponse = z.infer<typeof chatHistoryResponseSchema>;
