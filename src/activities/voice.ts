import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../domain/errors.js';
import { boundTranscript, isAudioContentType, sniffAudioFormat } from '../domain/voice.js';
import { UnsafeUrlError } from '../lib/address-policy.js';
import { safeFetch } from '../lib/safe-fetch.js';
import { createSemaphore } from '../lib/semaphore.js';
import { ttlCache } from '../lib/caches.js';
import { activityLogger, type ActivityDeps } from './deps.js';
import { agentGone, messageNotStored, replyPartMissing } from './failures.js';

/** Voice in (transcription of voice notes) and voice out (speech for reply parts). */
export function createVoiceActivities(deps: ActivityDeps) {
  const { stores, model, settings } = deps;
  const agents = ttlCache((id) => stores.agents.get(id), { ttlMs: settings.channelCacheTtlMs });
  // A voice note is in memory from its download until its transcript comes back, up to AUDIO_MAX_BYTES
  // each: one semaphore per worker process bounds how many are (the activity slots alone allow 200).
  const downloads = createSemaphore(settings.voiceDownloads ?? 4);
  const maxTextLength = settings.maxTextLength ?? 16_000;

  async function requireAgent(agentId: string) {
    const agent = await agents.get(agentId);
    if (!agent) throw agentGone(agentId);
    return agent;
  }

  async function fetchVoiceNote(url: string): Promise<{ data: Buffer; contentType: string; finalUrl: string }> {
    let audio: { data: Buffer; contentType: string; finalUrl: string };
    try {
      audio = await safeFetch(url, { ...settings.audioFetch, allowedContentTypes: isAudioContentType });
    } catch (error) {
      if (!(error instanceof UnsafeUrlError)) throw error;
      throw ApplicationFailure.create({
        type: error.retryable ? ErrorType.AudioUnavailable : ErrorType.AudioRejected,
        message: `voice message could not be fetched: ${error.message}`,
        nonRetryable: !error.retryable,
      });
    }
    if (sniffAudioFormat(audio.data) === undefined)
      throw ApplicationFailure.create({
        type: ErrorType.AudioRejected,
        message: `voice message is not audio: its first bytes are no audio format known (${audio.data.length} bytes, sent as ${audio.contentType})`,
        nonRetryable: true,
      });
    return audio;
  }

  return {
    /** Downloads the voice note and turns it into text, kept on the message record (once). */
    async transcribeVoiceMessage(input: { messageId: string; agentId: string }): Promise<{ characters: number }> {
      const message = await stores.messages.get(input.messageId);
      if (!message) throw messageNotStored(input.messageId);
      // Transcribed by an earlier run (its result lost): the stored transcript, not a second download.
      const earlier = await stores.messages.transcript(message);
      if (earlier !== undefined) return { characters: earlier.length };
      const audioUrl = message.inbound.audio;
      if (!audioUrl) return { characters: 0 };
      const agent = await requireAgent(input.agentId);
      const { transcript, bytes } = await downloads.run(async () => {
        const audio = await fetchVoiceNote(audioUrl);
        const filename = new URL(audio.finalUrl).pathname.split('/').pop() || 'voice.mp3';
        const text = await model.transcribe({
          model: agent.transcription_model,
          audio: audio.data,
          filename,
          contentType: audio.contentType,
        });
        return { transcript: text, bytes: audio.data.length };
      }, Context.current().cancellationSignal);
      // A long recording is as bounded as a typed text: its transcript goes into every later prompt.
      const kept = boundTranscript(transcript, maxTextLength);
      await stores.messages.saveTranscript(input.messageId, kept);
      activityLogger(deps.logger).info(
        { messageId: input.messageId, bytes, characters: transcript.length, kept: kept.length },
        'voice message transcribed',
      );
      return { characters: kept.length };
    },

    /**
     * Speaks every part of the reply, one after the other, each stored as audio served by the API.
     * A part that already has its audio (an earlier run stored it) is skipped. A failure fails the activity, to be
     * retried; once the retries are spent the workflow sends the parts without audio had by then.
     */
    async speakReply(input: { messageId: string; agentId: string }): Promise<{ spoken: number }> {
      const reply = await stores.messages.reply(input.messageId);
      if (!reply) throw replyPartMissing(input.messageId);
      const agent = await requireAgent(input.agentId);
      let spoken = 0;
      for (const part of reply.parts) {
        Context.current().heartbeat(part.index);
        if (part.text.trim().length === 0) continue;
        if ((await stores.messages.speech(input.messageId, part.index)) !== undefined) {
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
