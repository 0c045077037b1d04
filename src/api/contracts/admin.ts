import { z } from 'zod';
import { fieldErrors, httpUrl, type FieldError } from '../../domain/inbound.js';
import { agentDefaults, channelDefaults } from '../../domain/models.js';

/**
 * The contracts of the HTTP API other than the inbound message itself (that one is
 * `inboundMessageSchema` in inbound.ts): admin request bodies and query strings, every response
 * body, the error shape, and the form a channel's Reply Webhook URL receives. One zod schema per
 * contract: the routes validate with them and src/api/openapi.ts derives the OpenAPI document
 * from them. Pure: no I/O.
 *
 * Admin bodies are strict (an unknown field is a 400), so that a typo such as `reply_delay` is
 * reported instead of silently ignored.
 */

const MAX_URL_LENGTH = 2048;

const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);
// A pattern rather than a refinement, so that the OpenAPI document says it too.
const nonBlank = (max: number) => text(max).regex(/\S/, 'must not be empty');
const intBetween = (min: number, max: number) =>
  z.number().int().min(min, `must be between ${min} and ${max}`).max(max, `must be between ${min} and ${max}`);
const id = (what: string) => z.string().min(1).max(64).describe(`The ${what}'s id.`);
const timestamp = (description: string) => z.iso.datetime().describe(`${description}, ISO 8601 UTC.`);

// ---------------------------------------------------------------------------------------------
// Agents

export const voiceRepliesValues = ['off', 'always', 'when_user_sent_voice'] as const;

/** Every agent field, without defaults: the PATCH body makes each optional, the POST body adds defaults. */
const agentFields = {
  name: nonBlank(200).describe('A name for people: shown in lists, not sent to the model.'),
  system_prompt: text(100_000).describe('The system prompt of every conversation; empty for none.'),
  model: nonBlank(200).describe('Chat model name at the OpenAI-compatible API.'),
  temperature: z
    .number()
    .min(0, 'must be between 0 and 2')
    .max(2, 'must be between 0 and 2')
    .describe('Sampling temperature, 0 to 2.'),
  max_history_messages: intBetween(0, 200).describe('How many earlier messages of the chat the model sees, 0 to 200.'),
  vision: z.boolean().describe('Whether image attachments go to the model as image inputs (otherwise as links).'),
  transcription_model: nonBlank(200).describe('Speech-to-text model for voice messages.'),
  tts_model: nonBlank(200).describe('Text-to-speech model for voice replies.'),
  tts_voice: nonBlank(100).describe('Text-to-speech voice for voice replies.'),
  voice_prefix: text(200).describe('Put before a transcribed voice message so the model knows it was spoken.'),
  fallback_reply: text(4000).describe('Sent to the user when the model cannot answer; empty sends nothing.'),
  interim_after_seconds: intBetween(0, 120).describe(
    'When the model has not answered after this many seconds, `interim_text` is sent first; 0 (off) to 120.',
  ),
  interim_text: nonBlank(1000).describe(
    'The "one moment" part sent when the model is slow (see interim_after_seconds).',
  ),
  handoff_text: text(4000).describe(
    'When set, the model may hand the chat to a person (the `handoff_to_human` tool): the chat is paused and the user gets this text. Empty: the tool is not offered.',
  ),
};

export const createAgentSchema = z
  .strictObject({
    name: agentFields.name,
    system_prompt: agentFields.system_prompt,
    model: agentFields.model.default(agentDefaults.model),
    temperature: agentFields.temperature.default(agentDefaults.temperature),
    max_history_messages: agentFields.max_history_messages.default(agentDefaults.max_history_messages),
    vision: agentFields.vision.default(agentDefaults.vision),
    transcription_model: agentFields.transcription_model.default(agentDefaults.transcription_model),
    tts_model: agentFields.tts_model.default(agentDefaults.tts_model),
    tts_voice: agentFields.tts_voice.default(agentDefaults.tts_voice),
    voice_prefix: agentFields.voice_prefix.default(agentDefaults.voice_prefix),
    fallback_reply: agentFields.fallback_reply.default(agentDefaults.fallback_reply),
    interim_after_seconds: agentFields.interim_after_seconds.default(agentDefaults.interim_after_seconds),
    interim_text: agentFields.interim_text.default(agentDefaults.interim_text),
    handoff_text: agentFields.handoff_text.default(agentDefaults.handoff_text),
  })
  .describe('A new agent: the model and prompt that answer the channels using it.');
export type CreateAgentRequest = z.infer<typeof createAgentSchema>;

const atLeastOneField = {
  message: 'must set at least one field',
  // Only for an otherwise valid body, so that `{"nmae": "x"}` reports the unknown field alone.
  when: (payload: { issues: unknown[] }) => payload.issues.length === 0,
};

export const updateAgentSchema = z
  .strictObject({
    name: agentFields.name.optional(),
    system_prompt: agentFields.system_prompt.optional(),
    model: agentFields.model.optional(),
    temperature: agentFields.temperature.optional(),
    max_history_messages: agentFields.max_history_messages.optional(),
    vision: agentFields.vision.optional(),
    transcription_model: agentFields.transcription_model.optional(),
    tts_model: agentFields.tts_model.optional(),
    tts_voice: agentFields.tts_voice.optional(),
    voice_prefix: agentFields.voice_prefix.optional(),
    fallback_reply: agentFields.fallback_reply.optional(),
    interim_after_seconds: agentFields.interim_after_seconds.optional(),
    interim_text: agentFields.interim_text.optional(),
    handoff_text: agentFields.handoff_text.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, atLeastOneField)
  .meta({ minProperties: 1 })
  .describe('The fields to change; the others keep their value.');
export type UpdateAgentRequest = z.infer<typeof updateAgentSchema>;

export const agentResponseSchema = z
  .object({
    id: id('agent'),
    name: z.string(),
    system_prompt: z.string(),
    model: z.string(),
    temperature: z.number(),
    max_history_messages: z.number().int(),
    vision: z.boolean(),
    transcription_model: z.string(),
    tts_model: z.string(),
    tts_voice: z.string(),
    voice_prefix: z.string(),
    fallback_reply: z.string(),
    interim_after_seconds: z.number().int(),
    interim_text: z.string(),
    handoff_text: z.string(),
    created_at: timestamp('When it was created'),
    updated_at: timestamp('When it was last changed'),
  })
  .describe('An agent.');
export type AgentResponse = z.infer<typeof agentResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Channels

/** A token travels in an HTTP header: printable ASCII without spaces. */
export const apiTokenSchema = z
  .string()
  .min(16, 'must be at least 16 characters')
  .max(256, 'must be at most 256 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .describe('The API token the client platform sends; at least 16 characters. Generated when omitted.');

const channelFields = {
  agent_id: nonBlank(64).describe('The agent that answers this channel; it must exist.'),
  page_id: nonBlank(256)
    .regex(/^\S(?:[\s\S]*\S)?$/, 'must not start or end with whitespace')
    .describe('The Page ID the client platform sends as `page_id`; unique across channels.'),
  reply_webhook_url: httpUrl(MAX_URL_LENGTH).describe('Where replies are POSTed (see the `reply` webhook).'),
  assistant_connected: z.boolean().describe('When false, messages are recorded but not answered.'),
  reply_delay_seconds: intBetween(0, 300).describe('Seconds to wait before delivering a reply, 0 to 300.'),
  voice_replies: z
    .enum(voiceRepliesValues, `must be one of ${voiceRepliesValues.join(', ')}`)
    .describe('When replies also carry speech audio: never, always, or only to a voice message.'),
  max_message_length: intBetween(100, 10_000).describe(
    'Longest reply part in characters; longer replies are split, 100 to 10000.',
  ),
  events_url: httpUrl(MAX_URL_LENGTH)
    .or(z.literal(''))
    .describe(
      'Where operational events (`message.failed`, `channel.delivery_paused`, `chat.handoff_requested`) are POSTed, signed like replies; empty for none.',
    ),
  typing_ms_per_char: intBetween(0, 1000).describe(
    'Paced parts: milliseconds of pause per character before each reply part after the first, as if typed; 0 (off) to 1000.',
  ),
  typing_max_seconds: intBetween(1, 60).describe('Paced parts: the longest pause before a part, 1 to 60 seconds.'),
  coalesce_window_seconds: intBetween(0, 60).describe(
    'Burst coalescing: messages of one end user arriving within this many seconds of the previous one, before its reply is generated, get one reply; 0 (off) to 60.',
  ),
  supersede_stale_replies: z
    .boolean()
    .describe(
      'When a newer message of the same end user arrives before a reply starts to go out (say, during the reply delay), the stale reply is dropped and the newer one is answered with both in the history.',
    ),
};

export const createChannelSchema = z
  .strictObject({
    agent_id: channelFields.agent_id,
    page_id: channelFields.page_id,
    api_token: apiTokenSchema.optional(),
    reply_webhook_url: channelFields.reply_webhook_url,
    assistant_connected: channelFields.assistant_connected.default(channelDefaults.assistant_connected),
    reply_delay_seconds: channelFields.reply_delay_seconds.default(channelDefaults.reply_delay_seconds),
    voice_replies: channelFields.voice_replies.default(channelDefaults.voice_replies),
    max_message_length: channelFields.max_message_length.default(channelDefaults.max_message_length),
    events_url: channelFields.events_url.default(channelDefaults.events_url),
    typing_ms_per_char: channelFields.typing_ms_per_char.default(channelDefaults.typing_ms_per_char),
    typing_max_seconds: channelFields.typing_max_seconds.default(channelDefaults.typing_max_seconds),
    coalesce_window_seconds: channelFields.coalesce_window_seconds.default(channelDefaults.coalesce_window_seconds),
    supersede_stale_replies: channelFields.supersede_stale_replies.default(channelDefaults.supersede_stale_replies),
  })
  .describe('A new channel: one client platform page, its API token, agent and Reply Webhook URL.');
export type CreateChannelRequest = z.infer<typeof createChannelSchema>;

export const updateChannelSchema = z
  .strictObject({
    agent_id: channelFields.agent_id.optional(),
    page_id: channelFields.page_id.optional(),
    reply_webhook_url: channelFields.reply_webhook_url.optional(),
    assistant_connected: channelFields.assistant_connected.optional(),
    reply_delay_seconds: channelFields.reply_delay_seconds.optional(),
    voice_replies: channelFields.voice_replies.optional(),
    max_message_length: channelFields.max_message_length.optional(),
    events_url: channelFields.events_url.optional(),
    typing_ms_per_char: channelFields.typing_ms_per_char.optional(),
    typing_max_seconds: channelFields.typing_max_seconds.optional(),
    coalesce_window_seconds: channelFields.coalesce_window_seconds.optional(),
    supersede_stale_replies: channelFields.supersede_stale_replies.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, atLeastOneField)
  .meta({ minProperties: 1 })
  .describe('The fields to change; the others keep their value. The API token changes only through rotate-token.');
export type UpdateChannelRequest = z.infer<typeof updateChannelSchema>;

export const rotateTokenSchema = z
  .strictObject({ api_token: apiTokenSchema.optional() })
  .describe('Optional: the new token to use. Without a body (or without `api_token`) a token is generated.');
export type RotateTokenRequest = z.infer<typeof rotateTokenSchema>;

export const channelResponseSchema = z
  .object({
    id: id('channel'),
    agent_id: z.string(),
    page_id: z.string(),
    api_token_last4: z
      .string()
      .describe('The last 4 characters of the API token, to tell tokens apart; the token itself is never shown again.'),
    token_version: z.number().int().describe('Incremented by every token rotation.'),
    reply_webhook_url: z.string(),
    assistant_connected: z.boolean(),
    reply_delay_seconds: z.number().int(),
    voice_replies: z.enum(voiceRepliesValues),
    max_message_length: z.number().int(),
    typing_ms_per_char: z.number().int(),
    typing_max_seconds: z.number().int(),
    coalesce_window_seconds: z.number().int(),
    supersede_stale_replies: z.boolean(),
    delivery_paused: z
      .boolean()
      .describe(
        'True after a receiver answered 410 Gone: replies wait, in order, until POST /v1/channels/{id}/resume.',
      ),
    paused_reason: z.string().nullable().describe('Why delivery is paused; null when it is not.'),
    events_url: z.string().describe('Where operational events are POSTed; empty when none.'),
    created_at: timestamp('When it was created'),
    updated_at: timestamp('When it was last changed'),
  })
  .describe('A channel. Its API token and signing secret are never part of it.');
export type ChannelResponse = z.infer<typeof channelResponseSchema>;

const shownOnce = {
  api_token: z.string().describe('The API token, shown this once: store it now.'),
  signing_secret: z
    .string()
    .describe(
      'The secret that signs reply POSTs (Standard Webhooks, `whsec_…`), shown this once: give it to the receiver.',
    ),
};

export const createdChannelResponseSchema = channelResponseSchema
  .extend(shownOnce)
  .describe('The new channel with its API token and signing secret, the only time both are shown.');
export type CreatedChannelResponse = z.infer<typeof createdChannelResponseSchema>;

export const channelWithTokenResponseSchema = channelResponseSchema
  .extend({ api_token: shownOnce.api_token })
  .describe('The channel with its new API token, the only time it is shown.');
export type ChannelWithTokenResponse = z.infer<typeof channelWithTokenResponseSchema>;

export const channelWithSigningSecretResponseSchema = channelResponseSchema
  .extend({
    signing_secret: shownOnce.signing_secret,
    previous_secrets_valid_until: z.iso
      .datetime()
      .describe(
        'Until then replies carry a signature with the previous secret too, so the receiver can switch without losing any.',
      ),
  })
  .describe('The channel with its new signing secret, the only time it is shown.');
export type ChannelWithSigningSecretResponse = z.infer<typeof channelWithSigningSecretResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Secrets key change

const channelIds = (description: string) => z.array(z.string()).describe(description);

export const reencryptSecretsResponseSchema = z
  .object({
    signing_secrets: z.object({
      reencrypted: z.number().int().describe('Secrets now under the current key.'),
      already_current: z.number().int().describe('Secrets that already were.'),
      unreadable: z
        .number()
        .int()
        .describe('Secrets no configured key opens: their channels cannot sign until rotate-signing-secret.'),
    }),
    api_tokens: z
      .object({
        under_old_key: channelIds(
          'Channels whose API token is hashed under an old key: keep that key in SECRETS_ENCRYPTION_OLD_KEYS until their tokens are rotated.',
        ),
        under_unknown_key: channelIds(
          'Channels whose API token is hashed under a key no longer configured: their token no longer works until rotated.',
        ),
        plain_sha256: channelIds(
          'Channels whose API token is stored as plain SHA-256 (from before keyed hashes); it keeps working; rotate it for the keyed hash.',
        ),
      })
      .describe(
        'API tokens cannot be re-hashed without the token itself, which is never stored: these channels need rotate-token.',
      ),
  })
  .describe(
    'What re-encrypting the stored secrets under the current SECRETS_ENCRYPTION_KEY did, and what it could not do.',
  );
export type ReencryptSecretsResponse = z.infer<typeof reencryptSecretsResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Lists

const limitSchema = z.coerce
  .number('must be a whole number between 1 and 100')
  .int('must be a whole number between 1 and 100')
  .min(1, 'must be a whole number between 1 and 100')
  .max(100, 'must be a whole number between 1 and 100')
  .default(20)
  .describe('Page size, 1 to 100.');
const afterSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .optional()
  .describe('Cursor: the `next_after` of the previous page. Items are ordered by id.');

export const listAgentsQuerySchema = z.strictObject({ limit: limitSchema, after: afterSchema });
export type ListAgentsQuery = z.infer<typeof listAgentsQuerySchema>;

export const listChannelsQuerySchema = z.strictObject({
  limit: limitSchema,
  after: afterSchema,
  agent_id: z
    .string()
    .min(1, 'must not be empty')
    .max(64, 'must be at most 64 characters')
    .optional()
    .describe('Only the channels of this agent.'),
});
export type ListChannelsQuery = z.infer<typeof listChannelsQuerySchema>;

const listOf = <T extends z.ZodType>(item: T, what: string) =>
  z
    .object({
      data: z.array(item),
      next_after: z.string().nullable().describe('Pass as `after` to get the next page; null on the last page.'),
    })
    .describe(`A page of ${what}.`);

export const agentListResponseSchema = listOf(agentResponseSchema, 'agents');
export const channelListResponseSchema = listOf(channelResponseSchema, 'channels');

// ---------------------------------------------------------------------------------------------
// Errors, health, the inbound webhook's answer

export const fieldErrorSchema = z.object({
  path: z.string().describe('The field, dotted for nested ones; `(body)` for the body as a whole.'),
  message: z.string(),
});

export const errorResponseSchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe('Stable machine-readable code, e.g. `invalid_request`, `unauthorized`, `not_found`, `conflict`.'),
      message: z.string().describe('What went wrong, for people.'),
      request_id: z.string().describe('Also in the `x-request-id` response header; quote it when reporting a problem.'),
      details: z.array(fieldErrorSchema).optional().describe('One entry per invalid field (400 only).'),
    }),
  })
  .describe('Every error answer has this shape.');

export const webhookAcceptedSchema = z
  .object({
    status: z.literal('accepted'),
    message_id: z.string().describe("chatrelay's id of the message."),
    workflow_id: z.string().describe('The Temporal workflow that answers it.'),
    duplicate: z.boolean().describe('True when this message_id was accepted before: it is answered once.'),
  })
  .describe('The message is durably recorded; the reply follows at the Reply Webhook URL.');

export const healthResponseSchema = z.object({ status: z.literal('ok') }).describe('The process is alive.');

export const readinessResponseSchema = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    checks: z
      .record(z.string(), z.object({ ok: z.boolean(), error: z.string().optional() }))
      .describe('One entry per dependency: `mongodb`, `temporal`.'),
  })
  .describe('Whether every dependency answers.');

// ---------------------------------------------------------------------------------------------
// The reply webhook: what a channel's Reply Webhook URL receives

export const replyFormSchema = z
  .object({
    text: z
      .string()
      .describe('The reply text (one part of it, when the reply is longer than the channel allows); may be empty.'),
    images: z
      .string()
      .describe('Image URLs, comma-separated; a comma inside a URL is percent-encoded (`%2C`). Empty when none.'),
    file: z.string().describe('One file URL, or empty.'),
    audio: z.string().describe('URL of the reply as speech (served at GET /media/{id}), or empty.'),
  })
  .describe('Form fields of a reply POST (application/x-www-form-urlencoded). All four are always present.');

export const replyHeadersSchema = z.object({
  'webhook-id': z
    .string()
    .describe('Identifies this reply part; the same on every retry of it, so a receiver can drop duplicates.'),
  'webhook-timestamp': z
    .string()
    .regex(/^\d+$/)
    .describe('Unix time (seconds) of this attempt; reject values more than a few minutes off.'),
  'webhook-signature': z
    .string()
    .describe(
      'Standard Webhooks signature(s): `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{raw body}">` keyed with the channel signing secret; during a secret rotation one per active secret, space-separated.',
    ),
  'x-chatrelay-message-id': z
    .string()
    .describe('The message this replies to (its `message_id` in the inbound answer).'),
  'x-chatrelay-part': z
    .string()
    .regex(/^\d+\/(\d+|\?)$/)
    .describe("This part's position, e.g. `2/3`: parts arrive in order, each after the previous one was accepted."),
});

// ---------------------------------------------------------------------------------------------

/**
 * Field errors of an admin body: those of the inbound contract (fieldErrors), with a clearer
 * wording for a non-integer where a whole number is expected.
 */
export function adminFieldErrors(error: z.ZodError, input: unknown): FieldError[] {
  const base = fieldErrors(error, input);
  return error.issues.map((issue, index) => {
    const described = base[index] ?? { path: '(body)', message: issue.message };
    if (issue.code === 'invalid_type' && issue.expected === 'int' && described.message !== 'is required') {
      return { path: described.path, message: described.message.replace(/^must be a int/, 'must be a whole number') };
    }
    return described;
  });
}

/** Query string errors: the schema's own messages, and unknown parameters named. */
export function queryErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys')
      return { path: issue.keys.join(', '), message: 'is not a known query parameter' };
    const path = issue.path.map(String).join('.') || '(query)';
    return { path, message: issue.message };
  });
}
