/** The workflow id of a message: one workflow per message, so a repeated start is recognised. */
export const messageWorkflowId = (messageId: string): string => `chatrelay-message-${messageId}`;
