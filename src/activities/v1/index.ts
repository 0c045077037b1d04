import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { ErrorType } from '../../domain/errors.js';
import {
  agentDefaults,
  type ChannelSnapshot,
  type InboundEnvelope,
  type MessageStage,
  type MessageStatus,
} from '../../domain/models.js';
import { buildReplyParts } from '../../domain/reply-parts.js';
import { isAudioContentType } from '../../domain/voice.js';
import { toModelMessage, userContent } from '../../domain/prompt.js';
import type { Logger } from '../../lib/logger.js';
import { safeFetch, UnsafeUrlError } from '../../lib/safe-fetch.js';
import { mediaUrl, messageWorkflowId } from '../../domain/ids.js';
import { replyForm } from '../../domain/reply-form.js';
import type { HistoryEntry, MessageDoc } from '../../stores/collections.js';
import { historyEntryId } from '../../domain/ids.js';
import { ttlCache } from '../../lib/ttl-cache.js';
import type { Stores } from '../../stores/index.js';
import type { LegacyHistoryStore } from '../../stores/legacy-history.js';
import type { LegacyMessageStore } from '../../stores/legacy-messages.js';
import type { ModelClient } from '../model.js';
import { postForm, type PostOutcome } from '../reply-post.js';
import { signatureHeaders } from '../signing.js';
import type { TurnsClient } from './turns-client.js';
import type { ActivitySettings } from '../deps.js';
import { channelSnapshot } from '../../domain/snapshot.js';

export type { ActivitySettings };

export interface ActivityDeps {
  stores: Pick<Stores, 'agents' | 'channels' | 'chats' | 'blobs' | 'signingSecrets'> & {
    history: LegacyHistoryStore;
    messages: LegacyMessageStore;
  };
  model: ModelClient;
  turns: TurnsClient;
  settings: ActivitySettings;
  logger: Logger;
}

export type ValidationResult =
  { ok: true; snapshot: ChannelSnapshot } | { ok: false; outcome: 'not_answered' | 'failed'; reason: string };

export interface ReplyInput {
  messageId: string;
  agentId: string;
  voicePrefix: string;
  maxMessageLength: number;
}

export interface DeliverInput {
  messageId: string;
  channelId: string;
  partIndex: number;
  partCount: number;
  attempt: number;
  /** The snapshot's reply URL; a redelivery leaves it out and uses the channel's current one. */
  url?: string;
  redelivery?: number;
}

export interface DeliveryResult {
  /** `paused`: nothing was sent because the channel's delivery is paused. */
  outcome: PostOutcome['result'] | 'paused';
  status?: number;
  retryAfterSeconds?: number;
  error?: string;
}

/**
 * Version 1's activities (a sequencer workflow per chat, one activity per reply part), kept so that
 * workflows in flight at the upgrade finish. Frozen: new work goes to src/activities/*.ts.
 */
export function createV1Activities(deps: ActivityDeps) {
  const { stores, model, settings } = deps;
  // Delivery reads the channel (paused? current URL?) and its signing secrets for every part; a
  // short cache spares those reads. A pause set here is seen at once (invalidated below); one set
  // by another worker or an admin within the TTL: a receiver's own 410 answers cover that.
  const ttlMs = settings.channelCacheTtlMs;
  const channelCache = ttlCache((id) => stores.channels.get(id), { ttlMs });
  const secretsCache = ttlCache((channelId) => stores.signingSecrets.active(channelId), { ttlMs });

  const log = () => {
    try {
      const info = Context.current().info;
      return deps.logger.child({ workflowId: info.workflowExecution?.workflowId, activity: info.activityType });
    } catch {
      return deps.logger;
    }
  };

  async function requireMessage(messageId: string) {
    const message = await stores.messages.get(messageId);
    if (!message)
      throw ApplicationFailure.create({
        type: ErrorType.ChannelGone,
        message: `message ${messageId} is not stored`,
        nonRetryable: true,
      });
    return message;
  }

  async function requireAgent(agentId: string) {
    const agent = await stores.agents.get(agentId);
    if (!agent)
      throw ApplicationFailure.create({
        type: ErrorType.ChannelGone,
        message: `agent ${agentId} no longer exists`,
        nonRetryable: true,
      });
    return agent;
  }

  /** Splits a stored reply into parts that fit the channel; saved once, whatever the retries. */
  async function saveParts(messageId: string, reply: string, maxMessageLength: number): Promise<number> {
    const parts = buildReplyParts(reply, maxMessageLength);
    await stores.messages.saveParts(
      parts.map((part, index) => ({
        _id: `${messageId}:${index}`,
        message_id: messageId,
        index,
        text: part.text,
        images: part.images,
        ...(part.file !== undefined ? { file: part.file } : {}),
        delivery_id: `${messageId}.${index}`,
      })),
    );
    await stores.messages.update(messageId, { part_count: parts.length, stage: 'preparing' });
    return parts.length;
  }

  /** Adds the user's message and the reply to the chat's history (once) and saves the reply's parts. */
  async function recordReply(
    input: ReplyInput,
    message: MessageDoc,
    state: { seq: number; recent: HistoryEntry[] },
    reply: string,
  ): Promise<number> {
    await stores.history.append(message.chat_id, state, [
      {
        messageId: message._id,
        role: 'user',
        content: userContent(message, input.voicePrefix),
        attachments: message.inbound.attachments ?? [],
      },
      { messageId: message._id, role: 'assistant', content: reply },
    ]);
    return saveParts(message._id, reply, input.maxMessageLength);
  }

  return {
    /** Puts the message in its chat's line (the API normally has already; see message-starter.ts). */
    async requestChatTurn(input: { chatId: string; messageId: string; workflowId: string }): Promise<void> {
      await deps.turns.requestTurn(input.chatId, { messageId: input.messageId, workflowId: input.workflowId });
    },

    async isWorkflowRunning(input: { workflowId: string }): Promise<boolean> {
      return deps.turns.isWorkflowRunning(input.workflowId);
    },

    /**
     * Stores the message as accepted, checks its channel, takes the settings it will use and
     * records the chat: the first step of every message, in four database operations.
     */
    async acceptMessage(envelope: InboundEnvelope): Promise<ValidationResult> {
      const chatId = envelope.chatId;
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? messageWorkflowId(envelope.messageId);
      const channel = await stores.channels.get(envelope.channelId);
      const agent = channel ? await stores.agents.get(channel.agent_id) : undefined;
      let result: ValidationResult;
      if (!channel || channel.page_id !== envelope.pageId)
        result = { ok: false, outcome: 'failed', reason: 'the channel no longer exists' };
      else if (channel.token_version !== envelope.tokenVersion) {
        result = {
          ok: false,
          outcome: 'failed',
          reason: 'the API token the message was sent with has been rotated',
        };
      } else if (!channel.assistant_connected)
        result = {
          ok: false,
          outcome: 'not_answered',
          reason: 'the assistant is not connected to this channel',
        };
      else if (!agent) result = { ok: false, outcome: 'failed', reason: "the channel's agent no longer exists" };
      else {
        result = {
          ok: true,
          snapshot: channelSnapshot(channel, agent, settings.retryScheduleSeconds),
        };
      }
      await stores.messages.recordAccepted(
        envelope,
        workflowId,
        chatId,
        result.ok ? { snapshot: result.snapshot } : {},
      );
      await stores.chats.upsert({
        pageId: envelope.pageId,
        clientId: envelope.message.client_id,
        platform: envelope.message.platform,
        clientName: envelope.message.client_name,
        clientAvatar: envelope.message.client_avatar,
        seenAt: new Date(envelope.receivedAt),
      });
      return result;
    },

    /** Downloads the voice note and turns it into text, kept on the message record. */
    async transcribe(input: { messageId: string; agentId: string }): Promise<{ characters: number }> {
      const message = await requireMessage(input.messageId);
      if (message.transcript !== undefined) return { characters: message.transcript.length };
      const audioUrl = message.inbound.audio;
      if (!audioUrl) return { characters: 0 };
      const agent = await requireAgent(input.agentId);
      let audio: { data: Buffer; contentType: string; finalUrl: string };
      try {
        audio = await safeFetch(audioUrl, { ...settings.audioFetch, allowedContentTypes: isAudioContentType });
      } catch (error) {
        if (error instanceof UnsafeUrlError) {
          throw ApplicationFailure.create({
            type: error.retryable ? ErrorType.AudioUnavailable : ErrorType.AudioRejected,
            message: `voice message could not be fetched: ${error.message}`,
            nonRetryable: !error.retryable,
          });
        }
        throw error;
      }
      const filename = new URL(audio.finalUrl).pathname.split('/').pop() || 'voice.mp3';
      const transcript = await model.transcribe({
        model: agent.transcription_model,
        audio: audio.data,
        filename,
        contentType: audio.contentType,
      });
      await stores.messages.update(input.messageId, { transcript, stage: 'transcribing' });
      log().info({ messageId: input.messageId, bytes: audio.data.length }, 'voice message transcribed');
      return { characters: transcript.length };
    },

    /** Adds the user's message to the chat history once (for messages that get no reply). */
    async addUserMessage(input: { messageId: string; voicePrefix?: string }): Promise<void> {
      const message = await requireMessage(input.messageId);
      const state = await stores.history.state(message.chat_id);
      await stores.history.append(message.chat_id, state, [
        {
          messageId: message._id,
          role: 'user',
          content: userContent(message, input.voicePrefix ?? agentDefaults.voice_prefix),
          attachments: message.inbound.attachments ?? [],
        },
      ]);
    },

    /**
     * Generates the reply with the channel's agent from the chat's recent history, stores the
     * message and the reply in the history, and saves the reply's parts. Safe to retry: a reply
     * already stored is reused, never generated twice into the history.
     */
    async generateReply(input: ReplyInput): Promise<{ partCount: number }> {
      const message = await requireMessage(input.messageId);
      const state = await stores.history.state(message.chat_id);
      const stored = state.recent.find((entry) => entry.id === historyEntryId(message._id, 'assistant'));
      if (stored) return { partCount: await saveParts(message._id, stored.content, input.maxMessageLength) };
      await stores.messages.update(input.messageId, { stage: 'generating' });
      const agent = await requireAgent(input.agentId);
      const earlier = agent.max_history_messages > 0 ? state.recent.slice(-agent.max_history_messages) : [];
      const messages: ChatCompletionMessageParam[] = [];
      if (agent.system_prompt.trim().length > 0) messages.push({ role: 'system', content: agent.system_prompt });
      for (const entry of earlier) messages.push(toModelMessage(entry, false));
      const user: HistoryEntry = {
        id: historyEntryId(message._id, 'user'),
        role: 'user',
        content: userContent(message, input.voicePrefix),
        attachments: message.inbound.attachments ?? [],
      };
      messages.push(toModelMessage(user, agent.vision));
      const started = Date.now();
      const reply = await model.complete({ model: agent.model, temperature: agent.temperature, messages });
      log().info({ messageId: input.messageId, ms: Date.now() - started, characters: reply.length }, 'reply generated');
      return { partCount: await recordReply(input, message, state, reply) };
    },

    /** Stores the agent's fallback reply in place of a reply the model could not give. */
    async storeFallbackReply(input: ReplyInput & { reason: string }): Promise<{ partCount: number }> {
      const message = await requireMessage(input.messageId);
      const state = await stores.history.state(message.chat_id);
      const agent = await stores.agents.get(input.agentId);
      const text = agent?.fallback_reply ?? agentDefaults.fallback_reply;
      await stores.messages.update(input.messageId, { reason: input.reason });
      return { partCount: await recordReply(input, message, state, text) };
    },

    /** Converts one part's text to speech; the audio is stored in MongoDB and served by the API. */
    async synthesizeSpeech(input: { messageId: string; partIndex: number; agentId: string }): Promise<void> {
      const part = await stores.messages.part(input.messageId, input.partIndex);
      if (!part || part.audio_blob_id || part.text.trim().length === 0) return;
      const agent = await requireAgent(input.agentId);
      const speech = await model.speak({ model: agent.tts_model, voice: agent.tts_voice, input: part.text });
      const blobId = await stores.blobs.put(input.messageId, speech.contentType, speech.data);
      await stores.messages.setPartAudio(input.messageId, input.partIndex, blobId);
    },

    /**
     * One delivery attempt of one part; the workflow decides about retries from the result.
     * A first delivery goes to the snapshot's URL; an admin's redelivery to the channel's current one.
     */
    async deliverPart(input: DeliverInput): Promise<DeliveryResult> {
      const part = await stores.messages.part(input.messageId, input.partIndex);
      if (!part) throw new Error(`part ${input.partIndex} of ${input.messageId} is not stored`);
      if (part.delivered_at && input.redelivery === undefined) return { outcome: 'delivered' };
      // An admin's redelivery goes where the channel points now, not where it pointed a second ago.
      if (input.redelivery !== undefined) channelCache.invalidate(input.channelId);
      const channel = await channelCache.get(input.channelId);
      if (!channel) return { outcome: 'rejected', error: 'the channel no longer exists' };
      if (channel.delivery_paused)
        return { outcome: 'paused', error: channel.paused_reason ?? 'delivery is paused for this channel' };
      const url = input.redelivery === undefined && input.url !== undefined ? input.url : channel.reply_webhook_url;
      const body = replyForm(
        part,
        part.audio_blob_id ? mediaUrl(settings.publicBaseUrl, part.audio_blob_id) : undefined,
      );
      const started = new Date();
      const headers = {
        ...signatureHeaders(await secretsCache.get(channel.id), part.delivery_id, started, body),
        'x-chatrelay-message-id': input.messageId,
        'x-chatrelay-part': `${input.partIndex + 1}/${input.partCount}`,
      };
      const outcome = await postForm(url, body, headers, settings.deliveryTimeoutMs, settings.deliveryPolicy);
      const durationMs = Date.now() - started.getTime();
      await stores.messages.recordAttempt({
        message_id: input.messageId,
        part_index: input.partIndex,
        attempt: input.attempt,
        ...(input.redelivery !== undefined ? { redelivery: input.redelivery } : {}),
        at: started,
        duration_ms: durationMs,
        result: outcome.result === 'gone' ? 'rejected' : outcome.result,
        ...(outcome.status !== undefined ? { http_status: outcome.status } : {}),
        ...('error' in outcome ? { error: outcome.error } : {}),
      });
      if (outcome.result === 'delivered')
        await stores.messages.markPartDelivered(input.messageId, input.partIndex, new Date());
      if (outcome.result === 'gone') {
        // 410: the receiver says this URL is gone for good. Park the channel's replies until an admin resumes it.
        await stores.channels.update(channel.id, {
          delivery_paused: true,
          paused_reason: `the reply URL answered 410 Gone (${new Date().toISOString()})`,
        });
        channelCache.invalidate(channel.id);
      }
      log().info(
        {
          messageId: input.messageId,
          pageId: channel.page_id,
          part: input.partIndex,
          attempt: input.attempt,
          result: outcome.result,
          status: outcome.status,
          ms: durationMs,
        },
        'delivery attempt',
      );
      return {
        outcome: outcome.result,
        ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        ...('retryAfterSeconds' in outcome && outcome.retryAfterSeconds !== undefined
          ? { retryAfterSeconds: outcome.retryAfterSeconds }
          : {}),
        ...('error' in outcome ? { error: outcome.error } : {}),
      };
    },

    /** Whether the channel's delivery is still paused (closes the race between a resume and a workflow parking). */
    async isChannelPaused(input: { channelId: string }): Promise<boolean> {
      channelCache.invalidate(input.channelId);
      const channel = await channelCache.get(input.channelId);
      return channel?.delivery_paused === true;
    },

    /** Records where the message is, for the status API and for operators. */
    async setStage(input: {
      messageId: string;
      stage: MessageStage;
      nextRetryAt?: string | null;
      lastError?: string | null;
    }): Promise<void> {
      await stores.messages.update(input.messageId, {
        stage: input.stage,
        ...(input.nextRetryAt !== undefined
          ? { next_retry_at: input.nextRetryAt === null ? null : new Date(input.nextRetryAt) }
          : {}),
        ...(input.lastError !== undefined ? { last_error: input.lastError } : {}),
      });
    },

    /** Records how the message ended: delivered, failed with its reason, or not answered. */
    async finishMessage(input: {
      messageId: string;
      status: Exclude<MessageStatus, 'accepted' | 'processing'>;
      reason?: string;
      partsDelivered?: number;
    }): Promise<void> {
      const stage: MessageStage = input.status;
      await stores.messages.update(input.messageId, {
        status: input.status,
        stage,
        completed_at: new Date(),
        next_retry_at: null,
        ...(input.partsDelivered !== undefined ? { parts_delivered: input.partsDelivered } : {}),
        ...(input.reason !== undefined ? { reason: input.reason } : {}),
      });
      log().info({ messageId: input.messageId, status: input.status, reason: input.reason }, 'message finished');
    },
  };
}

export type Activities = ReturnType<typeof createV1Activities>;
