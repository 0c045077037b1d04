import type { ActivityDeps } from './deps.js';

/** What an admin's pause or resume of a chat's assistant writes, in the chat's turn. */
export interface ChatControlInput {
  chatId: string;
  /** The control's own place in the chat's line, claimed by the API. */
  lineSeq: number;
  /** True: pause the assistant (a person takes over); false: resume it. */
  paused: boolean;
  /** When the admin asked (ISO 8601): the pause's `since`. */
  requestedAt: string;
}

/** The admin's side of human handoff: the chat's pause written by the holder of the chat's turn. */
export function createChatControlActivities(deps: ActivityDeps) {
  return {
    /**
     * Pauses or resumes the chat's assistant, then hands the chat's turn on. Runs only in the
     * control's turn, so the chat record has this one writer. Safe to repeat. `applied` is false
     * when the chat no longer exists (erased meanwhile).
     */
    async applyChatControl(input: ChatControlInput): Promise<{ applied: boolean }> {
      const applied = await deps.stores.chats.setHandoff(
        input.chatId,
        input.paused ? { since: new Date(input.requestedAt), by: 'admin' } : null,
      );
      // Applied in the control's turn (the workflow waited for it), so its place ends finished.
      await deps.line.end(input.chatId, input.lineSeq, { turnHeld: true });
      return { applied };
    },
  };
}
