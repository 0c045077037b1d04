/**
 * Human handoff (issue 14, feature 4): a chat's assistant paused, by an admin or at the model's
 * request, so a person can take over. Pure: the tool the model is offered, and the words the
 * records use. No I/O; safe to import from workflow code.
 */

/** The function tool offered to the model when its agent has a `handoff_text`. */
export const HANDOFF_TOOL_NAME = 'handoff_to_human';

export const handoffTool = {
  type: 'function',
  function: {
    name: HANDOFF_TOOL_NAME,
    description:
      'Hand the conversation over to a human agent. Call it when the user asks for a person, or when you cannot help further.',
    parameters: { type: 'object', properties: {}, additionalProperties: false },
  },
} as const;

/** Why a message of a paused chat got no answer (its outcome's reason). */
export const HELD_FOR_PERSON_REASON = 'the chat is with a person: its assistant is paused';

/** The reason on a message whose reply was the handoff text (delivered as any reply). */
export const HANDOFF_REQUESTED_REASON = 'handoff requested: the model handed the chat to a person';

/** Who paused a chat's assistant. */
export type HandoffBy = 'admin' | 'model';
