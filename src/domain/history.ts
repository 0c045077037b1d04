/**
 * A chat's recent history, as kept in its chat document for the model: pure list handling.
 */

export interface HistoryEntry {
  /** historyEntryId(messageId, role) */
  id: string;
  role: 'user' | 'assistant';
  content: string;
  attachments: string[];
}

/** How much of a chat's history its own document keeps for the model: enough for any agent. */
export const RECENT_ENTRIES = 200;
export const RECENT_CHARACTERS = 400_000;

/** The recent history with `entries` appended (those not already there), trimmed to its bounds. */
export function appendRecent(
  recent: HistoryEntry[],
  entries: HistoryEntry[],
): { recent: HistoryEntry[]; added: number } {
  const known = new Set(recent.map((entry) => entry.id));
  const fresh = entries.filter((entry) => !known.has(entry.id));
  if (fresh.length === 0) return { recent, added: 0 };
  return { recent: trimRecent([...recent, ...fresh]), added: fresh.length };
}

export function trimRecent(entries: HistoryEntry[]): HistoryEntry[] {
  const kept = entries.slice(-RECENT_ENTRIES);
  let characters = kept.reduce((sum, entry) => sum + entry.content.length, 0);
  while (kept.length > 1 && characters > RECENT_CHARACTERS) characters -= kept.shift()!.content.length;
  return kept;
}

/**
 * How much history a chat keeps for its model between messages: the entries the agent reads, and
 * no more than WINDOW_CHARACTERS. Kept small on purpose: the chat's document is rewritten on every
 * message, and on the MongoDB-compatible server used here a write costs in proportion to the
 * collection's size (docs/architecture.md).
 */
export const WINDOW_CHARACTERS = 64_000;

export function trimWindow(entries: HistoryEntry[], windowEntries: number): HistoryEntry[] {
  const kept = entries.slice(-Math.max(1, windowEntries));
  let characters = kept.reduce((sum, entry) => sum + entry.content.length, 0);
  while (kept.length > 1 && characters > WINDOW_CHARACTERS) characters -= kept.shift()!.content.length;
  return kept;
}
