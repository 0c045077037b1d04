import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../domain/errors.js';
import { isAudioContentType } from '../domain/voice.js';
import { safeFetch, UnsafeUrlError } from '../lib/safe-fetch.js';
import { ttlCache } from '../lib/ttl-cache.js';
import { activityLogger, type ActivityDeps } from './deps.js';
import { agentGone, messageNotStored, replyPartMissing } from './failures.js';

/** Voice in (transcription of voice notes) and voice out (speech for reply parts). */
export function createVoiceActivities(deps: ActivityDeps) {
  const { stores, model, settings } = deps;
  const agents = ttlCache((id) => stores.agents.get(id), { ttlMs: settings.channelCacheTtlMs });

  async function requireAgent(agentId: string) {
    const agent = await agents.get(agentId);
    if (!agent) throw agentGone(agentId);
    return agent;
  }

  async function fetchVoiceNote(url: string): Promise<{ data: Buffer; contentType: string; finalUrl: string }> {
    try {
      return await safeFetch(url, { ...settings.audioFetch, allowedContentTypes: isAudioContentType });
    } catch (error) {
      if (!(error instanceof UnsafeUrlError)) throw error;
      throw ApplicationFailure.create({
        type: error.retryable ? ErrorType.AudioUnavailable : ErrorType.AudioRejected,
        message: `voice message could not be fetched: ${error.message}`,
        nonRetryable: !error.retryable,
      });
    }
  }

  return {
    /** Downloads the voice note and turns it into text, kept on the message record (once). */
    async transcribeVoiceMessage(input: { messageId: string; agentId: string }): Promise<{ characters: number }> {
      const message = await stores.messages.get(input.messageId);
      if (!message) throw messageNotStored(input.messageId);
      if (Context.current().info.attempt > 1) {
        const earlier = await stores.messages.transcript(message);
        if (earlier !== undefined) return { characters: earlier.length };
      }
      const audioUrl = message.inbound.audio;
      if (!audioUrl) return { characters: 0 };
      const agent = await requireAgent(input.agentId);
      const audio = await fetchVoiceNote(audioUrl);
      const filename = new URL(audio.finalUrl).pathname.split('/').pop() || 'voice.mp3';
      const transcript = await model.transcribe({
        model: agent.transcription_model,
        audio: audio.data,
        filename,
        contentType: audio.contentType,
      });
      await stores.messages.saveTranscript(input.messageId, transcript);
      activityLogger(deps.logger).info(
        { messageId: input.messageId, bytes: audio.data.length },
        'voice message transcribed',
      );
      return { characters: transcript.length };
    },

    /**
     * Speaks every part of the reply, one after the other, each stored as audio served by the API.
     * A part that already has its audio (when retried) is skipped. A failure fails the activity, to be
     * retried; once the retries are spent the workflow sends the parts without audio had by then.
     */
    async speakReply(input: { messageId: string; agentId: string }): Promise<{ spoken: number }> {
      const reply = await stores.messages.reply(input.messageId);
      if (!reply) throw replyPartMissing(input.messageId);
      const agent = await requireAgent(input.agentId);
      const retry = Context.current().info.attempt > 1;
      let spoken = 0;
      for (const part of reply.parts) {
        Context.current().heartbeat(part.index);
        if (part.text.trim().length === 0) continue;
        if (retry && (await stores.messages.speech(input.messageId, part.index)) !== undefined) {
          spoken += 1;
          continue;
        }
        const speech = await model.speak({ model: agent.tts_model, voice: agent.tts_voice, input: part.text });
        const blobId = await stores.blobs.put(input.messageId, speech.contentType, speech.data);
        await stores.messages.saveSpeech(input.messageId, part.index, blobId);
        spoken += 1;
      }
      return { spoken };
    },
  };
}
