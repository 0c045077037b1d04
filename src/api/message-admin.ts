import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ChatLine } from '../chat-line/line.js';
import { INTERIM_PART, mediaUrl, redeliveryWorkflowId } from '../domain/ids.js';
import type { MessageStatusResponse, MessageSummary } from './contracts/message.js';
import type { MessageStage, MessageStatus } from '../domain/models.js';
import type { MessageDoc, OutcomeDoc } from '../stores/collections.js';
import type { Stores } from '../stores/index.js';
import { progressQuery, resumeDeliverySignal, type MessageProgress } from '../workflows/definitions.js';
import type { RedeliveryInput, redeliveryWorkflow } from '../workflows/redelivery.js';
import { startSearchAttributes } from '../workflows/search-attributes.js';
import { conflict, notFound, unavailable } from './errors.js';

/** How long a redelivery's start may take before the admin gets a 503 (the webhook's own start deadline). */
const START_DEADLINE_MS = 5_000;
/** How long the describe that tells whether a failed start was recorded after all may take. */
const DESCRIBE_DEADLINE_MS = 1_000;

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

export interface MessageAdminDeps {
  stores: Pick<Stores, 'messages' | 'channels'>;
  client: Client;
  line: ChatLine;
  taskQueue: string;
  publicBaseUrl: string;
}

/** Where a message stands, put together from its records: the work now under way, and how it ended so far. */
interface MessageState {
  message: MessageDoc;
  /** The workflow doing the message's work right now, or that did it last: its latest redelivery, else its own. */
  workflowId: string;
  /** Whether that workflow has not recorded its end yet. */
  running: boolean;
  status: MessageStatus;
  reason?: string;
  completedAt?: Date;
  partCount?: number;
  /** The last redelivery's number, if any. */
  redelivery?: number;
  /** Coalesced or superseded: the message whose reply answered it in the end. */
  answeredBy?: string;
}

/** The stage its records give a message: accepted while its workflow runs (its steps are only there), else how it ended. */
function storedStageOf(state: MessageState): MessageStage {
  return state.running || state.status === 'processing' ? 'accepted' : state.status;
}

/** Hops followed from an absorbed message to the one that answered it: far more than any burst. */
const MAX_ANSWER_HOPS = 1_000;

/**
 * Message status, redelivery and channel resume. Status comes from MongoDB, overlaid with the
 * running workflow's own progress (by query) while it runs, so a pending retry shows its time.
 */
export function createMessageAdmin(deps: MessageAdminDeps) {
  const { stores, client } = deps;

  /**
   * The message whose reply answered an absorbed one: each records the message it was absorbed
   * into, which may itself have been absorbed (a burst, or a reply superseded in turn); the last
   * of the chain answered them all.
   */
  async function finalAnswerer(absorbedInto: string): Promise<{ id: string; outcome: OutcomeDoc | null }> {
    let answerer = absorbedInto;
    let outcome: OutcomeDoc | null = null;
    for (let hop = 0; hop < MAX_ANSWER_HOPS; hop++) {
      outcome = await stores.messages.outcome(answerer);
      const next = outcome?.answered_by;
      if (next === undefined) break;
      answerer = next;
    }
    return { id: answerer, outcome };
  }

  /**
   * Why an absorbed message got no answer after all: the message it was absorbed into ended
   * without delivering a part (refused when its turn came, say: its channel deleted meanwhile).
   */
  const unansweredAnswerer = (answerer: { id: string; outcome: OutcomeDoc | null }): string | undefined =>
    answerer.outcome !== null && answerer.outcome.parts_delivered === 0 && answerer.outcome.status !== 'delivered'
      ? `the message it was absorbed into (${answerer.id}) ended ${answerer.outcome.status} without a reply: ${answerer.outcome.reason ?? 'no reason recorded'}`
      : undefined;

  async function stateOf(message: MessageDoc): Promise<MessageState> {
    const [outcome, redeliveries, reply] = await Promise.all([
      stores.messages.outcome(message._id),
      stores.messages.redeliveries(message._id),
      stores.messages.reply(message._id),
    ]);
    const latest = redeliveries.at(-1);
    const latestOutcome = latest ? await stores.messages.outcome(message._id, latest.redelivery) : null;
    const ended = latest ? latestOutcome : outcome;
    const answerer = outcome?.answered_by !== undefined ? await finalAnswerer(outcome.answered_by) : undefined;
    const reason =
      ended?.reason ?? outcome?.reason ?? reply?.reason ?? (answerer ? unansweredAnswerer(answerer) : undefined);
    return {
      message,
      workflowId: latest?.workflow_id ?? message.workflow_id,
      running: ended === null,
      status: ended?.status ?? 'processing',
      ...(reason !== undefined ? { reason } : {}),
      ...(ended ? { completedAt: ended.at } : {}),
      ...(reply ? { partCount: reply.parts.length } : {}),
      ...(latest ? { redelivery: latest.redelivery } : {}),
      ...(answerer ? { answeredBy: answerer.id } : {}),
    };
  }

  async function liveProgress(state: MessageState): Promise<MessageProgress | undefined> {
    if (!state.running) return undefined;
    try {
      return await client.connection.withDeadline(Date.now() + 2_000, () =>
        client.workflow.getHandle(state.workflowId).query(progressQuery),
      );
    } catch {
      return undefined; // finished meanwhile, or Temporal is slow: MongoDB's record stands
    }
  }

  /** Whether a workflow exists, by a describe: undefined when Temporal gives no answer in time. */
  async function workflowExists(workflowId: string): Promise<boolean | undefined> {
    try {
      await client.connection.withDeadline(Date.now() + DESCRIBE_DEADLINE_MS, () =>
        client.workflow.getHandle(workflowId).describe(),
      );
      return true;
    } catch (error) {
      return error instanceof WorkflowNotFoundError ? false : undefined;
    }
  }

  async function requireMessage(id: string): Promise<MessageDoc> {
    const message = await stores.messages.get(id);
    if (!message) throw notFound('Message');
    return message;
  }

  return {
    async status(id: string): Promise<MessageStatusResponse> {
      const message = await requireMessage(id);
      const state = await stateOf(message);
      // The workflow first, then its records: it only moves forward, so the records read after its
      // answer include those of every step it reports (read alongside, a step that ended between
      // the two reads would show its stage without its reply or attempt).
      const live = await liveProgress(state);
      const attempts = await stores.messages.attempts(message);
      const parts = await stores.messages.parts(message, attempts);
      // Not running: the end recorded. Running without an answer from Temporal: simply accepted
      // (the steps are recorded only in the workflow).
      const storedStage = storedStageOf(state);
      // A text message's one step goes on to deliver once its reply is written: attempts say so
      // (not those of the "one moment" part, sent while the model is still generating).
      const replyAttempts = attempts.filter((attempt) => attempt.part_index !== INTERIM_PART);
      const stage: MessageStage =
        live?.stage === 'generating' && replyAttempts.length > 0 ? 'delivering' : (live?.stage ?? storedStage);
      const delivering = stage === 'delivering' || stage === 'retry_pending' || stage === 'paused';
      const delivered = parts.filter((part) => part.delivered_at).length;
      const currentPart = live?.partIndex !== undefined ? live.partIndex + 1 : delivering ? delivered + 1 : null;
      const lastAttemptError = attempts.at(-1)?.error;
      const updatedAt = [message.updated_at, state.completedAt, attempts.at(-1)?.at]
        .filter((date): date is Date => date !== undefined)
        .sort((a, b) => b.getTime() - a.getTime())[0];
      return {
        id: message._id,
        workflow_id: state.workflowId,
        channel_id: message.channel_id,
        page_id: message.page_id,
        client_id: message.client_id,
        status: state.status,
        stage,
        current_part: delivering ? currentPart : null,
        part_count: state.partCount ?? live?.partCount ?? null,
        parts_delivered: delivered,
        next_retry_at: live?.nextRetryAt ?? null,
        last_error: live?.lastError ?? (state.running ? lastAttemptError : undefined) ?? null,
        reason: state.reason ?? null,
        answered_by: state.answeredBy ?? null,
        live: live !== undefined,
        received_at: message.received_at.toISOString(),
        updated_at: (updatedAt ?? message.updated_at).toISOString(),
        completed_at: iso(state.completedAt),
        parts: parts.map((part) => ({
          part: part.index + 1,
          delivery_id: part.delivery_id,
          characters: part.text.length,
          images: part.images ?? [],
          file: part.file ?? null,
          audio_url: part.audio_blob_id ? mediaUrl(deps.publicBaseUrl, part.audio_blob_id) : null,
          delivered_at: iso(part.delivered_at),
        })),
        attempts: attempts.map((attempt) => ({
          part: attempt.part_index + 1,
          attempt: attempt.attempt,
          ...(attempt.redelivery !== undefined ? { redelivery: attempt.redelivery } : {}),
          at: attempt.at.toISOString(),
          duration_ms: attempt.duration_ms,
          result: attempt.result,
          ...(attempt.http_status !== undefined ? { http_status: attempt.http_status } : {}),
          ...(attempt.error !== undefined ? { error: attempt.error } : {}),
        })),
      };
    },

    async listForChannel(
      channelId: string,
      options: { limit: number; before?: string },
    ): Promise<{ data: MessageSummary[]; next_before: string | null }> {
      if (!(await stores.channels.get(channelId))) throw notFound('Channel');
      const docs = await stores.messages.listByChannel(channelId, {
        limit: options.limit + 1,
        ...(options.before ? { before: new Date(options.before) } : {}),
      });
      const page = docs.slice(0, options.limit);
      const data = await Promise.all(
        page.map(async (message): Promise<MessageSummary> => {
          const state = await stateOf(message);
          const outcome = state.running ? null : await stores.messages.outcome(message._id, state.redelivery);
          return {
            id: message._id,
            client_id: message.client_id,
            status: state.status,
            stage: storedStageOf(state),
            part_count: state.partCount ?? null,
            parts_delivered: outcome?.parts_delivered ?? 0,
            reason: state.reason ?? null,
            answered_by: state.answeredBy ?? null,
            received_at: message.received_at.toISOString(),
            completed_at: iso(state.completedAt),
          };
        }),
      );
      return {
        data,
        next_before: docs.length > options.limit ? (page.at(-1)?.created_at.toISOString() ?? null) : null,
      };
    },

    /** Sends stored parts again, from `fromPart` (from 1), in the chat's turn, to the channel's current URL. */
    async redeliver(id: string, fromPart: number | undefined) {
      const message = await requireMessage(id);
      const state = await stateOf(message);
      if (state.running) throw conflict('The message is still being processed; redeliver it once it has finished.');
      if (!message.snapshot) throw conflict('The message has no stored reply to deliver.');
      const reply = await stores.messages.reply(id);
      const partCount = reply?.parts.length ?? 0;
      if (partCount === 0) throw conflict('The message has no stored reply to deliver.');
      const delivered = (await stores.messages.parts(message)).filter((part) => part.delivered_at).length;
      const start = fromPart ?? delivered + 1;
      if (fromPart === undefined && delivered >= partCount)
        throw conflict('Every part was delivered; pass from_part to send parts again.');
      if (start > partCount)
        throw conflict(`The reply has ${partCount} part(s); from_part must be at most ${partCount}.`);
      // The number is claimed by an insert: of two redeliveries asked for at once, one wins, the other is refused.
      const number = (state.redelivery ?? 0) + 1;
      const workflowId = redeliveryWorkflowId(id, number);
      if (!(await stores.messages.claimRedelivery(id, number, { workflow_id: workflowId, from_part: start }))) {
        throw conflict('Another redelivery of this message has just started.');
      }
      // The redelivery takes a place in the chat's line like a message, so it never interleaves with a reply.
      const lineSeq = await deps.line.claim(message.chat_id, { messageId: id, workflowId });
      const input: RedeliveryInput = {
        lineSeq,
        messageId: id,
        chatId: message.chat_id,
        channelId: message.channel_id,
        partCount,
        fromPart: start - 1,
        redelivery: number,
        retryScheduleSeconds: message.snapshot.retryScheduleSeconds,
      };
      try {
        // A deadline, so that an unreachable Temporal is an answer in seconds rather than a hung request.
        await client.connection.withDeadline(Date.now() + START_DEADLINE_MS, () =>
          client.workflow.start<typeof redeliveryWorkflow>('redeliveryWorkflow', {
            taskQueue: deps.taskQueue,
            workflowId,
            args: [input],
            memo: { lineSeq },
            typedSearchAttributes: startSearchAttributes(input),
          }),
        );
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) {
          await deps.line.abandon(message.chat_id, lineSeq);
        } else {
          // A start whose answer came too late may have been recorded after all: then it runs.
          const exists = await workflowExists(workflowId);
          if (exists !== true) {
            // Not started (issue 23, items 6 and 11). Its place in the chat's line is abandoned only
            // when Temporal said the workflow does not exist; when Temporal could not say, the place
            // stays (a start recorded after all must keep it) and the line's own inspection voids it
            // once it is known never to have started. The redelivery number is given back either
            // way, so the message is not left `processing` and can be redelivered again.
            if (exists === false) await deps.line.abandon(message.chat_id, lineSeq);
            await stores.messages.releaseRedelivery(id, number);
            throw unavailable(
              'The redelivery could not be started: Temporal did not record its start. Nothing was sent; ask again once Temporal is reachable.',
            );
          }
        }
      }
      return { message_id: id, workflow_id: workflowId, from_part: start, part_count: partCount };
    },

    /** Lifts a channel's pause (after a 410) and wakes every reply that was waiting, each in its chat's order. */
    async resumeChannel(channelId: string) {
      const channel = await stores.channels.update(channelId, { delivery_paused: false, paused_reason: '' });
      if (!channel) throw notFound('Channel');
      let resumed = 0;
      for (const workflowId of await stores.messages.parkedDeliveries(channelId)) {
        try {
          await client.workflow.getHandle(workflowId).signal(resumeDeliverySignal);
          resumed += 1;
        } catch {
          // Finished meanwhile: nothing to wake. Workflows also re-check the channel by themselves.
        }
        await stores.messages.unparkDelivery(workflowId);
      }
      return { channel_id: channelId, resumed_messages: resumed };
    },
  };
}

export type MessageAdmin = ReturnType<typeof createMessageAdmin>;
