import { agentDefaults, channelDefaults, type Agent, type Channel, type ChannelSnapshot } from './models.js';

/** The settings a message keeps from its channel and agent, taken once when it is admitted. */
export function channelSnapshot(channel: Channel, agent: Agent, retryScheduleSeconds: number[]): ChannelSnapshot {
  return {
    channelId: channel.id,
    agentId: agent.id,
    pageId: channel.page_id,
    replyWebhookUrl: channel.reply_webhook_url,
    replyDelaySeconds: channel.reply_delay_seconds,
    voiceReplies: channel.voice_replies,
    maxMessageLength: channel.max_message_length,
    voicePrefix: agent.voice_prefix,
    retryScheduleSeconds,
    ...(channel.events_url ? { eventsUrl: channel.events_url } : {}),
    // Only when on: a message of a channel without pacing carries (and costs) exactly what it did before.
    ...((channel.typing_ms_per_char ?? 0) > 0
      ? {
          typing: {
            msPerChar: channel.typing_ms_per_char ?? 0,
            maxSeconds: channel.typing_max_seconds ?? channelDefaults.typing_max_seconds,
          },
        }
      : {}),
    ...((agent.interim_after_seconds ?? 0) > 0
      ? {
          interim: {
            afterSeconds: agent.interim_after_seconds ?? 0,
            text: agent.interim_text ?? agentDefaults.interim_text,
          },
        }
      : {}),
    // Only when on: a snapshot (and so an activity result in a workflow's history) is unchanged when off.
    ...(channel.coalesce_window_seconds ? { coalesceWindowSeconds: channel.coalesce_window_seconds } : {}),
    ...(channel.supersede_stale_replies ? { supersedeStaleReplies: true as const } : {}),
  };
}
