/**
 * Failure types, as named strings: activities raise ApplicationFailure with one of these `type`s
 * and the workflow's retry policies refer to them. Pure, so workflows may import it.
 */
export const ErrorType = {
  /** The model API is overloaded, timing out or failing on its side: retrying may help. */
  ModelUnavailable: 'ModelUnavailable',
  /** The model API refused the request (bad model, auth, content): retrying cannot help. */
  ModelRejected: 'ModelRejected',
  /** The voice note could not be fetched or is not acceptable audio. */
  AudioRejected: 'AudioRejected',
  /** Fetching the voice note failed in a way that may pass (network, 5xx). */
  AudioUnavailable: 'AudioUnavailable',
  /** The channel or its agent no longer exists. */
  ChannelGone: 'ChannelGone',
} as const;

export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Types a retry can never fix; listed in every activity retry policy. */
export const nonRetryableErrorTypes: string[] = [ErrorType.ModelRejected, ErrorType.AudioRejected, ErrorType.ChannelGone];
