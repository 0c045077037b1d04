import { z } from 'zod';

/** Contract of the erasure API (`POST /v1/erasures`). Pure: the route validates with it and the OpenAPI document derives from it. */

const id = (what: string) => z.string().trim().min(1, 'must not be empty').max(256).describe(what);

export const erasureRequestSchema = z.strictObject({
  page_id: id("The channel's Page ID, as in the end user's messages."),
  client_id: id("The end user's id on the client platform, as in their messages."),
});

export const erasureResponseSchema = z.object({
  chat_id: z
    .string()
    .nullable()
    .describe(
      "The end user's chat on the channel that has the page id. When no channel has it: the most recently active of the chats stored under that page id (of a channel deleted and not swept yet, or moved since), all of which were erased; null when there is none.",
    ),
  erased: z
    .record(z.string(), z.number().int())
    .describe(
      'How many documents were deleted, by collection: the messages, every record of theirs (transcripts, replies, speech audio, delivery attempts, outcomes, redeliveries) and the chat with its history. All zero when nothing was stored (or it was erased before).',
    ),
});

export type ErasureRequest = z.infer<typeof erasureRequestSchema>;
export type ErasureResponse = z.infer<typeof erasureResponseSchema>;
