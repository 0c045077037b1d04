/**
 * Operational events: what a channel's events URL receives (Standard Webhooks, JSON
 * `{type, timestamp, data}`), so a team learns when a person is needed. Pure: no I/O.
 */

export type OperationalEvent =
  | { type: 'message.failed'; data: { message_id: string; chat_id: string; client_id: string; reason: string } }
  | { type: 'channel.delivery_paused'; data: { channel_id: string; message_id: string } }
  | { type: 'chat.handoff_requested'; data: { chat_id: string; client_id: string; message_id: string } };

export type OperationalEventType = OperationalEvent['type'];

/** Where a message's failure is reported: its channel's events URL (from the message's snapshot), and who it was for. */
export interface FailureEvents {
  url: string;
  channelId: string;
  clientId: string;
}

/** The failure target of a message, or nothing when its snapshot has no events URL (the common case). */
export function failureEventsOf(
  input: { channelId: string; message: { client_id: string } },
  snapshot: { eventsUrl?: string | undefined } | undefined,
): FailureEvents | undefined {
  const url = snapshot?.eventsUrl;
  return url ? { url, channelId: input.channelId, clientId: input.message.client_id } : undefined;
}

/** Where a channel's events go: its events URL, signed with its signing secret. */
export interface EventTarget {
  url: string;
  channelId: string;
}

/** A message's event target from its snapshot, or nothing when the channel has no events URL (then emit nothing). */
export function eventTargetOf(snapshot: {
  channelId: string;
  eventsUrl?: string | undefined;
}): EventTarget | undefined {
  return snapshot.eventsUrl ? { url: snapshot.eventsUrl, channelId: snapshot.channelId } : undefined;
}

/** What the event workflow is started with: the event, fixed at the moment it happened, and where it goes. */
export interface OperationalEventInput {
  /** The `webhook-id` of every attempt (src/domain/ids.ts operationalEventId). */
  eventId: string;
  channelId: string;
  url: string;
  event: OperationalEvent;
  /** When it happened, ISO 8601: the body's `timestamp`, the same on every attempt. */
  timestamp: string;
  /** Seconds to wait before each retry, as for replies; its length is the number of retries. */
  retryScheduleSeconds: number[];
}

/** The body POSTed: the same bytes on every attempt (only the `webhook-timestamp` header and signature change). */
export function operationalEventBody(input: Pick<OperationalEventInput, 'event' | 'timestamp'>): string {
  return JSON.stringify({ type: input.event.type, timestamp: input.timestamp, data: input.event.data });
}
