import { operationalEventId } from '../domain/ids.js';
import {
  operationalEventBody,
  type EventTarget,
  type OperationalEvent,
  type OperationalEventInput,
} from '../domain/operational-events.js';
import { loggableReason } from '../lib/logger.js';
import { ttlCache } from '../lib/caches.js';
import { activityLogger, type ActivityDeps } from './deps.js';
import { postForm, signatureHeaders, type PostOutcome } from './reply-post.js';

/** Starts the workflow that delivers one event (src/temporal/event-starter.ts); a repeated start is ignored. */
export interface OperationalEventStarter {
  start(input: OperationalEventInput): Promise<void>;
}

/**
 * Emits operational events from activities, where the outcome they report is recorded: each
 * starts its own small workflow (delivery with retries on durable timers), so the message
 * workflow's history does not change. The id is derived from what the event is about, so
 * emitting it again (a retried activity) starts nothing new.
 */
export function createEventEmitter(deps: Pick<ActivityDeps, 'events' | 'settings' | 'logger'>) {
  async function emit(target: EventTarget, subject: string, event: OperationalEvent): Promise<void> {
    const log = activityLogger(deps.logger);
    const eventId = operationalEventId(event.type, subject);
    if (!deps.events) {
      log.warn({ eventId, type: event.type }, 'operational event not sent: this worker has no event starter');
      return;
    }
    await deps.events.start({
      eventId,
      channelId: target.channelId,
      url: target.url,
      event,
      timestamp: new Date().toISOString(),
      // The schedule of replies (DELIVERY_RETRY_SCHEDULE), which every message's snapshot holds too.
      retryScheduleSeconds: deps.settings.retryScheduleSeconds,
    });
    log.info({ eventId, type: event.type, channelId: target.channelId }, 'operational event emitted');
  }

  return {
    /** A message ended failed (its fallback was delivered, or its reply could not be). */
    messageFailed: (
      target: EventTarget,
      data: { message_id: string; chat_id: string; client_id: string; reason: string },
    ): Promise<void> => emit(target, data.message_id, { type: 'message.failed', data }),

    /** A receiver answered 410 and the channel's delivery is paused; `attemptId` names the attempt that got the 410. */
    deliveryPaused: (target: EventTarget, data: { channel_id: string; message_id: string }, attemptId: string) =>
      emit(target, attemptId, { type: 'channel.delivery_paused', data }),

    /**
     * The chat's assistant is paused for a person to take over (the model asked for it, with this
     * message). From an activity: `const target = eventTargetOf(snapshot); if (target) await
     * createEventEmitter(deps).handoffRequested(target, {...})`; emitted again, it is one event.
     */
    handoffRequested: (target: EventTarget, data: { chat_id: string; client_id: string; message_id: string }) =>
      emit(target, data.message_id, { type: 'chat.handoff_requested', data }),
  };
}

export type EventEmitter = ReturnType<typeof createEventEmitter>;

/** What one attempt of an event's delivery gave. */
export interface EventAttemptResult {
  /** `gone` (410) counts as final: an events receiver that is gone never pauses the channel's replies. */
  outcome: PostOutcome['result'];
  status?: number;
  error?: string;
  /** The receiver's Retry-After, in seconds, when it gave one. */
  retryAfterSeconds?: number;
}

/** The step of the event workflow: one signed POST of the event. */
export function createEventActivities(deps: ActivityDeps) {
  const { stores, settings } = deps;
  const secrets = ttlCache((channelId) => stores.signingSecrets.active(channelId), {
    ttlMs: settings.channelCacheTtlMs,
  });
  return {
    async sendOperationalEvent(input: OperationalEventInput & { attempt: number }): Promise<EventAttemptResult> {
      const log = activityLogger(deps.logger);
      const signing = await secrets.get(input.channelId);
      const base = { eventId: input.eventId, type: input.event.type, attempt: input.attempt };
      if (signing.length === 0) {
        // Never unsigned (as replies): the event waits on the retry schedule for a secret.
        secrets.invalidate(input.channelId);
        const error = 'the channel has no signing secret: nothing is sent unsigned (rotate its signing secret)';
        log.warn({ ...base, error }, 'operational event attempt');
        return { outcome: 'retry', error };
      }
      const body = operationalEventBody(input);
      const started = new Date();
      const headers = {
        ...signatureHeaders(signing, input.eventId, started, body),
        'content-type': 'application/json',
      };
      const outcome = await postForm(input.url, body, headers, settings.deliveryTimeoutMs, settings.deliveryPolicy);
      const error = 'error' in outcome ? outcome.error : undefined;
      // The receiver's host only: the events URL's path may be its secret.
      const logged = error === undefined ? undefined : loggableReason(error);
      log.info(
        { ...base, result: outcome.result, status: outcome.status, error: logged, ms: Date.now() - started.getTime() },
        'operational event attempt',
      );
      return {
        outcome: outcome.result,
        ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        ...(error !== undefined ? { error } : {}),
        ...(outcome.result === 'retry' && outcome.retryAfterSeconds !== undefined
          ? { retryAfterSeconds: outcome.retryAfterSeconds }
          : {}),
      };
    },
  };
}

export type EventActivities = ReturnType<typeof createEventActivities>;
