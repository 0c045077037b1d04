import type { ChatControlInput } from '../activities/chat-control.js';
import { applyChatControl, checkChatTurn } from './activity-proxies.js';
import { chatLineTurn, continueWithMemo } from '../chat-line/wait.js';

export type { ChatControlInput };

/**
 * An admin's pause or resume of a chat's assistant (human handoff). The pause lives on the chat
 * record, beside the window of recent history, so a message reads it with the window at no extra
 * cost. That record has one writer at a time, the holder of the chat's turn: FerretDB loses one of
 * two concurrent updates of a document (the window, or the pause). So the control takes a place in
 * the chat's line like a message (claimed by the API), waits for its turn, writes, and hands the
 * turn on: messages accepted before it are answered, those after it are not (until a resume).
 */
export async function chatControlWorkflow(input: ChatControlInput): Promise<{ applied: boolean }> {
  const { chatId, lineSeq } = input;
  // A long wait for the turn goes on in a fresh run (src/chat-line/wait.ts): it has done nothing yet.
  const turn = chatLineTurn(chatId, lineSeq, {
    continueAsNew: () => continueWithMemo<typeof chatControlWorkflow>(input),
  });
  if ((await checkChatTurn({ chatId, lineSeq })).granted) turn.grant();
  await turn.wait();
  return applyChatControl(input);
}
