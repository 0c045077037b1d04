import { Context } from '@temporalio/activity';
import { messageWorkflowId } from '../domain/ids.js';
import type { Channel, ChannelSnapshot, MessageWorkflowInput } from '../domain/models.js';
import { failureEventsOf, type FailureEvents } from '../domain/operational-events.js';
import { channelSnapshot } from '../domain/snapshot.js';
import { ttlCache } from '../lib/caches.js';
import { retiredKey } from '../stores/channels.js';
import type { ActivityDeps } from './deps.js';

/** What the channel says about a message: answer it with these settings, or why not. */
type Verdict =
  | { outcome: 'accepted'; snapshot: ChannelSnapshot }
  | { outcome: 'not_answered' | 'failed'; reason: string; voicePrefix?: string; events?: FailureEvents };

/** The verdict, and whether the message's turn in its chat has come already. */
export type Admission = Verdict & { turn: boolean };

/**
 * Whether the message was accepted with a token that had already been rotated out by then (an API
 * process answering from a channel cache that had not seen the rotation yet). A message accepted
 * before its token was rotated is the channel's as much as any: the platform was told it was
 * accepted, so it is answered. A version with no recorded end (rotated before the channel recorded
 * them) counts as rotated out, as before.
 */
export function tokenRetiredWhenAccepted(
  channel: Pick<Channel, 'token_version' | 'token_retired_at'>,
  input: Pick<MessageWorkflowInput, 'tokenVersion' | 'receivedAt'>,
): boolean {
  if (input.tokenVersion === channel.token_version) return false;
  if (input.tokenVersion > channel.token_version) return true;
  const retiredAt = channel.token_retired_at?.[retiredKey(input.tokenVersion)];
  return retiredAt === undefined || new Date(input.receivedAt).getTime() >= new Date(retiredAt).getTime();
}

/** The first step of every message: check its channel, take the settings it will use, record it. */
export function createAdmission(deps: ActivityDeps) {
  const { stores, settings } = deps;
  const agents = ttlCache((id) => stores.agents.get(id), { ttlMs: settings.channelCacheTtlMs });

  async function judge(input: MessageWorkflowInput): Promise<Verdict> {
    // The channel is read fresh, once per message: a token rotated or an assistant disconnected
    // a moment ago must count. Agents change rarely and are only read for their settings.
    const channel = await stores.channels.get(input.channelId);
    if (!channel || channel.page_id !== input.pageId)
      return { outcome: 'failed', reason: 'the channel no longer exists' };
    // A failure is reported to the channel's events URL, when it has one (src/activities/finish.ts).
    const events = failureEventsOf(input, { eventsUrl: channel.events_url });
    const failed = (reason: string): Verdict => ({ outcome: 'failed', reason, ...(events ? { events } : {}) });
    if (tokenRetiredWhenAccepted(channel, input))
      return failed('the API token the message was sent with has been rotated');
    const agent = await agents.get(channel.agent_id);
    if (!channel.assistant_connected) {
      // Kept in the history as the agent would have seen it, voice prefix included.
      return {
        outcome: 'not_answered',
        reason: 'the assistant is not connected to this channel',
        ...(agent ? { voicePrefix: agent.voice_prefix } : {}),
      };
    }
    if (!agent) return failed("the channel's agent no longer exists");
    return { outcome: 'accepted', snapshot: channelSnapshot(channel, agent, settings.retryScheduleSeconds) };
  }

  /**
   * The verdict of a message admitted before (a re-run, or the step run again once its turn came):
   * the settings it was admitted with, unless the channel refuses it now and it has not ended (a
   * channel deleted while its message waited fails it). Once it ended, its first verdict stands
   * whatever the channel says now: the re-run must take the path the first run took.
   */
  async function admittedBefore(messageId: string, fresh: Verdict): Promise<Verdict> {
    const [message, outcome] = await Promise.all([stores.messages.get(messageId), stores.messages.outcome(messageId)]);
    const snapshot = message?.snapshot;
    if (snapshot === undefined || (fresh.outcome !== 'accepted' && outcome === null)) return fresh;
    return { outcome: 'accepted', snapshot };
  }

  /**
   * Checks the channel, records the message with the settings it will use, and looks whether its
   * turn in the chat has come already (one read of how the place before it ended; none for a
   * chat's first place). No write is repeated later just to move the stage.
   * `firstRun`: the record was inserted now, so nothing of the message was stored before. A step
   * run again (a retry, or a local activity re-run from attempt 1 after its workflow task was
   * lost) finds the record there and keeps deciding from it: the settings it was admitted with,
   * not the channel's of now.
   */
  async function admit(input: MessageWorkflowInput): Promise<Admission & { firstRun: boolean }> {
    const fresh = await judge(input);
    const workflowId = Context.current().info.workflowExecution?.workflowId ?? messageWorkflowId(input.messageId);
    const firstRun = await stores.messages.insert({
      _id: input.messageId,
      workflow_id: workflowId,
      channel_id: input.channelId,
      page_id: input.pageId,
      client_id: input.message.client_id,
      chat_id: input.chatId,
      platform: input.message.platform,
      // Never updated: the status and stage are the outcome's, or the workflow's while it runs.
      status: 'processing',
      stage: 'accepted',
      inbound: input.message,
      received_at: new Date(input.receivedAt),
      line_seq: input.lineSeq,
      ...(fresh.outcome === 'accepted' ? { snapshot: fresh.snapshot } : {}),
    });
    const verdict = firstRun ? fresh : await admittedBefore(input.messageId, fresh);
    // Read only: a message that must wait is told by a signal when the place before it ends.
    const turn = await deps.line.turn(input.chatId, input.lineSeq, workflowId);
    return { ...verdict, turn: turn.granted, firstRun };
  }

  return { admit };
}

export type AdmissionService = ReturnType<typeof createAdmission>;

/** The admission step, for messages that must be admitted before their model step (voice notes). */
export function createAdmissionActivities(admission: AdmissionService) {
  return {
    async admitMessage(input: MessageWorkflowInput): Promise<Admission> {
      // Whether it ran before is for the steps of this activity's own run; the workflow never needs it.
      const { firstRun: _firstRun, ...admitted } = await admission.admit(input);
      return admitted;
    },
  };
}
