import type { HistoryEntry } from '../domain/history.js';
import { deliveryId, historyEntryId } from '../domain/ids.js';
import { agentDefaults } from '../domain/models.js';
import { HANDOFF_REQUESTED_REASON, HELD_FOR_PERSON_REASON, handoffTool } from '../domain/handoff.js';
import { eventTargetOf } from '../domain/operational-events.js';
import { buildPrompt, userContent } from '../domain/prompt.js';
import { buildReplyParts } from '../domain/reply-parts.js';
import { ttlCache } from '../lib/caches.js';
import type { ChatSighting } from '../stores/chats.js';
import type { ChatDoc, ChatHandoff, MessageDoc, StoredPart } from '../stores/collections.js';
import { refusedImageAttachments } from './attachments.js';
import { createEventEmitter } from './events.js';
import { activityLogger, type ActivityDeps } from './deps.js';
import { agentGone, messageNotStored } from './failures.js';

export interface ReplyInput {
  messageId: string;
  chatId: string;
  agentId: string;
  voicePrefix: string;
  maxMessageLength: number;
}

/**
 * What writing a reply did: the reply stored, each part's length (their number is the part count),
 * whether an earlier run of the step had written it (and may have sent some of its parts), and
 * `handoff` when it is the agent's handoff text (the model handed the chat to a person, and the
 * chat is paused); or nothing, because the chat is with a person (`held`: the message joined the
 * chat's history unanswered).
 */
export type Composed = { partLengths: number[]; writtenBefore: boolean; handoff?: true } | { held: string };

/** The length of each part of a stored reply, in characters: what paced delivery needs of it. */
const lengthsOf = (parts: readonly StoredPart[]): number[] => parts.map((part) => part.text.length);

/** What a message tells about its chat's end user. */
function sightingOf(message: MessageDoc): ChatSighting {
  return {
    channelId: message.channel_id,
    pageId: message.page_id,
    clientId: message.client_id,
    platform: message.platform,
    ...(message.inbound.client_name !== undefined ? { clientName: message.inbound.client_name } : {}),
    ...(message.inbound.client_avatar !== undefined ? { clientAvatar: message.inbound.client_avatar } : {}),
    seenAt: message.received_at,
  };
}

/** Writing a reply: the model call, the chat's history and the reply's parts. */
export function createReplies(deps: ActivityDeps) {
  const { stores, model } = deps;
  const events = createEventEmitter(deps);
  const agents = ttlCache((id) => stores.agents.get(id), { ttlMs: deps.settings.channelCacheTtlMs });

  async function requireMessage(messageId: string): Promise<MessageDoc> {
    const message = await stores.messages.get(messageId);
    if (!message) throw messageNotStored(messageId);
    return message;
  }

  async function userEntry(message: MessageDoc, voicePrefix: string): Promise<HistoryEntry> {
    const transcript = message.inbound.audio !== undefined ? await stores.messages.transcript(message) : undefined;
    return {
      id: historyEntryId(message._id, 'user'),
      role: 'user',
      content: userContent(
        { inbound: message.inbound, ...(transcript !== undefined ? { transcript } : {}) },
        voicePrefix,
      ),
      attachments: message.inbound.attachments ?? [],
    };
  }

  /** The reply an earlier run of this turn wrote into the chat's history, if any. */
  const replyWrittenBefore = (chat: ChatDoc | null, messageId: string): string | undefined =>
    chat?.recent?.find((entry) => entry.id === historyEntryId(messageId, 'assistant'))?.content;

  /**
   * Writes the message and its reply into the chat's history, then the reply's parts: two
   * writes, each safe to repeat (an entry already in the history is not added twice; the parts of
   * a reply are written once). Returns each part's length.
   */
  async function storeReply(
    input: ReplyInput,
    message: MessageDoc,
    chat: ChatDoc | null,
    user: HistoryEntry,
    reply: string,
    windowEntries: number,
    reason?: string,
    handoff?: ChatHandoff,
  ): Promise<number[]> {
    const assistant: HistoryEntry = {
      id: historyEntryId(message._id, 'assistant'),
      role: 'assistant',
      content: reply,
      attachments: [],
    };
    await stores.chats.recordTurn(
      message.chat_id,
      chat,
      sightingOf(message),
      [user, assistant],
      windowEntries,
      handoff,
    );
    const parts: StoredPart[] = buildReplyParts(reply, input.maxMessageLength).map((part, index) => ({
      index,
      text: part.text,
      images: part.images,
      ...(part.file !== undefined ? { file: part.file } : {}),
      delivery_id: deliveryId(message._id, index),
    }));
    await stores.messages.saveReply(message._id, parts, reason);
    return lengthsOf(parts);
  }

  /** A reply that is the handoff text: the channel's events URL told, and the workflow too. */
  async function handedOff(message: MessageDoc, partLengths: number[], writtenBefore: boolean): Promise<Composed> {
    // The channel's events URL (when it has one) learns that a person is needed: one event per
    // handoff, however often the step runs (its id is the message's).
    const target = message.snapshot ? eventTargetOf(message.snapshot) : undefined;
    if (target) {
      await events.handoffRequested(target, {
        chat_id: message.chat_id,
        client_id: message.client_id,
        message_id: message._id,
      });
    }
    return { partLengths, writtenBefore, handoff: true };
  }

  /**
   * Generates the reply with the channel's agent from the chat's recent history, and stores it;
   * returns each part's length (their number is the reply's part count); while the chat is with a
   * person, only adds the message to the history. Safe to run again: a reply already stored is
   * reused, never generated twice, and a message whose outcome is stored (its turn released, the
   * chat's window the next message's) writes nothing. `firstRun`: admission inserted the message
   * in this very step, so there is nothing stored to look up (the common case pays no read for it).
   */
  async function compose(input: ReplyInput, run: { firstRun: boolean } = { firstRun: false }): Promise<Composed> {
    const message = await requireMessage(input.messageId);
    if (!run.firstRun) {
      // Maybe run before, by a retry or by a local activity re-run from attempt 1 after its workflow
      // task was lost: what that run stored decides, never the attempt number.
      const [saved, outcome] = await Promise.all([
        stores.messages.reply(input.messageId),
        stores.messages.outcome(input.messageId),
      ]);
      if (saved?.reason === HANDOFF_REQUESTED_REASON) return handedOff(message, lengthsOf(saved.parts), true);
      if (saved) return { partLengths: lengthsOf(saved.parts), writtenBefore: true };
      // Ended without a reply (the chat was with a person), its turn handed on: the window is the
      // next message's now, and a write from this step's read would erase its entries.
      if (outcome) return { held: outcome.reason ?? HELD_FOR_PERSON_REASON };
    }
    const agent = await agents.get(input.agentId);
    if (!agent) throw agentGone(input.agentId);
    const [chat, user] = await Promise.all([stores.chats.get(input.chatId), userEntry(message, input.voicePrefix)]);
    const windowEntries = Math.max(agent.max_history_messages, agentDefaults.max_history_messages);
    const earlier = replyWrittenBefore(chat, message._id);
    if (earlier !== undefined) {
      // Written before by a run whose result was lost (a retried activity, or a local activity run
      // again when its workflow task did not complete): the same reply again, and maybe parts sent.
      // The handoff, if this message's model asked for it, is in the chat already.
      if (chat?.handoff?.message_id !== message._id)
        return {
          partLengths: await storeReply(input, message, chat, user, earlier, windowEntries),
          writtenBefore: true,
        };
      const lengths = await storeReply(input, message, chat, user, earlier, windowEntries, HANDOFF_REQUESTED_REASON);
      return handedOff(message, lengths, true);
    }
    if (chat?.handoff) {
      // The chat is with a person: the message joins the history the model will read once it is
      // resumed, and gets no answer. The pause is read with the window: nothing more to read.
      await stores.chats.recordTurn(message.chat_id, chat, sightingOf(message), [user], windowEntries);
      return { held: HELD_FOR_PERSON_REASON };
    }
    const started = Date.now();
    // The history the model sees: the chat's window without this message (a retried turn may have written it).
    const recent = (chat?.recent ?? []).filter((entry) => entry.id !== user.id);
    const { settings } = deps;
    const refusedImages = agent.vision
      ? await refusedImageAttachments(
          user.attachments,
          settings.attachmentPolicy ?? settings.audioFetch,
          activityLogger(deps.logger),
        )
      : undefined;
    const request = {
      model: agent.model,
      temperature: agent.temperature,
      messages: buildPrompt(agent, recent, user, {
        ...(refusedImages ? { refusedImages } : {}),
        ...(settings.promptMaxChars !== undefined ? { maxChars: settings.promptMaxChars } : {}),
      }),
    };
    // Without a handoff text the request is exactly what it always was: no tools offered.
    const handoffText = agent.handoff_text?.trim() ? agent.handoff_text : undefined;
    let reply: string;
    if (handoffText === undefined) reply = await model.complete(request);
    else {
      const answer = await model.completeWithTools({ ...request, tools: [handoffTool] });
      // A tool call is the handoff's: the only tool offered (the client refuses a call of any other).
      if (answer.kind === 'tool') {
        activityLogger(deps.logger).info({ messageId: input.messageId, ms: Date.now() - started }, 'handoff requested');
        const handoff: ChatHandoff = { since: new Date(), by: 'model', message_id: message._id };
        const reason = HANDOFF_REQUESTED_REASON;
        const lengths = await storeReply(input, message, chat, user, handoffText, windowEntries, reason, handoff);
        return handedOff(message, lengths, false);
      }
      reply = answer.text;
    }
    activityLogger(deps.logger).info(
      { messageId: input.messageId, ms: Date.now() - started, characters: reply.length },
      'reply generated',
    );
    return { partLengths: await storeReply(input, message, chat, user, reply, windowEntries), writtenBefore: false };
  }

  return {
    compose,
    activities: {
      /**
       * Writes the reply (see compose); with `partLengths` (paced parts: writingPlan in
       * src/domain/reply-plan.ts), also says how long each part is. `held`: no reply, the chat is
       * with a person; `handoff`: the reply is the handoff text.
       */
      async composeReply(input: ReplyInput & { partLengths?: boolean }): Promise<{
        partCount: number;
        partLengths?: number[];
        handoff?: true;
        held?: string;
      }> {
        const { partLengths: withLengths, ...reply } = input;
        const composed = await compose(reply);
        if ('held' in composed) return { partCount: 0, held: composed.held };
        const { partLengths } = composed;
        const handoff = composed.handoff ? ({ handoff: true } as const) : {};
        return { partCount: partLengths.length, ...handoff, ...(withLengths === true ? { partLengths } : {}) };
      },

      /** Stores the agent's fallback reply in place of a reply the model could not give. */
      async composeFallbackReply(input: ReplyInput & { reason: string }): Promise<{ partCount: number }> {
        const message = await requireMessage(input.messageId);
        const saved = await stores.messages.reply(input.messageId);
        if (saved) return { partCount: saved.parts.length };
        const agent = await agents.get(input.agentId);
        const [chat, user] = await Promise.all([stores.chats.get(input.chatId), userEntry(message, input.voicePrefix)]);
        const text = replyWrittenBefore(chat, message._id) ?? agent?.fallback_reply ?? agentDefaults.fallback_reply;
        const windowEntries = Math.max(agent?.max_history_messages ?? 0, agentDefaults.max_history_messages);
        return { partCount: (await storeReply(input, message, chat, user, text, windowEntries, input.reason)).length };
      },

      /**
       * Adds a message that gets no reply (the assistant is off for its channel, or it went into a
       * later message of its burst) to the chat's history; not once its outcome is stored (a re-run
       * after its turn was handed on must not rewrite the next message's window).
       */
      async recordUnansweredMessage(input: { messageId: string; chatId: string; voicePrefix?: string }): Promise<void> {
        const message = await requireMessage(input.messageId);
        if (await stores.messages.outcome(input.messageId)) return;
        const [chat, user] = await Promise.all([
          stores.chats.get(input.chatId),
          userEntry(message, input.voicePrefix ?? agentDefaults.voice_prefix),
        ]);
        await stores.chats.recordTurn(
          message.chat_id,
          chat,
          sightingOf(message),
          [user],
          agentDefaults.max_history_messages,
        );
      },
    },
  };
}
