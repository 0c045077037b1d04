/** The workflow id of a message: one workflow per message, so a repeated start is recognised. */
export const messageWorkflowId = (messageId: string): string => `chatrelay-message-${messageId}`;

/** The workflow that hands out turns for one chat (page id + client id). */
export const chatTurnsWorkflowId = (chatId: string): string => `chatrelay-chat-${chatId}`;
