import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { MessageStatus } from '../domain/models.js';

/**
 * The search attributes every message workflow carries, so that an operator finds a chat's
 * messages (`ChatRelayChatId="…"`), a channel's, or the failed ones (`ChatRelayStatus="failed"`)
 * in the Temporal UI or with `temporal workflow list --query`. All keywords: exact matches only.
 * They must be registered on the namespace (docs/operations.md, "Search attributes"); the worker refuses to start
 * without them (src/temporal/search-attribute-registry.ts).
 *
 * Pure definitions: imported by the workflows (the final status), the API (the start) and the
 * registry check.
 */
export const channelIdAttribute = defineSearchAttributeKey('ChatRelayChannelId', SearchAttributeType.KEYWORD);
export const chatIdAttribute = defineSearchAttributeKey('ChatRelayChatId', SearchAttributeType.KEYWORD);
export const statusAttribute = defineSearchAttributeKey('ChatRelayStatus', SearchAttributeType.KEYWORD);

export const messageSearchAttributes = [channelIdAttribute, chatIdAttribute, statusAttribute] as const;

/**
 * Set when the workflow starts (no history event of their own: they ride on the start event). The
 * status stays `accepted` while the message runs (a status change mid-way would cost an event
 * each) and is set once more, to the final status, in the task that completes the workflow.
 */
export function startSearchAttributes(message: { channelId: string; chatId: string }): SearchAttributePair[] {
  return [
    { key: channelIdAttribute, value: message.channelId },
    { key: chatIdAttribute, value: message.chatId },
    { key: statusAttribute, value: 'accepted' satisfies MessageStatus },
  ];
}
