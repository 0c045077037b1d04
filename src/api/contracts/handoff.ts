import { z } from 'zod';

/**
 * Contract of human handoff's admin routes (`/v1/channels/:id/chats/:chat_id/pause` and
 * `/resume`). Pure: the routes answer with it and the OpenAPI document derives from it.
 */
export const chatControlResponseSchema = z
  .object({
    chat_id: z.string(),
    assistant_paused: z.boolean().describe('The state asked for: true after pause, false after resume.'),
    applied: z
      .boolean()
      .describe(
        "True when the chat is in that state now. False while the change waits for its turn in the chat's line (an earlier message is still being answered): it applies when that message is done.",
      ),
    workflow_id: z.string().describe('The workflow that applies the change in its turn.'),
  })
  .describe("A chat's assistant paused (a person takes over) or resumed.");
export type ChatControlResponse = z.infer<typeof chatControlResponseSchema>;
