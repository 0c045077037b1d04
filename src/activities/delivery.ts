import { Context } from '@temporalio/activity';
import {
  attemptKey,
  deliveryAttemptId,
  INTERIM_PART,
  interimDeliveryId,
  mediaUrl,
  messageWorkflowId,
} from '../domain/ids.js';
import { ttlCache } from '../lib/caches.js';
import { activityLogger, type ActivityDeps } from './deps.js';
import { createEventEmitter } from './events.js';
import { replyPartMissing, stepCancelled } from './failures.js';
import { createFinisher, type Finish } from './finish.js';
import { postForm, replyForm, signatureHeaders, type PostOutcome } from './reply-post.js';
import type { Channel } from '../domain/models.js';
import type { DeliveryAttemptDoc } from '../stores/collections.js';
import { persistently } from '../stores/unavailable.js';

/**
 * How long the record of a POST already made is retried while the database is away (a restart takes
 * seconds): well within the delivery step's minute, which the POST itself takes at most 50 s of.
 */
const RECORD_AFTER_POST_WITHIN_MS = 20_000;

export type { Finish };

export interface SendPartInput {
  messageId: string;
  chatId: string;
  channelId: string;
  partIndex: number;
  partCount: number;
  attempt: number;
  /** The snapshot's reply URL; a redelivery leaves it out and uses the channel's current one. */
  url?: string;
  redelivery?: number;
  /** The wait before the next attempt should this one ask for a retry; absent when the schedule is spent. */
  retryWaitSeconds?: number;
  /** Whether the reply has speech (a part's audio is then looked up). */
  withAudio?: boolean;
  /** Set on the last part: once it is delivered, the message ends so and its turn is handed on. */
  finish?: Finish;
  /**
   * An earlier run of the step may have made this attempt already (its reply was written before,
   * or the step is the workflow's `sendReplyPart`, which may be re-run from attempt 1 after its
   * workflow task was lost): its record is looked up first, and when there is one it is the
   * attempt's answer (no POST again).
   */
  mayHaveSent?: boolean;
  /**
   * Set for the "one moment" part (partIndex INTERIM_PART): its text, sent while the model is
   * slow; it is no part of the reply, which is not written yet.
   */
  interim?: string;
}

export interface SendPartResult {
  /** `paused`: nothing was sent because the channel's delivery is paused. */
  outcome: PostOutcome['result'] | 'paused';
  status?: number;
  error?: string;
  /** For `retry` with a schedule left: the wait before the next attempt (the schedule stretched by Retry-After). */
  retryInSeconds?: number;
}

/** What is known of a reply's delivery when a step that delivers its parts at once returns. */
export interface InlineDelivery {
  /** Parts delivered, from the first. */
  delivered: number;
  /** True when every part was delivered and the message ended with the last one. */
  finished: boolean;
  /** The first attempt of the first part not delivered, when one was made. */
  stopped?: { partIndex: number; result: SendPartResult };
}

/**
 * Delivery: one signed POST of one reply part per call; the workflow owns the retry schedule.
 * Shared by the delivery step and by the steps that deliver a reply's first attempts at once.
 */
export function createDelivery(deps: ActivityDeps) {
  const { stores, settings } = deps;
  // Delivery reads the channel (paused? current URL?) and its signing secrets for every part; a
  // short cache spares those reads. A pause set here is seen at once (invalidated below); one set
  // by another worker or an admin within the TTL: a receiver's own 410 answers cover that.
  const ttlMs = settings.channelCacheTtlMs;
  const channels = ttlCache((id) => stores.channels.get(id), { ttlMs });
  const secrets = ttlCache((channelId) => stores.signingSecrets.active(channelId), { ttlMs });

  const finishAndRelease = createFinisher(deps);
  const events = createEventEmitter(deps);
  const currentWorkflowId = (messageId: string): string =>
    Context.current().info.workflowExecution?.workflowId ?? messageWorkflowId(messageId);

  /**
   * 410: the receiver says this URL is gone for good. Park the channel's replies until an admin
   * resumes it. Each write is safe to repeat (a re-run of the attempt repeats them all).
   */
  async function pauseForGone(channel: Channel, input: SendPartInput, at: Date): Promise<void> {
    await stores.channels.update(channel.id, {
      delivery_paused: true,
      paused_reason: `the reply URL answered 410 Gone (${at.toISOString()})`,
    });
    channels.invalidate(channel.id);
    await stores.messages.parkDelivery(currentWorkflowId(input.messageId), channel.id, input.messageId);
    // The channel read before says where its events go: no read more. One event per 410 answer.
    if (channel.events_url) {
      const attemptId = deliveryAttemptId(
        input.messageId,
        attemptKey(input.partIndex, input.attempt, input.redelivery),
      );
      await events.deliveryPaused(
        { url: channel.events_url, channelId: channel.id },
        { channel_id: channel.id, message_id: input.messageId },
        attemptId,
      );
    }
  }

  /**
   * The answer of an attempt an earlier run made (and recorded) but whose result was lost: the
   * same answer again, without a POST; a 410 (recorded as rejected) pauses the channel again, in
   * case that run ended before it did.
   */
  async function answeredBefore(input: SendPartInput, earlier: DeliveryAttemptDoc): Promise<SendPartResult> {
    const gone = earlier.http_status === 410;
    if (gone) {
      const channel = await channels.get(input.channelId);
      if (channel) await pauseForGone(channel, input, earlier.at);
    }
    const retryInSeconds = earlier.result === 'retry' ? input.retryWaitSeconds : undefined;
    return {
      outcome: gone ? 'gone' : earlier.result,
      ...(earlier.http_status !== undefined ? { status: earlier.http_status } : {}),
      ...(earlier.error !== undefined ? { error: earlier.error } : {}),
      ...(retryInSeconds !== undefined ? { retryInSeconds } : {}),
    };
  }

  /**
   * One delivery attempt of one part, recorded by one insert. A first delivery goes to the
   * snapshot's URL; an admin's redelivery to the channel's current one.
   */
  async function sendPart(input: SendPartInput): Promise<SendPartResult> {
    const part =
      input.interim !== undefined
        ? { index: INTERIM_PART, text: input.interim, images: [], delivery_id: interimDeliveryId(input.messageId) }
        : (await stores.messages.reply(input.messageId))?.parts[input.partIndex];
    if (!part) {
      throw replyPartMissing(input.messageId, input.partIndex);
    }
    if (input.mayHaveSent === true) {
      // An earlier run may have made the attempt and lost its result: its record stands for it.
      const earlier = await stores.messages.attempt({
        messageId: input.messageId,
        partIndex: input.partIndex,
        attempt: input.attempt,
        ...(input.redelivery !== undefined ? { redelivery: input.redelivery } : {}),
      });
      if (earlier?.result === 'delivered') {
        if (input.finish) await finishAndRelease(input.messageId, input.chatId, input.finish, input.redelivery);
        return { outcome: 'delivered' };
      }
      if (earlier) return answeredBefore(input, earlier);
    }
    // An admin's redelivery goes where the channel points now, not where it pointed a second ago.
    if (input.redelivery !== undefined) channels.invalidate(input.channelId);
    const channel = await channels.get(input.channelId);
    if (!channel) return { outcome: 'rejected', error: 'the channel no longer exists' };
    if (channel.delivery_paused) {
      await stores.messages.parkDelivery(currentWorkflowId(input.messageId), channel.id, input.messageId);
      deps.report?.deliveryAttempt('paused');
      return { outcome: 'paused', error: channel.paused_reason ?? 'delivery is paused for this channel' };
    }
    const url = input.redelivery === undefined && input.url !== undefined ? input.url : channel.reply_webhook_url;
    const blobId = input.withAudio ? await stores.messages.speech(input.messageId, input.partIndex) : undefined;
    const body = replyForm(part, blobId !== undefined ? mediaUrl(settings.publicBaseUrl, blobId) : undefined);
    const signing = await secrets.get(channel.id);
    if (signing.length === 0) {
      // Never unsigned: a channel without a signing secret (a rotation or a create that failed
      // halfway) gets nothing until it has one again; the part waits on the retry schedule.
      secrets.invalidate(channel.id);
      const error = 'the channel has no signing secret: nothing is sent unsigned (rotate its signing secret)';
      await stores.messages.recordAttempt(input.messageId, {
        part_index: input.partIndex,
        attempt: input.attempt,
        ...(input.redelivery !== undefined ? { redelivery: input.redelivery } : {}),
        at: new Date(),
        duration_ms: 0,
        result: 'retry',
        error,
      });
      deps.report?.deliveryAttempt('retry');
      return {
        outcome: 'retry',
        error,
        ...(input.retryWaitSeconds !== undefined ? { retryInSeconds: input.retryWaitSeconds } : {}),
      };
    }
    const started = new Date();
    const headers = {
      ...signatureHeaders(signing, part.delivery_id, started, body),
      'x-chatrelay-message-id': input.messageId,
      'x-chatrelay-part': input.interim !== undefined ? 'interim' : `${input.partIndex + 1}/${input.partCount}`,
    };
    // A step cancelled (a local activity past its timeout, whose retry may be running already)
    // stops its POST at once and records nothing: the part is its retry's now.
    const cancellation = Context.current().cancellationSignal;
    const outcome = await postForm(
      url,
      body,
      headers,
      settings.deliveryTimeoutMs,
      settings.deliveryPolicy,
      cancellation,
    );
    if (cancellation.aborted) throw stepCancelled(cancellation);
    const now = new Date();
    const error = 'error' in outcome ? outcome.error : undefined;
    // The POST was made: its record is what keeps a retry of this step from making it again, so a
    // database away for a moment (a restart) is waited for, within the step's time, not given up on.
    await persistently(
      () =>
        stores.messages.recordAttempt(input.messageId, {
          part_index: input.partIndex,
          attempt: input.attempt,
          ...(input.redelivery !== undefined ? { redelivery: input.redelivery } : {}),
          at: started,
          duration_ms: now.getTime() - started.getTime(),
          result: outcome.result === 'gone' ? 'rejected' : outcome.result,
          ...(outcome.status !== undefined ? { http_status: outcome.status } : {}),
          ...(error !== undefined ? { error } : {}),
        }),
      { withinMs: RECORD_AFTER_POST_WITHIN_MS, signal: cancellation },
    );
    if (outcome.result === 'gone') await pauseForGone(channel, input, now);
    deps.report?.deliveryAttempt(outcome.result);
    activityLogger(deps.logger).info(
      {
        messageId: input.messageId,
        pageId: channel.page_id,
        part: input.partIndex,
        attempt: input.attempt,
        result: outcome.result,
        status: outcome.status,
        ms: now.getTime() - started.getTime(),
      },
      'delivery attempt',
    );
    if (outcome.result === 'delivered' && input.finish)
      await finishAndRelease(input.messageId, input.chatId, input.finish, input.redelivery);
    const retryInSeconds =
      outcome.result === 'retry' && input.retryWaitSeconds !== undefined
        ? Math.max(input.retryWaitSeconds, outcome.retryAfterSeconds ?? 0)
        : undefined;
    return {
      outcome: outcome.result,
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(retryInSeconds !== undefined ? { retryInSeconds } : {}),
    };
  }

  /**
   * The first attempt of every part, in order, within the step that wrote the reply (no reply
   * delay, no speech): the common case costs no step of its own. It stops at the first part not
   * delivered, and the workflow takes it from there with its retry schedule. With `upTo` (paced
   * parts), it sends only that many parts, and the workflow sends the rest after its pauses. With
   * `until` (epoch ms: the step's time budget), no part is started after it: the workflow's own
   * delivery steps send the rest, so that a long reply to a slow receiver never holds the step up
   * to its timeout (whose retry would send the parts again beside it).
   */
  async function deliverAtOnce(plan: {
    messageId: string;
    chatId: string;
    channelId: string;
    url: string;
    partCount: number;
    retryScheduleSeconds: number[];
    finish: Omit<Finish, 'partsDelivered'>;
    mayHaveSent?: boolean;
    upTo?: number;
    until?: number;
  }): Promise<InlineDelivery> {
    const context = Context.current();
    const sent = Math.min(plan.upTo ?? plan.partCount, plan.partCount);
    for (let partIndex = 0; partIndex < sent; partIndex++) {
      if (context.cancellationSignal.aborted) throw stepCancelled(context.cancellationSignal);
      if (plan.until !== undefined && Date.now() >= plan.until) return { delivered: partIndex, finished: false };
      // A local activity has no heartbeat (its workflow task is kept alive instead).
      if (!context.info.isLocal) context.heartbeat();
      const last = partIndex === plan.partCount - 1;
      const retryWaitSeconds = plan.retryScheduleSeconds[0];
      const result = await sendPart({
        messageId: plan.messageId,
        chatId: plan.chatId,
        channelId: plan.channelId,
        url: plan.url,
        partIndex,
        partCount: plan.partCount,
        attempt: 1,
        ...(retryWaitSeconds !== undefined ? { retryWaitSeconds } : {}),
        ...(last ? { finish: { ...plan.finish, partsDelivered: plan.partCount } } : {}),
        ...(plan.mayHaveSent === true ? { mayHaveSent: true } : {}),
      });
      if (result.outcome !== 'delivered')
        return { delivered: partIndex, finished: false, stopped: { partIndex, result } };
    }
    return { delivered: sent, finished: sent === plan.partCount };
  }

  /** Whether the channel's delivery is still paused (closes the race between a resume and a workflow parking). */
  async function checkPaused(channelId: string): Promise<boolean> {
    channels.invalidate(channelId);
    const channel = await channels.get(channelId);
    return channel?.delivery_paused === true;
  }

  return { sendPart, deliverAtOnce, checkPaused };
}

export type Delivery = ReturnType<typeof createDelivery>;

/** The delivery steps the workflows call. */
export function createDeliveryActivities(deps: ActivityDeps, delivery: Delivery) {
  return {
    async sendReplyPart(input: SendPartInput): Promise<SendPartResult> {
      try {
        // A local activity: run again from attempt 1 when its workflow task is lost, so always
        // looked up (one read by `_id`) rather than trusted to the attempt number.
        return await delivery.sendPart({ ...input, mayHaveSent: true });
      } catch (error) {
        deps.report?.deliveryAttempt('error'); // our side failed (MongoDB, say): the step is retried
        throw error;
      }
    },

    /** Whether the channel's delivery is still paused (closes the race between a resume and a workflow parking). */
    async checkChannelPaused(input: { channelId: string }): Promise<boolean> {
      return delivery.checkPaused(input.channelId);
    },
  };
}
