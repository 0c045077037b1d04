import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import proto from '@temporalio/proto';
import { messageWorkflowId } from '../../src/domain/ids.js';
import { waitFor } from '../../src/lib/wait.js';
import { collections } from '../../src/stores/collections.js';
import { createPayloadCodec, temporalDataConverter } from '../../src/temporal/data-converter.js';
import type { PostResult, ProcessStack } from '../helpers/process-stack.js';
import type { ReceivedPost } from '../helpers/receiver.js';
import { startStack } from '../helpers/stack.js';
import { assertSigned, newChannel, report, type TestChannel } from './support.js';

/**
 * Order and once, proven on the real stack (issue 23): 40 chats, each sent one burst of 3 to 5
 * messages at once, half of each burst through one API process and half through another, while the
 * worker is SIGKILLed twice, Temporal is restarted once and FerretDB once. Half the chats reply to a
 * slow receiver (1.5 s a POST), half to one that answers 503 to the first POST of every part.
 *
 * The promises checked once the load has ended:
 * - every accepted (200) message ends: delivered, or failed with a reason; a refused (503) one is never answered;
 * - per chat, first parts arrive in the order the messages were accepted (their places in the line);
 * - no webhook-id arrives with two bodies; the re-sends of one (same id) are counted and reported;
 * - no message workflow had a failed workflow task or more than 200 events;
 * - nothing is left waiting: no message workflow runs, every place of every chat's line has ended
 *   (but the place of a refused message nobody came after: its workflow never existed; see below).
 */

const CHATS = 40;
/** The scenario's pace: one chat's burst every this often, so that the load spans every fault. */
const BURST_EVERY_MS = 800;
/** The slow receiver's time per POST. */
const SLOW_RECEIVER_MS = 1_500;
/** How long Temporal and FerretDB stay away (the fault, not a synchronisation). */
const OUTAGE_MS = 6_000;
/** How long the messages may take to end after the load: a worker SIGKILL's recovery, and a look into a line (35 s) behind a refused message's place. */
const SETTLE_DEADLINE_MS = 150_000;
const MAX_EVENTS = 200;
/**
 * The one workflow task failure that is no fault of the workflow's code: the server refuses a task's
 * completion because an event (a `lineTurn` hint, sent by whoever ended the place before) arrived
 * while the task ran, and the worker runs the task again with it. A nondeterminism error or a bug
 * in workflow code fails a task with another cause (e.g. WORKFLOW_WORKER_UNHANDLED_FAILURE).
 */
const UNHANDLED_COMMAND =
  proto.temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND;

interface ChaosMessage {
  chat: number;
  channel: TestChannel;
  text: string;
  clientMessageId: string;
  /** Every answer to its POSTs (a status 0 one is sent again, as a platform would). */
  results: PostResult[];
  /** From the 200 answer. */
  messageId?: string;
}

describe('faults: chaos (issue 23, order and once)', () => {
  let stack: ProcessStack;
  before(async () => {
    stack = await startStack({
      processes: true,
      apis: 2,
      fake: { latencyMs: 300 },
      // Retries of the failing receiver come within seconds.
      env: { DELIVERY_RETRY_SCHEDULE: '1,1,2,2,5' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  test('40 chats in bursts from two APIs, the worker killed twice, Temporal and FerretDB restarted: order and once hold', async () => {
    const slow = await newChannel(stack);
    const flaky = await newChannel(stack);
    stack.receiver.setMode({ kind: 'delay', ms: SLOW_RECEIVER_MS }, slow.replyPath);
    stack.receiver.setMode({ kind: 'fail-first', status: 503, times: 1 }, flaky.replyPath);
    const channels = [slow, flaky];

    const messages: ChaosMessage[] = [];
    /**
     * Sends one message through API `via`. A status 0 (no answer: the API was cut off or timed out)
     * leaves it unknown whether the message was accepted, so it is sent again with the same
     * message_id, as a platform would, until it is answered 200; a 503 is final (not accepted).
     */
    const send = async (message: ChaosMessage, via: number): Promise<void> => {
      const body = {
        client_id: `chaos-chat-${message.chat}`,
        page_id: message.channel.pageId,
        platform: 'CustomApp',
        text: message.text,
        message_id: message.clientMessageId,
      };
      const deadline = Date.now() + 90_000;
      for (;;) {
        const result = await stack.postMessage(message.channel.token, body, 15_000, via);
        message.results.push(result);
        assert.ok([0, 200, 503].includes(result.status), `${message.text}: ${JSON.stringify(result)}`);
        if (result.status === 200) {
          message.messageId = String(result.body.message_id);
          return;
        }
        const unknown = message.results.some((earlier) => earlier.status === 0);
        if (!unknown || Date.now() > deadline) return;
        await sleep(500); // a platform's pause between retries of one POST (the scenario, not a synchronisation)
      }
    };

    const loadStartedAt = Date.now();
    const load = (async () => {
      const bursts: Array<Promise<void>> = [];
      for (let chat = 0; chat < CHATS; chat++) {
        const channel = channels[chat % 2] as TestChannel;
        const size = 3 + (chat % 3);
        const burst = Array.from({ length: size }, (_, index): ChaosMessage => {
          const message: ChaosMessage = {
            chat,
            channel,
            text: `chaos chat ${chat} message ${index + 1}`,
            clientMessageId: `chaos-${chat}-${index}`,
            results: [],
          };
          messages.push(message);
          return message;
        });
        // A burst: all of the chat's messages at once, alternately through the two APIs.
        bursts.push(Promise.all(burst.map((message, index) => send(message, index % 2))).then(() => undefined));
        await sleep(BURST_EVERY_MS); // the load's pace (the scenario)
      }
      await Promise.all(bursts);
    })();

    // The faults, during the load. Each pause before one is the scenario: the load runs meanwhile.
    const faults: Record<string, number> = {};
    /** When each fault struck, to tell which one a part delivered twice follows. */
    const struck: Array<{ fault: string; at: number }> = [];
    const strike = (fault: string): void => void struck.push({ fault, at: Date.now() });
    const faultsDone = (async () => {
      await sleep(3_000);
      strike('workerKill1');
      await stack.worker.kill('SIGKILL');
      faults.workerRestart1Ms = await stack.worker.start();
      await sleep(2_000);
      strike('temporalStop');
      await stack.temporal.stop('SIGTERM');
      await sleep(OUTAGE_MS);
      faults.temporalStartMs = await stack.temporal.start();
      await sleep(4_000);
      strike('mongoStop');
      await stack.mongo.stop('SIGTERM');
      await sleep(OUTAGE_MS);
      faults.mongoStartMs = await stack.mongo.start();
      await sleep(3_000);
      strike('workerKill2');
      await stack.worker.kill('SIGKILL');
      faults.workerRestart2Ms = await stack.worker.start();
    })();
    await Promise.all([load, faultsDone]);
    const loadEndedAt = Date.now();

    const accepted = messages.filter(
      (message): message is ChaosMessage & { messageId: string } => message.messageId !== undefined,
    );
    const refused = messages.filter((message) => message.messageId === undefined);
    // Every refusal was a 503 (never an unanswered POST left in doubt).
    for (const message of refused)
      assert.ok(
        message.results.every((result) => result.status === 503),
        `${message.text}: ${JSON.stringify(message.results)}`,
      );
    assert.ok(accepted.length >= messages.length / 2, `${accepted.length} of ${messages.length} accepted`);

    // 1. Every accepted message ends: delivered (its first part answered 2xx), or failed with a reason.
    const records = await stack
      .settled(
        accepted.map((message) => message.messageId),
        SETTLE_DEADLINE_MS,
      )
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n${stack.diagnostics()}`);
      });
    const settledAt = Date.now();
    const outcomeOf = new Map(records.map((record) => [record._id, record]));
    const posts = channels.flatMap((channel) => stack.receiver.postsTo(channel.replyPath));
    const postsOf = new Map<string, ReceivedPost[]>();
    for (const post of posts) postsOf.set(post.webhookId, [...(postsOf.get(post.webhookId) ?? []), post]);
    const delivered2xx = (post: ReceivedPost): boolean =>
      post.outcome === 'answered' && post.status !== undefined && post.status >= 200 && post.status < 300;
    let failed = 0;
    for (const message of accepted) {
      const record = outcomeOf.get(message.messageId);
      assert.ok(record, `${message.messageId} ended`);
      const first = postsOf.get(`${message.messageId}.0`) ?? [];
      if (record.status === 'delivered') {
        const seen = first.filter(delivered2xx);
        assert.ok(seen.length >= 1, `${message.messageId} ("${message.text}") delivered: a 2xx was seen`);
        assert.equal(seen[0]?.fields.text, `Echo: ${message.text}`, "the model's reply, not the fallback");
        assertSigned(seen[0], message.channel.signingSecret);
      } else {
        assert.equal(record.status, 'failed', `${message.messageId} ("${message.text}") ended ${record.status}`);
        assert.ok(record.reason && record.reason.length > 0, `${message.messageId} failed with a reason`);
        failed += 1;
      }
    }
    // A refused message is never answered: no post but for accepted messages, none with a refused one's text.
    const acceptedIds = new Set(accepted.map((message) => message.messageId));
    const refusedTexts = new Set(refused.map((message) => `Echo: ${message.text}`));
    assert.deepEqual(
      posts
        .filter(
          (post) => !acceptedIds.has(post.webhookId.split('.')[0] ?? '') || refusedTexts.has(post.fields.text ?? ''),
        )
        .map((post) => `${post.webhookId}: ${post.fields.text ?? ''}`),
      [],
      'only accepted messages were answered',
    );

    // 2. No webhook-id with two bodies; re-sends of one id (after a lost or refused answer) counted.
    //    A part is re-sent after an error answer (the failing receiver's 503), after a lost answer
    //    (the worker killed mid-POST), and, at least once, after a 2xx whose record the sender could
    //    not keep (killed, or the database away, between the POST and its record): those last are
    //    reported by the fault they followed.
    const resends = { afterError: 0, afterLost: 0, after2xx: 0 };
    const twiceAfter = new Map<string, number>();
    for (const [webhookId, same] of postsOf) {
      assert.equal(new Set(same.map((post) => post.rawBody)).size, 1, `${webhookId} arrived with two different bodies`);
      same.slice(0, -1).forEach((post) => {
        if (delivered2xx(post)) resends.after2xx += 1;
        else if (post.outcome === 'lost') resends.afterLost += 1;
        else resends.afterError += 1;
      });
      const seen = same.filter(delivered2xx);
      if (seen.length > 1) {
        const firstAt = (seen[0] as ReceivedPost).receivedAt;
        const fault = struck.filter((item) => item.at <= firstAt + 2_000).at(-1)?.fault ?? 'none';
        twiceAfter.set(fault, (twiceAfter.get(fault) ?? 0) + 1);
      }
    }
    const deliveredTwice = [...twiceAfter.values()].reduce((sum, count) => sum + count, 0);

    // 3. Per chat, first parts arrive in acceptance order. The messages of a burst are sent at once, so
    //    no one's 200 came before another's POST: their acceptance order is the order of their places
    //    in the chat's line, claimed before each 200 (the promise: a message accepted after another's
    //    200 is answered after it, and a place claimed later means accepted later). The message
    //    documents hold each one's place (`line_seq`). Every POST of a later place's first part must
    //    come after every POST of an earlier one's (its turn comes only once the earlier place ended).
    const db = collections(stack.database.db);
    const docs = await db.messages.find({ _id: { $in: [...acceptedIds] } }).toArray();
    const docOf = new Map(docs.map((doc) => [doc._id, doc]));
    const chatIds = new Set<string>();
    let orderedPairs = 0;
    for (let chat = 0; chat < CHATS; chat++) {
      const inLine = accepted
        .filter((message) => message.chat === chat)
        .map((message) => {
          const doc = docOf.get(message.messageId);
          assert.ok(doc, `${message.messageId} has its message document`);
          chatIds.add(doc.chat_id);
          return { message, seq: doc.line_seq, posts: postsOf.get(`${message.messageId}.0`) ?? [] };
        })
        .sort((a, b) => a.seq - b.seq);
      assert.equal(new Set(inLine.map((item) => item.seq)).size, inLine.length, `chat ${chat}: one place per message`);
      const answered = inLine.filter((item) => item.posts.length > 0);
      for (let index = 1; index < answered.length; index++) {
        const earlier = answered[index - 1] as (typeof answered)[number];
        const later = answered[index] as (typeof answered)[number];
        const earlierLast = Math.max(...earlier.posts.map((post) => post.receivedAt));
        const laterFirst = Math.min(...later.posts.map((post) => post.receivedAt));
        assert.ok(
          earlierLast <= laterFirst,
          `chat ${chat}: "${later.message.text}" (place ${later.seq}) arrived at ${laterFirst}, before "${earlier.message.text}" (place ${earlier.seq}) was done at ${earlierLast}`,
        );
        orderedPairs += 1;
      }
    }

    // 4. Every message workflow: closed, no failed workflow task, at most 200 events.
    const connection = await Connection.connect({ address: stack.temporal.address });
    // The children's data converter: a workflow's memo is encrypted like its payloads.
    const client = new Client({
      connection,
      namespace: stack.config.TEMPORAL_NAMESPACE,
      dataConverter: temporalDataConverter(createPayloadCodec(stack.config)),
    });
    let maxEvents = 0;
    let timedOutTasks = 0;
    /** Completions refused for an event that came in meanwhile (UNHANDLED_COMMAND), by what came in. */
    let refusedCompletions = 0;
    const refusedCompletionsBy = new Map<string, number>();
    try {
      const histories = await Promise.all(
        accepted.map(async (message) => {
          const handle = client.workflow.getHandle(messageWorkflowId(message.messageId));
          // The outcome is written inside the workflow task that completes the run just after: wait for the close.
          await waitFor(async () => (await handle.describe()).status.name !== 'RUNNING', {
            timeoutMs: 30_000,
            intervalMs: 250,
            what: `${message.messageId}'s workflow to close`,
          });
          return { message, events: (await handle.fetchHistory()).events ?? [] };
        }),
      );
      for (const { message, events } of histories) {
        const failedTasks = events.flatMap((event, index) => {
          const attributes = event.workflowTaskFailedEventAttributes;
          if (attributes == null) return [];
          // What came in meanwhile: the events the server appended right after the refused completion.
          const next = events[index + 1];
          const arrived =
            next?.workflowExecutionSignaledEventAttributes?.signalName ?? String(next?.eventType ?? 'none');
          return [{ cause: attributes.cause ?? null, message: attributes.failure?.message ?? '', arrived }];
        });
        assert.deepEqual(
          failedTasks
            .filter((task) => task.cause !== UNHANDLED_COMMAND)
            .map((task) => `${String(task.cause)}: ${task.message}`),
          [],
          `${message.messageId}: no failed workflow task`,
        );
        for (const task of failedTasks) {
          refusedCompletions += 1;
          refusedCompletionsBy.set(task.arrived, (refusedCompletionsBy.get(task.arrived) ?? 0) + 1);
        }
        assert.ok(events.length <= MAX_EVENTS, `${message.messageId}: ${events.length} events`);
        maxEvents = Math.max(maxEvents, events.length);
        timedOutTasks += events.filter((event) => event.workflowTaskTimedOutEventAttributes != null).length;
      }

      // 5. Nothing is left waiting: every place of these chats' lines has ended. The one exception is
      //    the place of a refused message (503: its workflow start failed while Temporal was away)
      //    that no later message came to void: nobody waits for it, and the next message of its chat
      //    voids it when it looks (its workflow does not exist). It must belong to no accepted
      //    message and have no workflow.
      let openRefusedPlaces = 0;
      await waitFor(
        async () => {
          const slots = await db.lines.find({ chat_id: { $in: [...chatIds] } }).toArray();
          const ends = new Set(
            (await db.lineEnds.find({ chat_id: { $in: [...chatIds] } }).toArray()).map((end) => end._id),
          );
          const open = slots.filter((slot) => !ends.has(slot._id));
          for (const slot of open) {
            if (acceptedIds.has(slot.message_id)) return false;
            const exists = await client.workflow
              .getHandle(slot.workflow_id)
              .describe()
              .then(
                () => true,
                (error: unknown) => {
                  if (error instanceof WorkflowNotFoundError) return false;
                  throw error;
                },
              );
            if (exists) return false;
          }
          openRefusedPlaces = open.length;
          return true;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: "every place of the chats' lines to end" },
      );

      report('chaos', {
        chats: CHATS,
        messages: messages.length,
        accepted: accepted.length,
        refused503: refused.length,
        retriedPosts: messages.reduce((sum, message) => sum + message.results.length - 1, 0),
        failed,
        resendsAfterError: resends.afterError,
        resendsAfterLostAnswer: resends.afterLost,
        resendsAfter2xx: resends.after2xx,
        deliveredTwice,
        deliveredTwiceAfter: [...twiceAfter].map(([fault, count]) => `${fault}:${count}`).join(',') || 'none',
        orderedPairs,
        maxEvents,
        timedOutWorkflowTasks: timedOutTasks,
        completionsRefusedForNewEvents: refusedCompletions,
        refusedFor: [...refusedCompletionsBy].map(([what, count]) => `${what}:${count}`).join(',') || 'none',
        openRefusedPlaces,
        loadMs: loadEndedAt - loadStartedAt,
        settleAfterLoadMs: settledAt - loadEndedAt,
        ...faults,
      });
    } finally {
      await connection.close();
    }
  });
});
