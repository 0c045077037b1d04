/**
 * Every id and URL format chatrelay makes, in one place. Pure: workflows, activities, the API
 * and tests all build ids through these functions, never by hand.
 */

const MESSAGE_WORKFLOW_PREFIX = 'chatrelay-message-';

/** The workflow id of a message: one workflow per message, so a repeated start is recognised. */
export const messageWorkflowId = (messageId: string): string => `${MESSAGE_WORKFLOW_PREFIX}${messageId}`;

/** The message a workflow id belongs to (a message workflow or one of its redeliveries), if any. */
export function messageIdOfWorkflow(workflowId: string): string | undefined {
  if (!workflowId.startsWith(MESSAGE_WORKFLOW_PREFIX)) return undefined;
  return workflowId.slice(MESSAGE_WORKFLOW_PREFIX.length).replace(/-redelivery-\d+$/, '');
}

/** An admin's n-th redelivery of a message's reply. */
export const redeliveryWorkflowId = (messageId: string, redelivery: number): string =>
  `${messageWorkflowId(messageId)}-redelivery-${redelivery}`;

/** An admin's pause or resume of a chat's assistant (human handoff): one workflow each, `nonce` random. */
export const chatControlWorkflowId = (chatId: string, paused: boolean, nonce: string): string =>
  `chatrelay-handoff-${chatId}-${paused ? 'pause' : 'resume'}-${nonce}`;

/** Place `seq` (from 1) in a chat's line (see chat-line/store.ts). */
export const lineSlotId = (chatId: string, seq: number): string => `${chatId}:${seq}`;

/** The `webhook-id` of a reply part: the same on every attempt, so receivers can drop repeats. */
export const deliveryId = (messageId: string, partIndex: number): string => `${messageId}.${partIndex}`;

/**
 * The "one moment" part sent while the model is slow: it is not a part of the reply, so its
 * attempts are recorded under this index (shown as part 0) and its `webhook-id` is its own.
 */
export const INTERIM_PART = -1;

/** The `webhook-id` of a message's "one moment" part: the same on every attempt. */
export const interimDeliveryId = (messageId: string): string => `${messageId}.interim`;

/** The record of one delivery attempt within its message (attempt from 1; redelivery number if any). */
export const attemptKey = (partIndex: number, attempt: number, redelivery?: number): string =>
  `p${partIndex}a${attempt}${redelivery !== undefined ? `r${redelivery}` : ''}`;

/** A chat history entry: one per message and role, whatever the retries. */
export const historyEntryId = (messageId: string, role: 'user' | 'assistant'): string => `${messageId}:${role}`;

/** Where the API serves a stored speech blob. */
export const mediaUrl = (publicBaseUrl: string, blobId: string): string => `${publicBaseUrl}/media/${blobId}`;

/** A delivery attempt's record. */
export const deliveryAttemptId = (messageId: string, key: string): string => `${messageId}:${key}`;

/** How a message ended (or, with `redelivery`, how one redelivery of it ended). */
export const outcomeId = (messageId: string, redelivery?: number): string =>
  redelivery === undefined ? messageId : `${messageId}:r${redelivery}`;

/** An admin's n-th redelivery of a message. */
export const redeliveryId = (messageId: string, redelivery: number): string => `${messageId}:r${redelivery}`;

/** The speech of one reply part. */
export const speechId = (messageId: string, partIndex: number): string => `${messageId}:${partIndex}`;

/**
 * An operational event's id, its `webhook-id` on every attempt: one per kind of event and what it
 * is about (a message, a delivery attempt), so the same event emitted twice is one event.
 */
export const operationalEventId = (type: string, subject: string): string => `${type}:${subject}`;

/** The workflow that delivers one operational event: one per event id, so a repeated emit starts nothing. */
export const operationalEventWorkflowId = (eventId: string): string => `chatrelay-event-${eventId}`;
