import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ChatCompletionContentPart, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { ErrorType } from '../domain/errors.js';
import { isImageUrl } from '../domain/media.js';
import type { ChannelSnapshot, InboundEnvelope, MessageStage, MessageStatus } from '../domain/models.js';
import { buildReplyParts } from '../domain/reply-parts.js';
import { applyVoicePrefix } from '../domain/voice.js';
import type { Logger } from '../lib/logger.js';
import { safeFetch, UnsafeUrlError, type SafeFetchPolicy } from '../lib/safe-fetch.js';
import { chatIdFor } from '../stores/chats.js';
import { messageWorkflowId } from '../domain/ids.js';
import type { HistoryDoc } from '../stores/collections.js';
import type { Stores } from '../stores/index.js';
import type { ModelClient } from './model.js';
import { postForm, type PostOutcome } from './reply-post.js';
import { signatureHeaders } from './signing.js';
import type { TurnsClient } from './turns-client.js';

export interface ActivitySettings {
  publicBaseUrl: string;
  retryScheduleSeconds: number[];
  deliveryTimeoutMs: number;
  audioFetch: Omit<SafeFetchPolicy, 'allowedContentTypes'>;
}

export interface ActivityDeps {
  stores: Pick<Stores, 'agents' | 'channels' | 'chats' | 'history' | 'messages' | 'blobs' | 'signingSecrets'>;
  model: ModelClient;
  turns: TurnsClient;
  settings: ActivitySettings;
  logger: Logger;
}

export type ValidationResult =
  | { ok: true; snapshot: ChannelSnapshot; chatId: string }
  | { ok: false; outcome: 'not_answered' | 'failed'; reason: string; chatId: string };

export interface DeliveryResult {
  /** `paused`: nothing was sent because the channel's delivery is paused. */
  outcome: PostOutcome['result'] | 'paused';
  status?: number;
  retryAfterSeconds?: number;
  error?: string;
}

const audioTypes = (type: string): boolean =>
  type.startsWith('audio/') || type.startsWith('video/') || type === 'application/octet-stream' || type === 'application/ogg';

/** Formats the reply POST: the four fields of the contract, always present, empty when unused. */
export function replyForm(part: { text: string; images: string[]; file?: string }, audioUrl: string | undefined): string {
  return new URLSearchParams({
    text: part.text,
    // Several images travel as one field, comma-separated; a comma inside a URL is percent-encoded first.
    images: part.images.map((url) => url.replaceAll(',', '%2C')).join(','),
    file: part.file ?? '',
    audio: audioUrl ?? '',
  }).toString();
}

export function mediaUrl(publicBaseUrl: string, blobId: string): string {
  return `${publicBaseUrl}/media/${blobId}`;
}

/** The activities of the message workflow, built from the stores and clients they use. */
export function createActivities(deps: ActivityDeps) {
  const { stores, model, settings } = deps;

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
    if (!message) throw ApplicationFailure.create({ type: ErrorType.ChannelGone, message: `message ${messageId} is not stored`, nonRetryable: true });
    return message;
  }

  async function requireAgent(agentId: string) {
    const agent = await stores.agents.get(agentId);
    if (!agent) throw ApplicationFailure.create({ type: ErrorType.ChannelGone, message: `agent ${agentId} no longer exists`, nonRetryable: true });
    return agent;
  }

  return {
    /** Puts the message in its chat's line; called first thing, so the line follows acceptance order. */
    async requestChatTurn(input: { chatId: string; messageId: string; workflowId: string }): Promise<void> {
      await deps.turns.requestTurn(input.chatId, { messageId: input.messageId, workflowId: input.workflowId });
    },

    async isWorkflowRunning(input: { workflowId: string }): Promise<boolean> {
      return deps.turns.isWorkflowRunning(input.workflowId);
    },

    /** Stores the message as accepted, then checks its channel and takes the settings it will use. */
    async validateChannel(envelope: InboundEnvelope): Promise<ValidationResult> {
      const chatId = envelope.chatId ?? chatIdFor(envelope.pageId, envelope.message.client_id);
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? messageWorkflowId(envelope.messageId);
      await stores.messages.recordAccepted(envelope, workflowId, chatId);
      const channel = await stores.channels.get(envelope.channelId);
      if (!channel || channel.page_id !== envelope.pageId) return { ok: false, outcome: 'failed', reason: 'the channel no longer exists', chatId };
      if (channel.token_version !== envelope.tokenVersion) {
        return { ok: false, outcome: 'failed', reason: 'the API token the message was sent with has been rotated', chatId };
      }
      if (!channel.assistant_connected) return { ok: false, outcome: 'not_answered', reason: 'the assistant is not connected to this channel', chatId };
      const agent = await stores.agents.get(channel.agent_id);
      if (!agent) return { ok: false, outcome: 'failed', reason: "the channel's agent no longer exists", chatId };
      const snapshot: ChannelSnapshot = {
        channelId: channel.id,
        agentId: agent.id,
        pageId: channel.page_id,
        replyWebhookUrl: channel.reply_webhook_url,
        replyDelaySeconds: channel.reply_delay_seconds,
        voiceReplies: channel.voice_replies,
        maxMessageLength: channel.max_message_length,
        retryScheduleSeconds: settings.retryScheduleSeconds,
      };
      await stores.messages.update(envelope.messageId, { snapshot, status: 'processing', stage: 'validating' });
      return { ok: true, snapshot, chatId };
    },

    async upsertChat(envelope: InboundEnvelope): Promise<void> {
      const m = envelope.message;
      await stores.chats.upsert({
        pageId: envelope.pageId,
        clientId: m.client_id,
        platform: m.platform,
        clientName: m.client_name,
        clientAvatar: m.client_avatar,
        seenAt: new Date(envelope.receivedAt),
      });
    },

    /** Downloads the voice note and turns it into text, kept on the message record. */
    async transcribe(input: { messageId: string; agentId: string }): Promise<{ characters: number }> {
      const message = await requireMessage(input.messageId);
      if (message.transcript !== undefined) return { characters: message.transcript.length };
      const audioUrl = message.inbound.audio;
      if (!audioUrl) return { characters: 0 };
      await stores.messages.update(input.messageId, { stage: 'transcribing' });
      const agent = await requireAgent(input.agentId);
      let audio: { data: Buffer; contentType: string; finalUrl: string };
      try {
        audio = await safeFetch(audioUrl, { ...settings.audioFetch, allowedContentTypes: audioTypes });
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
      const transcript = await model.transcribe({ model: agent.transcription_model, audio: audio.data, filename, contentType: audio.contentType });
      await stores.messages.update(input.messageId, { transcript });
      log().info({ messageId: input.messageId, bytes: audio.data.length }, 'voice message transcribed');
      return { characters: transcript.length };
    },

    /** Adds the user's message to the chat history once. */
    async addUserMessage(input: { messageId: string; agentId?: string }): Promise<{ seq: number }> {
      const message = await requireMessage(input.messageId);
      const agent = input.agentId ? await stores.agents.get(input.agentId) : undefined;
      const prefix = agent?.voice_prefix ?? '[Voice message] ';
      const inbound = message.inbound;
      let content: string;
      if (message.transcript !== undefined) content = applyVoicePrefix(message.transcript, inbound.text, prefix);
      else if (inbound.text !== undefined) content = inbound.text;
      else content = `${prefix}(not transcribed) ${inbound.audio ?? ''}`.trim();
      const entry = await stores.history.addOnce({
        chatId: message.chat_id,
        messageId: message._id,
        role: 'user',
        content,
        attachments: inbound.attachments ?? [],
      });
      return { seq: entry.seq };
    },

    /** Generates the reply with the channel's agent and stores it in the history, once. */
    async generateReply(input: { messageId: string; agentId: string }): Promise<{ characters: number }> {
      const existing = await stores.history.get(input.messageId, 'assistant');
      if (existing) return { characters: existing.content.length };
      const message = await requireMessage(input.messageId);
      await stores.messages.update(input.messageId, { stage: 'generating' });
      const agent = await requireAgent(input.agentId);
      const userEntry = await stores.history.get(input.messageId, 'user');
      if (!userEntry) throw new Error(`user message ${input.messageId} is not in the history yet`);
      const history = await stores.history.recent(message.chat_id, userEntry.seq, agent.max_history_messages);
      const messages: ChatCompletionMessageParam[] = [];
      if (agent.system_prompt.trim().length > 0) messages.push({ role: 'system', content: agent.system_prompt });
      for (const entry of history) messages.push(toModelMessage(entry, entry._id === userEntry._id && agent.vision));
      const started = Date.now();
      const reply = await model.complete({ model: agent.model, temperature: agent.temperature, messages });
      await stores.history.addOnce({ chatId: message.chat_id, messageId: message._id, role: 'assistant', content: reply });
      log().info({ messageId: input.messageId, ms: Date.now() - started, characters: reply.length }, 'reply generated');
      return { characters: reply.length };
    },

    /** Stores the agent's fallback reply in place of a reply the model could not give. */
    async storeFallbackReply(input: { messageId: string; agentId: string; reason: string }): Promise<void> {
      const message = await requireMessage(input.messageId);
      const agent = await stores.agents.get(input.agentId);
      const text = agent?.fallback_reply ?? "Sorry, I can't answer right now.";
      await stores.history.addOnce({ chatId: message.chat_id, messageId: message._id, role: 'assistant', content: text });
      await stores.messages.update(input.messageId, { reason: input.reason });
    },

    /** Extracts media and splits the stored reply into parts that fit the channel; saved once. */
    async prepareParts(input: { messageId: string; maxMessageLength: number }): Promise<{ partCount: number }> {
      const saved = await stores.messages.parts(input.messageId);
      if (saved.length > 0) return { partCount: saved.length };
      const reply = await stores.history.get(input.messageId, 'assistant');
      if (!reply) throw new Error(`reply for ${input.messageId} is not stored`);
      const parts = buildReplyParts(reply.content, input.maxMessageLength);
      await stores.messages.saveParts(
        parts.map((part, index) => ({
          _id: `${input.messageId}:${index}`,
          message_id: input.messageId,
          index,
          text: part.text,
          images: part.images,
          ...(part.file !== undefined ? { file: part.file } : {}),
          delivery_id: `${input.messageId}.${index}`,
        })),
      );
      const stored = await stores.messages.parts(input.messageId);
      await stores.messages.update(input.messageId, { part_count: stored.length, parts_delivered: 0, stage: 'preparing' });
      return { partCount: stored.length };
    },

    /** Converts one part's text to speech; the audio is stored in MongoDB and served by the API. */
    async synthesizeSpeech(input: { messageId: string; partIndex: number; agentId: string }): Promise<void> {
      const part = await stores.messages.part(input.messageId, input.partIndex);
      if (!part || part.audio_blob_id || part.text.trim().length === 0) return;
      await stores.messages.update(input.messageId, { stage: 'synthesizing' });
      const agent = await requireAgent(input.agentId);
      const speech = await model.speak({ model: agent.tts_model, voice: agent.tts_voice, input: part.text });
      const blobId = await stores.blobs.put(input.messageId, speech.contentType, speech.data);
      await stores.messages.setPartAudio(input.messageId, input.partIndex, blobId);
    },

    /**
     * One delivery attempt of one part; the workflow decides about retries from the result.
     * A redelivery goes to the channel's current reply URL; a first delivery to the snapshot's.
     */
    async deliverPart(input: { messageId: string; partIndex: number; attempt: number; redelivery?: number }): Promise<DeliveryResult> {
      const part = await stores.messages.part(input.messageId, input.partIndex);
      if (!part) throw new Error(`part ${input.partIndex} of ${input.messageId} is not stored`);
      if (part.delivered_at && input.redelivery === undefined) return { outcome: 'delivered' };
      const message = await requireMessage(input.messageId);
      if (!message.snapshot) throw new Error(`message ${input.messageId} has no channel snapshot`);
      const channel = await stores.channels.get(message.channel_id);
      if (!channel) return { outcome: 'rejected', error: 'the channel no longer exists' };
      if (channel.delivery_paused) return { outcome: 'paused', error: channel.paused_reason ?? 'delivery is paused for this channel' };
      const url = input.redelivery === undefined ? message.snapshot.replyWebhookUrl : channel.reply_webhook_url;
      await stores.messages.update(input.messageId, { stage: 'delivering' });
      const body = replyForm(part, part.audio_blob_id ? mediaUrl(settings.publicBaseUrl, part.audio_blob_id) : undefined);
      const started = new Date();
      const headers = {
        ...signatureHeaders(await stores.signingSecrets.active(channel.id, started), part.delivery_id, started, body),
        'x-chatrelay-message-id': input.messageId,
        'x-chatrelay-part': `${input.partIndex + 1}/${message.part_count ?? '?'}`,
      };
      const outcome = await postForm(url, body, headers, settings.deliveryTimeoutMs);
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
      if (outcome.result === 'delivered') {
        await stores.messages.markPartDelivered(input.messageId, input.partIndex, new Date());
        await stores.messages.update(input.messageId, { parts_delivered: Math.max(message.parts_delivered ?? 0, input.partIndex + 1), last_error: null, next_retry_at: null });
      } else {
        await stores.messages.update(input.messageId, { last_error: outcome.error });
      }
      if (outcome.result === 'gone') {
        // 410: the receiver says this URL is gone for good. Park the channel's replies until an admin resumes it.
        await stores.channels.update(channel.id, { delivery_paused: true, paused_reason: `the reply URL answered 410 Gone (${new Date().toISOString()})` });
      }
      log().info({ messageId: input.messageId, pageId: channel.page_id, part: input.partIndex, attempt: input.attempt, result: outcome.result, status: outcome.status, ms: durationMs }, 'delivery attempt');
      return {
        outcome: outcome.result,
        ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        ...('retryAfterSeconds' in outcome && outcome.retryAfterSeconds !== undefined ? { retryAfterSeconds: outcome.retryAfterSeconds } : {}),
        ...('error' in outcome ? { error: outcome.error } : {}),
      };
    },

    /** Whether the channel's delivery is still paused (closes the race between a resume and a workflow parking). */
    async isChannelPaused(input: { channelId: string }): Promise<boolean> {
      const channel = await stores.channels.get(input.channelId);
      return channel?.delivery_paused === true;
    },

    /** Records where the message is, for the status API and for operators. */
    async setStage(input: { messageId: string; stage: MessageStage; nextRetryAt?: string | null; lastError?: string | null }): Promise<void> {
      await stores.messages.update(input.messageId, {
        stage: input.stage,
        ...(input.nextRetryAt !== undefined ? { next_retry_at: input.nextRetryAt === null ? null : new Date(input.nextRetryAt) } : {}),
        ...(input.lastError !== undefined ? { last_error: input.lastError } : {}),
      });
    },

    /** Records how the message ended: delivered, failed with its reason, or not answered. */
    async finishMessage(input: { messageId: string; status: Exclude<MessageStatus, 'accepted' | 'processing'>; reason?: string }): Promise<void> {
      const stage: MessageStage = input.status;
      await stores.messages.update(input.messageId, {
        status: input.status,
        stage,
        completed_at: new Date(),
        next_retry_at: null,
        ...(input.reason !== undefined ? { reason: input.reason } : {}),
      });
      log().info({ messageId: input.messageId, status: input.status, reason: input.reason }, 'message finished');
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** A history entry as the model sees it: attachments as image inputs (when allowed) or as links. */
function toModelMessage(entry: HistoryDoc, imagesAsInput: boolean): ChatCompletionMessageParam {
  if (entry.role === 'assistant') return { role: 'assistant', content: entry.content };
  if (entry.attachments.length === 0) return { role: 'user', content: entry.content };
  const images = imagesAsInput ? entry.attachments.filter(isImageUrl) : [];
  const links = entry.attachments.filter((url) => !images.includes(url));
  const text = links.length > 0 ? `${entry.content}\n\nAttachments:\n${links.map((url) => `- ${url}`).join('\n')}` : entry.content;
  if (images.length === 0) return { role: 'user', content: text };
  const parts: ChatCompletionContentPart[] = [{ type: 'text', text }, ...images.map((url) => ({ type: 'image_url' as const, image_url: { url } }))];
  return { role: 'user', content: parts };
}
