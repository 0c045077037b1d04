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

/** Whether `bytes` start at `offset` with the ASCII `signature`. */
const hasAscii = (bytes: Uint8Array, offset: number, signature: string): boolean =>
  bytes.length >= offset + signature.length &&
  [...signature].every((char, index) => bytes[offset + index] === char.charCodeAt(0));

/**
 * The container or codec a voice note's first bytes show (magic numbers), or undefined when they are
 * not one of the audio formats speech-to-text takes: a Content-Type is the sender's claim, the bytes
 * are what the transcriber gets. Video containers count (platforms send voice as mp4 or webm).
 */
export function sniffAudioFormat(bytes: Uint8Array): string | undefined {
  if (hasAscii(bytes, 0, 'OggS')) return 'ogg';
  if (hasAscii(bytes, 0, 'ID3')) return 'mp3';
  if (hasAscii(bytes, 0, 'RIFF') && hasAscii(bytes, 8, 'WAVE')) return 'wav';
  if (hasAscii(bytes, 4, 'ftyp')) return 'mp4';
  if (hasAscii(bytes, 0, '\x1a\x45\xdf\xa3')) return 'webm';
  if (hasAscii(bytes, 0, 'fLaC')) return 'flac';
  if (hasAscii(bytes, 0, '#!AMR')) return 'amr';
  if (hasAscii(bytes, 0, 'FORM') && (hasAscii(bytes, 8, 'AIFF') || hasAscii(bytes, 8, 'AIFC'))) return 'aiff';
  if (hasAscii(bytes, 0, 'caff')) return 'caf';
  // An MPEG audio frame (mp3) or an ADTS frame (aac) with no tag: 11 set sync bits.
  const [first, second] = bytes;
  if (first === 0xff && second !== undefined && (second & 0xe0) === 0xe0) return 'mpeg';
  return undefined;
}

/** A transcript as stored: at most `maxLength` characters, as a typed text is (MAX_TEXT_LENGTH). */
export function boundTranscript(transcript: string, maxLength: number): string {
  if (transcript.length <= maxLength) return transcript;
  // Never end on half of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(transcript.charAt(maxLength - 1)) ? maxLength - 1 : maxLength;
  return transcript.slice(0, end);
}
