import type { ChatLine } from '../chat-line/line.js';
import { holdingChatTurn } from '../chat-line/hold.js';
import { addCounts, type ErasureCounts } from '../domain/erasure.js';
import { chatIdFor } from '../stores/chats.js';
import type { Stores } from '../stores/index.js';
import type { HistoryErasure } from '../temporal/history-erasure.js';
import { conflict, HttpError, unavailable } from './errors.js';

export interface ChatErasureDeps {
  stores: Pick<Stores, 'erasure' | 'lines' | 'channels'>;
  line: ChatLine;
  /** Deletes the erased user's workflow executions in Temporal (durably: a workflow of its own). */
  histories: HistoryErasure;
  /** How long an erasure waits for the chat's messages being answered (default 10 s); then 409. */
  waitMs?: number;
  /** How long the erasure may take before a message waiting behind it counts it as abandoned (default 10 min). */
  holdMs?: number;
}

/** How often an erasure looks whether the workflows of the places it waited for have closed. */
const SETTLE_POLL_MS = 200;

/** A chat's erasure: what it deleted, or, when a message of the chat kept being answered, nothing. */
export type ChatErased = { erased: ErasureCounts } | { busy: true };

/**
 * An end user's erasure, done in their chat's turn: it takes a place in the chat's line like a
 * message, so it waits for the messages accepted before it (which would otherwise write the chat
 * back after it) and the messages after it wait for it, then go at once. Their messages before it
 * are deleted with every record, and the workflows that ran for them with their histories (a
 * workflow of Temporal's does that, started first); the chat's line keeps its places' numbers and
 * ends (later claims and turns go by them) without the message or workflow ids. A chat of a
 * deleted channel (`forGood`) loses its line too, then the chat document last, so a sweep stopped
 * half-way finds the chat again.
 */
/**
 * An erasure of several chats (by a page id no channel has) stopped at `chatId`, past the first:
 * the chats before it are erased, it and the rest are not, and asking again erases them.
 */
function partly(chatId: string, busy: boolean): HttpError {
  const rest = 'their chats before it were erased, it and the rest were not';
  return busy
    ? conflict(
        `The end user's chat ${chatId} has a message still being answered (or waiting for its channel); ${rest}. Try again once it has ended.`,
      )
    : unavailable(
        `Temporal did not answer for the end user's chat ${chatId}; ${rest}. Ask again once Temporal is reachable.`,
      );
}

export function createChatErasure(deps: ChatErasureDeps) {
  const { erasure, lines, channels } = deps.stores;

  /**
   * Waits until none of the workflows still runs (see HistoryErasure.stillRunning): a place of
   * the line ends a moment before its workflow closes. False when one still runs at `deadline`.
   */
  async function settled(chatId: string, workflowIds: readonly string[], deadline: number): Promise<boolean> {
    for (;;) {
      let running: string[];
      try {
        running = await deps.histories.stillRunning(chatId, workflowIds);
      } catch {
        throw unavailable(
          "Temporal did not answer which of the end user's workflows still run; nothing was erased. Ask again once Temporal is reachable.",
        );
      }
      if (running.length === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(SETTLE_POLL_MS, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Temporal's copies first, while the records still lead to them: refused, nothing is erased. */
  async function eraseHistories(workflowIds: readonly string[]): Promise<void> {
    try {
      await deps.histories.erase(workflowIds);
    } catch {
      throw unavailable(
        "Temporal did not record the deletion of the end user's workflows; nothing was erased. Ask again once Temporal is reachable.",
      );
    }
  }

  async function eraseChat(chatId: string, options: { forGood?: boolean } = {}): Promise<ChatErased> {
    const forGood = options.forGood === true;
    let erased: ErasureCounts;
    // A chat never seen (or erased and cut by retention): nothing to hold a place for.
    const waitMs = deps.waitMs ?? 10_000;
    if ((await lines.lastTaken(chatId)) === (await lines.floor(chatId))) {
      await eraseHistories(await erasure.workflowsOf(chatId));
      erased = await erasure.eraseChat(chatId, { keepChat: forGood });
    } else {
      const deadline = Date.now() + waitMs;
      const held = await holdingChatTurn(
        deps.line,
        chatId,
        { kind: 'erasure', waitMs, holdMs: deps.holdMs ?? 10 * 60_000 },
        async (seq) => {
          const workflowIds = await erasure.workflowsOf(chatId, seq);
          // The places before this one have ended; their workflows close a moment later, and
          // one that runs a step again must still find its records (it then does nothing).
          if (!(await settled(chatId, workflowIds, deadline))) return { value: null };
          // A 503 here leaves everything as it was, and the erasure asked again finds it all.
          await eraseHistories(workflowIds);
          const counts = await erasure.eraseChat(chatId, { beforePlace: seq, keepChat: forGood });
          await lines.blank(chatId, seq);
          return { value: counts };
        },
      );
      if (!held.held || held.value === null) return { busy: true };
      erased = held.value;
    }
    if (forGood) {
      // Nobody claims a place in it any more: its channel, and so its messages' token, is gone.
      addCounts(erased, await lines.drop(chatId));
      addCounts(erased, await erasure.eraseChatDocuments(chatId));
    }
    return { erased };
  }

  return {
    eraseChat,

    /**
     * The end user `clientId` of the page id `pageId`: their chat on the channel that has the page
     * id now; when none has it, every chat stored under that page id and client id (of a channel
     * deleted and not swept yet, or moved to another page since the user's latest message). The
     * chat id answered is the channel's chat, or the most recently active of those, or null.
     */
    async erase(pageId: string, clientId: string): Promise<{ chatId: string | null; erased: ErasureCounts }> {
      const channel = await channels.getByPageId(pageId);
      const chatIds = channel ? [chatIdFor(channel.id, clientId)] : await erasure.chatsOfPageClient(pageId, clientId);
      const erased: ErasureCounts = {};
      for (const [index, chatId] of chatIds.entries()) {
        let done: ChatErased;
        try {
          done = await eraseChat(chatId);
        } catch (error) {
          throw index > 0 && error instanceof HttpError && error.status === 503 ? partly(chatId, false) : error;
        }
        if ('busy' in done) {
          throw index === 0
            ? conflict(
                "The end user's chat has a message still being answered (or waiting for its channel); nothing was erased. Try again once it has ended.",
              )
            : partly(chatId, true);
        }
        addCounts(erased, done.erased);
      }
      return { chatId: chatIds[0] ?? null, erased };
    },
  };
}

export type ChatErasure = ReturnType<typeof createChatErasure>;
