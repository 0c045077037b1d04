/**
 * Re-runs of the local activities (issue 23): a worker that dies after a local activity did its
 * work, but before its workflow task completed, leaves the step to the next worker, which runs it
 * again from `attempt = 1`. Each scenario below is the steps one such workflow task runs; its first
 * run is interrupted after its N-th side effect (a write to MongoDB or a POST to the receiver), for
 * every N up to an uninterrupted run whose result is lost, and the steps are then run again from
 * attempt 1 by a new worker (new stores, empty caches). Once the first run's verdict is final (a
 * part sent, a reply stored in a burst, an outcome), a newer message of the chat is claimed before
 * the re-run, and answered before it when the first run handed the turn on, as it would be.
 *
 * After the re-run: the receiver saw no webhook-id an uninterrupted run would not send, no part
 * twice but the one in flight when the first run died, the chat's window holds each entry once
 * (and the newer message's untouched), the outcome is the uninterrupted run's, and a message whose
 * outcome was stored before the re-run wrote nothing to the window.
 *
 * Real activities (createActivities), real MongoDB-compatible server, a real HTTP receiver, the
 * fake model server. The Temporal side of the chat's line (a signal, a workflow's status) is not
 * under test: every claimed place's workflow counts as running.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createActivities, type Activities } from '../../src/activities/index.js';
import { createOpenAIModelClient } from '../../src/activities/model.js';
import { createChatLine, type LineWorkflows } from '../../src/chat-line/line.js';
import { fakeVoiceNote, startFakeModel, type FakeModel } from '../helpers/fake-model.js';
import { deliveryId, historyEntryId, messageWorkflowId } from '../../src/domain/ids.js';
import type { Channel, MessageWorkflowInput } from '../../src/domain/models.js';
import { createLogger } from '../../src/lib/logger.js';
import { randomId } from '../../src/lib/secrets.js';
import type { ChatDoc, DeliveryAttemptDoc, OutcomeDoc, ReplyDoc } from '../../src/stores/collections.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { createChannelWithAgent, testActivitySettings, workflowInputFor } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { runActivity } from './fakes.js';

/** What a dying worker looks like to the step: it stops right there. */
class WorkerLost extends Error {
  override name = 'WorkerLost';
}

/** The store methods that write, by store: each is one side effect a run can die after. */
const WRITES = {
  messages: new Set<string>([
    'insert',
    'saveTranscript',
    'saveReply',
    'saveSpeech',
    'recordAttempt',
    'saveOutcome',
    'claimRedelivery',
    'parkDelivery',
    'unparkDelivery',
  ]),
  chats: new Set<string>(['recordTurn', 'setHandoff', 'dropEntry']),
  channels: new Set<string>(['update']),
  lines: new Set<string>(['claim', 'finish', 'markVoid', 'wait', 'forgetWaiter']),
  blobs: new Set<string>(['put']),
} as const;
/** The writes of a chat's window (the chat document the next message's model reads). */
const WINDOW_WRITES: ReadonlySet<string> = WRITES.chats;

/** A run's side effects so far: its writes, counted here, and its POSTs, counted by the receiver. */
interface Run {
  writes: number;
  windowWrites: number;
  /** Messages this worker counted as finished (its metrics). */
  finished: number;
  /** The side effect after which the run dies (Infinity: never). */
  budget: number;
  posts: () => number;
}
const sideEffects = (run: Run): number => run.writes + run.posts();

/** `store` with its writes counted, and refused (before or just after the write) once `run`'s budget is spent. */
function watched<T extends object>(store: T, writes: ReadonlySet<string>, run: Run): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || !writes.has(property)) return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        if (sideEffects(run) >= run.budget) throw new WorkerLost(`died before ${property}`);
        const result = await method.apply(target, args);
        run.writes += 1;
        if (WINDOW_WRITES.has(property)) run.windowWrites += 1;
        if (sideEffects(run) >= run.budget) throw new WorkerLost(`died after ${property}`);
        return result;
      };
    },
  });
}

/** What is stored of a message. */
interface Stored {
  transcript?: string;
  /** The reply's parts that have their speech. */
  spoken: number;
  reply: ReplyDoc | null;
  attempts: DeliveryAttemptDoc[];
  outcome: OutcomeDoc | null;
  chat: ChatDoc | null;
}

/** One workflow task's steps, as the message workflow runs them (src/workflows/message/). */
type Steps = (activities: Activities, input: MessageWorkflowInput, step: Step, stores: Stores) => Promise<unknown[]>;
type Step = <R>(run: () => Promise<R>) => Promise<R>;

interface Scenario {
  name: string;
  channel: Partial<Omit<Channel, 'id'>>;
  /** Steps of workflow tasks that completed before the lost one: run once, never interrupted. */
  before?: Steps;
  /** The steps of the workflow task that is lost. */
  lost: Steps;
  /** How many parts an uninterrupted run sends. */
  parts: number;
  /** A voice note (served by the receiver), transcribed, answered and spoken: no part is sent. */
  voice?: true;
  /** Whether what the first run stored makes its verdict final: a newer message may not change it. */
  settled: (stored: Stored) => boolean;
}

/** A text long enough for two parts at the channels' 40 characters (the fake model echoes it). */
const TEXT = 'First things first, please. Then the rest.';

const scenarios: Scenario[] = [
  {
    name: 'the answer step (answerMessage): admission, reply, the stale check, both parts, the end',
    channel: { supersede_stale_replies: true, max_message_length: 40 },
    lost: async (activities, input, step) => [await step(() => activities.answerMessage(input))],
    parts: 2,
    settled: (stored) => stored.attempts.length > 0 || stored.outcome !== null,
  },
  {
    name: 'the burst step (answerInBurst): the window over, reply, both parts, the end',
    channel: { coalesce_window_seconds: 60, max_message_length: 40 },
    before: async (activities, input, step) => [await step(() => activities.answerMessage(input))],
    lost: async (activities, input, step, stores) => {
      // The settings the workflow got from the step before ('coalescing'): those the message was admitted with.
      const snapshot = (await stores.messages.get(input.messageId))?.snapshot;
      assert.ok(snapshot);
      return [await step(() => activities.answerInBurst({ ...input, snapshot }))];
    },
    parts: 2,
    settled: (stored) =>
      stored.reply !== null ||
      stored.outcome !== null ||
      (stored.chat?.recent ?? []).some((entry) => entry.role === 'assistant'),
  },
  {
    name: 'after a reply delay (dropStaleReply, sendReplyPart for each part): the stale check, both parts, the end',
    channel: { supersede_stale_replies: true, max_message_length: 40 },
    before: async (activities, input, step) => {
      const admitted = await step(() => activities.admitMessage(input));
      if (admitted.outcome !== 'accepted') return [admitted];
      const { snapshot } = admitted;
      const reply = { messageId: input.messageId, chatId: input.chatId, agentId: snapshot.agentId };
      const replyInput = { ...reply, voicePrefix: snapshot.voicePrefix, maxMessageLength: snapshot.maxMessageLength };
      return [await step(() => activities.composeReply(replyInput))];
    },
    lost: async (activities, input, step, stores) => {
      const { messageId, chatId, lineSeq } = input;
      // The part count the workflow got from the step before (composeReply).
      const partCount = (await stores.messages.reply(messageId))?.parts.length ?? 0;
      const stale = await step(() => activities.dropStaleReply({ messageId, chatId, lineSeq }));
      if (stale.supersededBy !== undefined) return [stale];
      const results: unknown[] = [stale];
      for (let partIndex = 0; partIndex < partCount; partIndex++) {
        const finish = { status: 'delivered' as const, partsDelivered: partCount, lineSeq };
        const sent = await step(() =>
          activities.sendReplyPart({
            messageId,
            chatId,
            channelId: input.channelId,
            partIndex,
            partCount,
            attempt: 1,
            retryWaitSeconds: 5,
            ...(partIndex === partCount - 1 ? { finish } : {}),
          }),
        );
        results.push(sent);
        if (sent.outcome !== 'delivered') break;
      }
      return results;
    },
    parts: 2,
    settled: (stored) => stored.attempts.length > 0 || stored.outcome !== null,
  },
  {
    name: 'a voice note (transcribeVoiceMessage, composeReply, speakReply): the transcript, the reply, each part spoken',
    channel: { max_message_length: 40 },
    voice: true,
    before: async (activities, input, step) => [await step(() => activities.admitMessage(input))],
    lost: async (activities, input, step, stores) => {
      const { messageId, chatId } = input;
      const snapshot = (await stores.messages.get(messageId))?.snapshot;
      assert.ok(snapshot);
      const { agentId, voicePrefix, maxMessageLength } = snapshot;
      return [
        await step(() => activities.transcribeVoiceMessage({ messageId, agentId })),
        await step(() => activities.composeReply({ messageId, chatId, agentId, voicePrefix, maxMessageLength })),
        await step(() => activities.speakReply({ messageId, agentId })),
      ];
    },
    parts: 0,
    settled: () => false,
  },
  {
    name: 'a chat with a person (held): admission, the history, the end',
    channel: {},
    before: async (_activities, input, _step, stores) => {
      // An admin's pause, before the chat's first message (the chat is created with it).
      if (await stores.chats.get(input.chatId)) return [];
      const sighting = {
        channelId: input.channelId,
        pageId: input.pageId,
        clientId: input.message.client_id,
        platform: input.message.platform,
        seenAt: new Date(input.receivedAt),
      };
      await stores.chats.recordTurn(input.chatId, null, sighting, [], 20, { since: new Date(), by: 'admin' });
      return [];
    },
    lost: async (activities, input, step) => {
      const answer = await step(() => activities.answerMessage(input));
      if (answer.kind !== 'held') return [answer];
      const { messageId, chatId, lineSeq } = input;
      const close = { messageId, chatId, lineSeq, status: 'not_answered' as const, partsDelivered: 0 };
      await step(() => activities.closeMessage({ ...close, reason: answer.reason }));
      return [answer];
    },
    parts: 0,
    settled: (stored) => stored.outcome !== null,
  },
  {
    name: 'a message not answered (the assistant off): admission, the history, the end',
    channel: { assistant_connected: false },
    lost: async (activities, input, step) => {
      const answer = await step(() => activities.answerMessage(input));
      if (answer.kind !== 'refused') return [answer];
      const { messageId, chatId, lineSeq } = input;
      await step(() => activities.recordUnansweredMessage({ messageId, chatId }));
      await step(() =>
        activities.closeMessage({ messageId, chatId, lineSeq, status: answer.outcome, partsDelivered: 0 }),
      );
      return [answer];
    },
    parts: 0,
    settled: (stored) => stored.outcome !== null,
  },
];

/** A result as the workflow reads it: the settings snapshot and HTTP statuses aside. */
const summary = (results: unknown[]): string =>
  JSON.stringify(results, (key, value: unknown) => (key === 'snapshot' || key === 'status' ? undefined : value));
/** An outcome as it reads, whenever it was recorded. */
const outcomeOf = (outcome: OutcomeDoc | null) =>
  outcome && { status: outcome.status, parts: outcome.parts_delivered, answeredBy: outcome.answered_by };

describe('local activities run again from attempt 1 at every point between two side effects', () => {
  let mongo: TestMongo;
  let receiver: Receiver;
  let model: FakeModel;
  let base: Stores;
  // Every claimed place's workflow is taken to be running; a wake-up goes nowhere (see above).
  const lineWorkflows: LineWorkflows = {
    wake: () => Promise.resolve(),
    status: () => Promise.resolve({ state: 'running' }),
  };

  before(async () => {
    [mongo, receiver, model] = await Promise.all([startTestMongo(), startReceiver(), startFakeModel()]);
    base = createStores(mongo.db);
    await base.ensureIndexes();
  });
  after(async () => {
    await Promise.all([mongo?.close(), receiver?.close(), model?.close()]);
  });

  /** A worker: its own stores (caches empty), their writes counted and refused as `run` says. */
  function worker(run: Run): Activities {
    const fresh = createStores(mongo.db);
    const stores: Stores = {
      ...fresh,
      messages: watched(fresh.messages, WRITES.messages, run),
      chats: watched(fresh.chats, WRITES.chats, run),
      channels: watched(fresh.channels, WRITES.channels, run),
      lines: watched(fresh.lines, WRITES.lines, run),
      blobs: watched(fresh.blobs, WRITES.blobs, run),
    };
    return createActivities({
      stores,
      line: createChatLine({ lines: stores.lines, workflows: lineWorkflows }),
      model: createOpenAIModelClient({ apiKey: 'test', baseURL: model.baseURL, timeoutMs: 5_000 }),
      logger: createLogger({ level: 'silent', name: 'rerun-test' }),
      report: {
        deliveryAttempt: () => undefined,
        messageFinished: () => {
          run.finished += 1;
        },
      },
      settings: testActivitySettings({ retryScheduleSeconds: [5, 60] }),
    });
  }
  const unbounded = (): Run => ({ writes: 0, windowWrites: 0, finished: 0, budget: Infinity, posts: () => 0 });
  const postsOf = (messageId: string) =>
    receiver.posts.filter((post) => post.headers['x-chatrelay-message-id'] === messageId);
  const step =
    (input: MessageWorkflowInput): Step =>
    (run) =>
      runActivity(run, { workflowId: messageWorkflowId(input.messageId) });

  async function stored(input: MessageWorkflowInput): Promise<Stored> {
    const [reply, outcome, chat] = await Promise.all([
      base.messages.reply(input.messageId),
      base.messages.outcome(input.messageId),
      base.chats.get(input.chatId),
    ]);
    const parts = [0, 1, 2].map((partIndex) => ({ messageId: input.messageId, partIndex, attempt: 1 }));
    const message = await base.messages.get(input.messageId);
    const [attempts, speech, transcript] = await Promise.all([
      Promise.all(parts.map((part) => base.messages.attempt(part))),
      Promise.all(parts.map((part) => base.messages.speech(part.messageId, part.partIndex))),
      message ? base.messages.transcript(message) : undefined,
    ]);
    return {
      reply,
      outcome,
      chat,
      attempts: attempts.filter((found) => found !== null),
      spoken: speech.filter((blob) => blob !== undefined).length,
      ...(transcript !== undefined ? { transcript } : {}),
    };
  }

  /** A message at the next place of its chat's line (a new chat unless `chatOf` is given); `voice`: a voice note of `text`. */
  async function placed(channel: Channel, text: string, chatOf?: MessageWorkflowInput, voice?: true) {
    const audio = voice ? { audio: receiver.serve(`/voice/${randomId(8)}.ogg`, 'audio/ogg', fakeVoiceNote(text)) } : {};
    const client = chatOf ? { client_id: chatOf.message.client_id } : {};
    const input = workflowInputFor(channel, { ...(voice ? { text: '' } : { text }), ...audio, ...client });
    const owner = { messageId: input.messageId, workflowId: messageWorkflowId(input.messageId) };
    const lineSeq = await base.lines.claim(input.chatId, chatOf?.lineSeq ?? 0, owner);
    return { ...input, lineSeq };
  }

  /** The message's entries in its chat's window, as the next model reads them. */
  const entriesOf = (chat: ChatDoc | null, input: MessageWorkflowInput) =>
    (chat?.recent ?? [])
      .filter((entry) => entry.id.startsWith(`${input.messageId}:`))
      .map((entry) => [entry.role, entry.content]);

  test('a re-run after the channel changed takes the path its first run took (the settings it was admitted with)', async () => {
    const { channel } = await createChannelWithAgent(base, { replyUrl: receiver.url, channel: {} });
    const input = await placed(channel, 'hi');
    const first = await runActivity(() => worker(unbounded()).answerMessage(input), {
      workflowId: messageWorkflowId(input.messageId),
    });
    assert.equal(first.kind, 'answered');
    // Its workflow task lost; meanwhile the assistant is disconnected and bursts are coalesced.
    await base.channels.update(channel.id, { assistant_connected: false, coalesce_window_seconds: 30 });
    const again = await runActivity(() => worker(unbounded()).answerMessage(input), {
      workflowId: messageWorkflowId(input.messageId),
    });
    assert.equal(summary([again]), summary([first]));
    assert.equal(postsOf(input.messageId).length, 1);
  });

  for (const scenario of scenarios) {
    test(scenario.name, async () => {
      const { channel } = await createChannelWithAgent(base, { replyUrl: receiver.url, channel: scenario.channel });
      const runSteps = async (steps: Steps, input: MessageWorkflowInput, run: Run) =>
        steps(worker(run), input, step(input), base);

      // The uninterrupted run, for what every re-run must end with.
      const reference = await placed(channel, TEXT, undefined, scenario.voice);
      if (scenario.before) await runSteps(scenario.before, reference, unbounded());
      const expected = summary(await runSteps(scenario.lost, reference, unbounded()));
      const expectedStored = await stored(reference);
      const expectedParts = postsOf(reference.messageId).map((post) =>
        String(post.headers['webhook-id']).replace(reference.messageId, ''),
      );
      assert.equal(expectedParts.length, scenario.parts, 'the parts an uninterrupted run sends');

      let points = 0;
      for (let budget = 1; ; budget++) {
        const input = await placed(channel, TEXT, undefined, scenario.voice);
        if (scenario.before) await runSteps(scenario.before, input, unbounded());
        const first: Run = { ...unbounded(), budget, posts: () => postsOf(input.messageId).length };
        const died = await runSteps(scenario.lost, input, first).then(
          () => false,
          (error: unknown) => {
            if (error instanceof WorkerLost) return true;
            throw error;
          },
        );
        const left = await stored(input);
        const context = `${scenario.name}, died after side effect ${budget}`;

        // A newer message of the chat, once the first run's verdict is final; answered when the turn was handed on.
        const released = left.outcome !== null;
        let newer: MessageWorkflowInput | undefined;
        if (scenario.settled(left)) {
          newer = await placed(channel, 'And one more thing.', input);
          if (released) {
            if (scenario.before) await runSteps(scenario.before, newer, unbounded());
            await runSteps(scenario.lost, newer, unbounded());
          }
        }
        const windowBefore = (await base.chats.get(input.chatId))?.recent ?? [];
        const postsBefore = postsOf(input.messageId);
        const modelCallsBefore = model.requests.length;

        const again: Run = unbounded();
        const results = await runSteps(scenario.lost, input, again);
        const now = await stored(input);

        assert.equal(summary(results), expected, `${context}: the re-run's result is an uninterrupted run's`);
        assert.deepEqual(outcomeOf(now.outcome), outcomeOf(expectedStored.outcome), `${context}: the outcome`);
        if (left.outcome) assert.deepEqual(now.outcome, left.outcome, `${context}: the outcome stored stands`);
        assert.ok(first.finished + again.finished <= 1, `${context}: counted as finished twice`);

        // The receiver: only the webhook-ids an uninterrupted run sends, each once but the one in flight.
        const posts = postsOf(input.messageId).map((post) => String(post.headers['webhook-id']));
        const recorded = new Set(left.attempts.map((attempt) => deliveryId(input.messageId, attempt.part_index)));
        const inFlight = postsBefore
          .map((post) => String(post.headers['webhook-id']))
          .filter((id) => !recorded.has(id));
        assert.ok(inFlight.length <= 1, `${context}: one POST at most without its record`);
        assert.deepEqual(
          [...new Set(posts)].map((id) => id.replace(input.messageId, '')),
          expectedParts,
          `${context}: the parts an uninterrupted run sends, in order`,
        );
        for (const id of new Set(posts)) {
          const times = posts.filter((sent) => sent === id).length;
          assert.ok(times <= (inFlight.includes(id) ? 2 : 1), `${context}: ${id} POSTed ${times} times`);
        }

        // The window: each entry once, this message's as an uninterrupted run leaves them, the newer one's untouched.
        const window = now.chat?.recent ?? [];
        assert.equal(new Set(window.map((entry) => entry.id)).size, window.length, `${context}: each entry once`);
        assert.deepEqual(entriesOf(now.chat, input), entriesOf(expectedStored.chat, reference), `${context}: window`);
        if (newer) {
          const others = (entries: typeof window) => entries.filter((entry) => !entry.id.startsWith(input.messageId));
          assert.deepEqual(others(window), others(windowBefore), `${context}: the newer message's entries`);
        }
        if (released) assert.equal(again.windowWrites, 0, `${context}: released, yet the window was written`);

        // What is stored is reused: the model is asked only for what is missing (a transcript,
        // a reply neither stored nor in the window, a part's speech), once each.
        const replied =
          left.reply !== null ||
          (left.chat?.recent ?? []).some((entry) => entry.id === historyEntryId(input.messageId, 'assistant'));
        const missing = scenario.voice
          ? (left.transcript === undefined ? 1 : 0) + (replied ? 0 : 1) + (now.reply?.parts.length ?? 0) - left.spoken
          : replied
            ? 0
            : 1;
        const asked = model.requests.length - modelCallsBefore;
        assert.ok(asked <= missing, `${context}: the model asked ${asked} times for ${missing} things missing`);
        if (scenario.voice) assert.equal(now.spoken, now.reply?.parts.length, `${context}: every part spoken`);

        points += 1;
        if (!died) break;
      }
      assert.ok(points >= 3, `${scenario.name}: interrupted at ${points} points`);
    });
  }
});
