/**
 * The text the model and the conversation history see for a voice message: the prefix (the agent's
 * `voice_prefix`, which marks speech so the model knows it was spoken, not typed) and the
 * transcript, then, when the user also typed something, that text after a blank line, as a separate
 * paragraph so the two are not read as one sentence:
 *
 *     [Voice message] what's the weather tomorrow
 *
 *     in Lisbon please
 *
 * Transcript and text are trimmed (speech-to-text output often carries stray spaces). An empty
 * transcript (silence, noise) still yields the prefix, trimmed, so the model knows a voice message
 * arrived; blank typed text is treated as absent.
 */
export function applyVoicePrefix(transcript: string, text: string | undefined, prefix: string): string {
  const spoken = transcript.trim();
  const voice = spoken === '' ? prefix.trim() : `${prefix}${spoken}`;
  const typed = text?.trim() ?? '';
  if (typed === '') return voice;
  return voice === '' ? typed : `${voice}\n\n${typed}`;
}

/** Content types a voice note may have (some platforms send voice as video or as bytes). */
export const isAudioContentType = (type: string): boolean =>
  type.startsWith('audio/') ||
  type.startsWith('video/') ||
  type === 'application/octet-stream' ||
  type === 'application/ogg';
