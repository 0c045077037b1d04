/**
 * The records chatrelay keeps, as the stores hand them to the rest of the code.
 * Plain data: no I/O, safe to import from workflow code as types.
 */

export type VoiceReplies = 'off' | 'always' | 'when_user_sent_voice';

export interface Agent {
  id: string;
  name: string;
  system_prompt: string;
  model: string;
  temperature: number;
  max_history_messages: number;
  /** Whether image attachments go to the model as image inputs (otherwise they are given as links). */
  vision: boolean;
  transcription_model: string;
  tts_model: string;
  tts_voice: string;
  voice_prefix: string;
  /** Sent to the user when the model cannot answer, instead of silence. */
  fallback_reply: string;
  /** "One moment": when the model has not answered after this many seconds, `interim_text` is sent first; 0 (or absent, as in older agents) is off. */
  interim_after_seconds?: number;
  interim_text?: string;
  /** Sent when the model hands the chat to a person (the `handoff_to_human` tool); empty: the tool is not offered. Absent on agents made before it. */
  handoff_text?: string;
  created_at: Date;
  updated_at: Date;
}

export interface Channel {
  id: string;
  agent_id: string;
  page_id: string;
  /** SHA-256 of the API token; the token itself is never stored. */
  token_hash: string;
  token_last4: string;
  /** Incremented on rotation so that messages accepted with an old token can be recognised. */
  token_version: number;
  /**
   * When each rotated-out token version stopped being valid, keyed `v<version>`: a message accepted
   * with that version before then is answered; one accepted after (by an API process whose channel
   * cache had not seen the rotation yet) is refused. Absent on channels never rotated since it exists.
   */
  token_retired_at?: Record<string, Date>;
  reply_webhook_url: string;
  assistant_connected: boolean;
  reply_delay_seconds: number;
  voice_replies: VoiceReplies;
  max_message_length: number;
  /** Set when a receiver answered 410 Gone: replies wait, in order, until an admin resumes the channel. */
  delivery_paused?: boolean;
  /** Paced parts: the pause before each part after the first, per character of it; 0 (or absent, as in older channels) is off. */
  typing_ms_per_char?: number;
  /** The longest of those pauses, in seconds. */
  typing_max_seconds?: number;
  paused_reason?: string;
  /** Where operational events (message.failed, channel.delivery_paused, …) are POSTed; empty or absent: none. */
  events_url?: string;
  /** Burst coalescing: messages of a chat arriving within this many seconds of the previous one get one reply (0: off). */
  coalesce_window_seconds?: number;
  /** Drops a reply not yet sent when a newer message of its chat arrives; the newer one's reply answers both. */
  supersede_stale_replies?: boolean;
  created_at: Date;
  updated_at: Date;
}

export const agentDefaults = {
  model: 'gpt-4o-mini',
  temperature: 0.7,
  max_history_messages: 20,
  vision: false,
  transcription_model: 'whisper-1',
  tts_model: 'tts-1',
  tts_voice: 'alloy',
  voice_prefix: '[Voice message] ',
  fallback_reply: "Sorry, I can't answer right now. Please try again in a moment.",
  interim_after_seconds: 0,
  interim_text: 'One moment, please…',
  handoff_text: '',
} as const;

export const channelDefaults = {
  assistant_connected: true,
  reply_delay_seconds: 0,
  voice_replies: 'off' as VoiceReplies,
  max_message_length: 2000,
  events_url: '',
  typing_ms_per_char: 0,
  typing_max_seconds: 5,
  coalesce_window_seconds: 0,
  supersede_stale_replies: false,
} as const;

/** What a message workflow carries from the API: the inbound body plus where it came from. */
export interface InboundEnvelope {
  messageId: string;
  /** The chat (channel + client id, stores/chats.ts chatIdFor) the message belongs to; replies are ordered per chat. */
  chatId: string;
  channelId: string;
  pageId: string;
  tokenVersion: number;
  receivedAt: string;
  message: {
    client_id: string;
    platform: string;
    text?: string;
    audio?: string;
    client_name?: string;
    client_avatar?: string;
    attachments?: string[];
    message_id?: string;
  };
}

/** The settings a message uses, taken once when it is validated so later edits don't change it midway. */
export interface ChannelSnapshot {
  channelId: string;
  agentId: string;
  pageId: string;
  replyWebhookUrl: string;
  replyDelaySeconds: number;
  voiceReplies: VoiceReplies;
  maxMessageLength: number;
  /** The agent's prefix for transcribed voice messages. */
  voicePrefix: string;
  /** Seconds to wait before each delivery retry; its length is the number of retries. */
  retryScheduleSeconds: number[];
  /** The channel's events URL, when it has one (absent: no operational events). */
  eventsUrl?: string;
  /** Paced parts (set only when the channel paces them): milliseconds per character, and the cap. */
  typing?: { msPerChar: number; maxSeconds: number };
  /** The agent's "one moment" part (set only when it has one): sent when the model takes longer than `afterSeconds`. */
  interim?: { afterSeconds: number; text: string };
  /** Set only when on (absent in snapshots taken before the settings existed, which is off). */
  coalesceWindowSeconds?: number;
  supersedeStaleReplies?: true;
}

export type MessageStatus =
  | 'accepted'
  | 'processing'
  | 'delivered'
  | 'failed'
  | 'not_answered'
  /** Absorbed into a later message of its burst, whose reply answered it (`answered_by`). */
  | 'coalesced'
  /** Its reply was dropped unsent: a newer message of the chat arrived, whose reply answered both. */
  | 'superseded';

export type MessageStage =
  | 'accepted'
  | 'validating'
  | 'transcribing'
  | 'generating'
  | 'preparing'
  | 'synthesizing'
  | 'waiting_reply_delay'
  | 'delivering'
  | 'retry_pending'
  | 'paused'
  | 'waiting_turn'
  /** Coalescing: holding its turn until the burst window after its receipt is over. */
  | 'waiting_burst'
  | 'delivered'
  | 'failed'
  | 'not_answered'
  | 'coalesced'
  | 'superseded';

/**
 * Where a text message's one step (admission, the model call, the first delivery) runs: `local`, a
 * local activity within the message's one workflow task; `activity`, a regular activity with
 * heartbeats. The API sets it from MODEL_STEP (src/config.ts).
 */
export type ModelStep = 'local' | 'activity';

/**
 * What the message workflow starts with: the envelope, the message's place in its chat's line, and
 * where its model step runs (in the input, so the start event records it and a replay takes the
 * same path whatever the API's setting is by then).
 */
export interface MessageWorkflowInput extends InboundEnvelope {
  lineSeq: number;
  modelStep: ModelStep;
}

/** How a message ended. */
export type FinalStatus = Exclude<MessageStatus, 'accepted' | 'processing'>;
