/**
 * Failure types, as named strings: activities raise ApplicationFailure with one of these `type`s
 * and the workflow's retry policies and branches refer to them. Pure, so workflows may import it.
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
  /** The channel's agent was deleted while the message was being answered. */
  AgentGone: 'AgentGone',
  /** The message's record is missing from MongoDB (deleted by hand, or a different database). */
  MessageNotStored: 'MessageNotStored',
  /** A reply part the workflow wants to deliver is not in the message's record. */
  ReplyPartMissing: 'ReplyPartMissing',
} as const;

export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Types a retry can never fix; listed in every activity retry policy. */
export const nonRetryableErrorTypes: string[] = [
  ErrorType.ModelRejected,
  ErrorType.AudioRejected,
  ErrorType.AgentGone,
  ErrorType.MessageNotStored,
  ErrorType.ReplyPartMissing,
];

/** Failures that the user hears about as the agent's fallback reply: the model could not answer. */
export const fallbackErrorTypes: string[] = [ErrorType.ModelUnavailable, ErrorType.ModelRejected, ErrorType.AgentGone];
