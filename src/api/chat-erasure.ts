import type { ChatLine } from '../chat-line/line.js';
import { holdingChatTurn } from '../chat-line/hold.js';
import type { ErasureCounts } from '../domain/erasure.js';
import { chatIdFor } from '../stores/chats.js';
import type { Stores } from '../stores/index.js';
import type { HistoryErasure } from '../temporal/history-erasure.js';
import { conflict, unavailable } from './errors.js';

export interface ChatErasureDeps {
  stores: Pick<Stores, 'erasure' | 'lines'>;
  line: ChatLine;
  /** Deletes the erased user's workflow executions in Temporal (durably: a workflow of its own). */
  histories: HistoryErasure;
  /** How long an erasure waits for the chat's messages being answered (default 10 s); then 409. */
  waitMs?: number;
  /** How long the erasure may take before a message waiting behind it counts it as abandoned (default 10 min). */
  holdMs?: number;
}

/**
 * An end user's erasure, done in their chat's turn: it takes a place in the chat's line like a
 * message, so it waits for the messages accepted before it (which would otherwise write the chat
 * back after it) and the messages after it wait for it, then go at once. Their messages before it
 * are deleted with every record, and the workflows that ran for them with their histories (a
 * workflow of Temporal's does that, started first); the chat's line keeps its places' numbers and
 * ends (later claims and turns go by them) without the message or workflow ids.
 */
export function createChatErasure(deps: ChatErasureDeps) {
  const { erasure, lines } = deps.stores;

  /** Temporal's copies first, while the records still lead to them: refused, nothing is erased. */
  async function eraseHistories(chatId: string, beforePlace?: number): Promise<void> {
    const workflowIds = await erasure.workflowsOf(chatId, beforePlace);
    try {
      await deps.histories.erase(workflowIds);
    } catch {
      throw unavailable(
        "Temporal did not record the deletion of the end user's workflows; nothing was erased. Ask again once Temporal is reachable.",
      );
    }
  }

  return {
    async erase(pageId: string, clientId: string): Promise<{ chatId: string; erased: ErasureCounts }> {
      const chatId = chatIdFor(pageId, clientId);
      // A chat never seen (or erased and cut by retention): nothing to hold a place for.
      if ((await lines.lastTaken(chatId)) === (await lines.floor(chatId))) {
        await eraseHistories(chatId);
        return { chatId, erased: await erasure.eraseChat(chatId) };
      }
      const held = await holdingChatTurn(
        deps.line,
        chatId,
        { kind: 'erasure', waitMs: deps.waitMs ?? 10_000, holdMs: deps.holdMs ?? 10 * 60_000 },
        async (seq) => {
          // A 503 here leaves everything as it was, and the erasure asked again finds it all.
          await eraseHistories(chatId, seq);
          const erased = await erasure.eraseChat(chatId, { beforePlace: seq });
          await lines.blank(chatId, seq);
          return { value: erased };
        },
      );
      if (!held.held) {
        throw conflict(
          "The end user's chat has a message still being answered (or waiting for its channel); nothing was erased. Try again once it has ended.",
        );
      }
      return { chatId, erased: held.value };
    },
  };
}

export type ChatErasure = ReturnType<typeof createChatErasure>;
