import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Activities, Answer } from '../../src/activities/index.js';
import type { TurnState } from '../../src/chat-line/line.js';
import { ErrorType } from '../../src/domain/errors.js';
import { HANDOFF_REQUESTED_REASON } from '../../src/domain/handoff.js';
import { INTERIM_PART, messageWorkflowId } from '../../src/domain/ids.js';
import type { ChannelSnapshot, MessageWorkflowInput } from '../../src/domain/models.js';
import { waitFor } from '../../src/lib/wait.js';
import { lineTurnSignal } from '../../src/workflows/definitions.js';
import type { MessageResult } from '../../src/workflows/message.js';
import { agentRecord, channelRecord, workflowInputFor } from '../helpers/fixtures.js';
import {
  activitiesByWorkflow,
  inSequence,
  stubActivities,
  stubSnapshot,
  type StubbedActivities,
} from '../helpers/stub-activities.js';
import { bundle, createTimeSkippingEnv, firedTimers } from '../helpers/temporal.js';
import { workflowsPath } from '../helpers/workflow-harness.js';
import { observabilitySinks } from '../../src/observability/worker-observability.js';

/**
 * Every branch of the message workflow, on the real time-skipping server, with its activities
 * stubbed: what the workflow does with each answer of its steps. Timers (reply delay, retries,
 * backoff, the turn's checks) pass in no time while the test awaits the result through the client.
 */
describe('message workflow branches (stubbed activities, time-skipping server)', () => {
  // One worker for the file; each workflow's activity calls go to the stubs its test gave it.
  const stubsByWorkflow = new Map<string, StubbedActivities>();
  const taskQueue = 'message-branches';
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  before(async () => {
    let workflowBundle: WorkflowBundle;
    [env, workflowBundle] = await Promise.all([createTimeSkippingEnv(), bundle(workflowsPath)]);
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: activitiesByWorkflow((workflowId) => {
        const stubs = stubsByWorkflow.get(workflowId);
        if (!stubs) throw new Error(`no stubs for ${workflowId}`);
        return stubs;
      }),
      sinks: observabilitySinks(undefined),
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  const channel = channelRecord(agentRecord().id);
  const textMessage = (): MessageWorkflowInput => workflowInputFor(channel, { text: 'Hello' }, 2);
  const voiceMessage = (text?: string): MessageWorkflowInput => {
    const input = workflowInputFor(channel, { audio: 'http://127.0.0.1:9/voice.mp3' }, 2);
    if (text === undefined) delete input.message.text;
    else input.message.text = text;
    return input;
  };

  /**
   * Runs the workflow for `input` with `stubs` as its activities; `meanwhile` runs once it has
   * started (to signal it, say), before the result is awaited.
   */
  async function run(
    stubs: StubbedActivities,
    input: MessageWorkflowInput = textMessage(),
    meanwhile?: (handle: WorkflowHandle) => Promise<void>,
  ): Promise<{ result: MessageResult; handle: WorkflowHandle }> {
    const workflowId = messageWorkflowId(input.messageId);
    stubsByWorkflow.set(workflowId, stubs);
    const handle = await env.client.workflow.start('messageWorkflow', { taskQueue, workflowId, args: [input] });
    await meanwhile?.(handle);
    return { result: (await handle.result()) as MessageResult, handle };
  }

  const failure = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });
  /** The one step finds an earlier message of the chat in the way, then (once woken) answers and delivers. */
  const waitingThenAnswered = (): Activities['answerMessage'] => {
    const snapshot = stubSnapshot();
    return inSequence<Answer>(
      { kind: 'waiting_turn', snapshot },
      { kind: 'answered', snapshot, partCount: 1, delivery: { delivered: 1, finished: true } },
    );
  };
  const answeredLater = (partCount = 1): Activities['answerMessage'] => {
    const snapshot = stubSnapshot();
    return () => Promise.resolve({ kind: 'answered', snapshot, partCount });
  };

  describe('a text message', () => {
    test('answered and delivered within the one step: the workflow ends there, with no other step', async () => {
      const stubs = stubActivities();
      const { result } = await run(stubs);
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(stubs.names(), ['answerMessage']);
    });

    test('the one step stopped at a part the receiver asked to retry: the workflow retries from that part', async () => {
      const snapshot = stubSnapshot();
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({
            kind: 'answered',
            snapshot,
            partCount: 2,
            delivery: {
              delivered: 1,
              finished: false,
              stopped: { partIndex: 1, result: { outcome: 'retry', status: 503, retryInSeconds: 5 } },
            },
          }),
      });
      const { result, handle } = await run(stubs);
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 2 });
      assert.deepEqual(
        stubs.inputsOf('sendReplyPart').map((part) => [part.partIndex, part.attempt, part.finish?.partsDelivered]),
        [[1, 2, 2]],
      );
      assert.deepEqual(await firedTimers(handle), [5]);
    });

    test('a receiver’s Retry-After of years, as a step returns it: each wait capped at an hour, no date overflows', async () => {
      // The activity caps the header where it parses it; the workflow bounds the wait again, for any
      // step (of any build) that returns more: 99999999999999 s once made its date throw.
      const snapshot = stubSnapshot({ retryScheduleSeconds: [5, 300, 1800, 7200, 18000, 36000, 36000] });
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({
            kind: 'answered',
            snapshot,
            partCount: 1,
            delivery: {
              delivered: 0,
              finished: false,
              stopped: { partIndex: 0, result: { outcome: 'retry', status: 429, retryInSeconds: 99999999999999 } },
            },
          }),
        sendReplyPart: inSequence(
          { outcome: 'retry', status: 429, retryInSeconds: 3000000000 },
          { outcome: 'delivered', status: 200 },
        ),
      });
      const { result, handle } = await run(stubs);
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(await firedTimers(handle), [3600, 3600]);
    });

    test('refused because the assistant is off: kept in the history with the agent’s voice prefix, nothing answered', async () => {
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({
            kind: 'refused',
            outcome: 'not_answered',
            reason: 'the assistant is not connected to this channel',
            turn: true,
            voicePrefix: 'V: ',
          }),
      });
      const input = textMessage();
      const { result } = await run(stubs, input);
      assert.deepEqual(result, {
        status: 'not_answered',
        partsDelivered: 0,
        reason: 'the assistant is not connected to this channel',
      });
      assert.deepEqual(stubs.names(), ['answerMessage', 'recordUnansweredMessage', 'closeMessage']);
      assert.deepEqual(stubs.inputsOf('recordUnansweredMessage'), [
        { messageId: input.messageId, chatId: input.chatId, voicePrefix: 'V: ' },
      ]);
      assert.equal(stubs.inputsOf('closeMessage')[0]?.status, 'not_answered');
    });

    test('refused with the assistant off and an earlier message in the chat: the history waits for the turn', async () => {
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({ kind: 'refused', outcome: 'not_answered', reason: 'assistant off', turn: false }),
      });
      const { result, handle } = await run(stubs);
      assert.equal(result.status, 'not_answered');
      assert.deepEqual(stubs.names(), ['answerMessage', 'checkChatTurn', 'recordUnansweredMessage', 'closeMessage']);
      assert.deepEqual(await firedTimers(handle), [35], 'the turn was looked for after its first wait');
    });

    test('refused because the channel is gone: failed with the reason, nothing recorded in the history', async () => {
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({ kind: 'refused', outcome: 'failed', reason: 'the channel no longer exists', turn: true }),
      });
      const { result } = await run(stubs);
      assert.deepEqual(result, { status: 'failed', partsDelivered: 0, reason: 'the channel no longer exists' });
      assert.deepEqual(stubs.names(), ['answerMessage', 'closeMessage']);
    });

    test('waiting for the turn: woken by the signal of the message before, then answered', async () => {
      const stubs = stubActivities({ answerMessage: waitingThenAnswered() });
      const { result, handle } = await run(stubs, textMessage(), async (started) => {
        // Time stands still while the test is not awaiting the client: the turn's timer cannot fire first.
        await waitFor(() => stubs.names().length === 1, { what: 'the first step' });
        await started.signal(lineTurnSignal);
      });
      assert.equal(result.status, 'delivered');
      assert.deepEqual(stubs.names(), ['answerMessage', 'answerMessage']);
      assert.deepEqual(await firedTimers(handle), [], 'woken by the signal, not by a timer');
    });

    test('waiting for the turn with no signal coming: the line is looked at after each wait until the turn is there', async () => {
      const stubs = stubActivities({
        answerMessage: waitingThenAnswered(),
        checkChatTurn: inSequence<TurnState>(
          { granted: false, waitingFor: 1 },
          { granted: false, waitingFor: 1 },
          { granted: true },
        ),
      });
      const { result, handle } = await run(stubs);
      assert.equal(result.status, 'delivered');
      assert.equal(stubs.inputsOf('checkChatTurn').length, 3);
      assert.deepEqual(await firedTimers(handle), [35, 120, 600]);
    });

    for (const type of [ErrorType.ModelRejected, ErrorType.ModelUnavailable, ErrorType.AgentGone]) {
      test(`the model could not answer (${type}): the fallback reply is delivered and the message is failed with why`, async () => {
        const stubs = stubActivities({
          answerMessage: () => Promise.reject(failure(type, 'chat completion failed with HTTP 400')),
          sendReplyPart: () => Promise.resolve({ outcome: 'delivered', status: 200 }),
        });
        const { result } = await run(stubs);
        assert.deepEqual(result, {
          status: 'failed',
          partsDelivered: 1,
          reason: 'chat completion failed with HTTP 400',
        });
        assert.deepEqual(stubs.names(), ['answerMessage', 'admitMessage', 'composeFallbackReply', 'sendReplyPart']);
        assert.equal(stubs.inputsOf('composeFallbackReply')[0]?.reason, 'chat completion failed with HTTP 400');
        assert.deepEqual(stubs.inputsOf('sendReplyPart')[0]?.finish, {
          status: 'failed',
          lineSeq: 2,
          turnHeld: true,
          reason: 'chat completion failed with HTTP 400',
          partsDelivered: 1,
        });
      });
    }

    test('a failure that is ours, not the model’s, that heals: the step is tried again after a wait, and answered', async () => {
      let calls = 0;
      const stubs = stubActivities({
        answerMessage: () => {
          calls += 1;
          if (calls <= 5) return Promise.reject(new Error('MongoDB is away'));
          return Promise.resolve({
            kind: 'answered',
            snapshot: stubSnapshot(),
            partCount: 1,
            delivery: { delivered: 1, finished: true },
          });
        },
      });
      const { result, handle } = await run(stubs);
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
      assert.equal(calls, 6, "one round of the activity's five attempts, then a second round");
      assert.deepEqual(await firedTimers(handle), [30], 'the workflow waited 30 s between the rounds');
      assert.equal(stubs.names().includes('composeFallbackReply'), false);
    });

    test('a failure that is ours and lasts: after every round, the fallback reply, with why', async () => {
      let calls = 0;
      const stubs = stubActivities({
        answerMessage: () => {
          calls += 1;
          return Promise.reject(new Error('MongoDB is away'));
        },
      });
      const { result, handle } = await run(stubs);
      assert.equal(result.status, 'failed');
      assert.match(result.reason ?? '', /^the reply could not be generated: .*MongoDB is away/);
      assert.equal(calls, 7 * 5, 'seven rounds of five attempts');
      assert.deepEqual(await firedTimers(handle), [30, 60, 120, 240, 480, 900]);
      assert.deepEqual(stubs.names().slice(-3), ['admitMessage', 'composeFallbackReply', 'sendReplyPart']);
    });

    test('the message record missing under the step: no rounds, the fallback reply at once', async () => {
      const stubs = stubActivities({
        answerMessage: () => Promise.reject(failure(ErrorType.MessageNotStored, 'message msg_x is not stored')),
      });
      const { result } = await run(stubs);
      assert.equal(result.status, 'failed');
      assert.match(result.reason ?? '', /^the reply could not be generated: message msg_x is not stored/);
      assert.deepEqual(stubs.names(), ['answerMessage', 'admitMessage', 'composeFallbackReply', 'sendReplyPart']);
    });
  });

  describe('a voice message', () => {
    test('transcription failing with no typed text: the fallback reply, and the message failed with why', async () => {
      const stubs = stubActivities({
        transcribeVoiceMessage: () =>
          Promise.reject(failure(ErrorType.AudioRejected, 'voice message could not be fetched: 404')),
      });
      const { result } = await run(stubs, voiceMessage());
      assert.deepEqual(result, {
        status: 'failed',
        partsDelivered: 1,
        reason: 'voice message could not be fetched: 404',
      });
      assert.deepEqual(stubs.names(), [
        'admitMessage',
        'transcribeVoiceMessage',
        'composeFallbackReply',
        'sendReplyPart',
      ]);
    });

    test('transcription failing with typed text as well: answered from the text alone', async () => {
      const stubs = stubActivities({
        transcribeVoiceMessage: () =>
          Promise.reject(failure(ErrorType.AudioRejected, 'voice message could not be fetched: 404')),
      });
      const { result } = await run(stubs, voiceMessage('and some text'));
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(stubs.names(), ['admitMessage', 'transcribeVoiceMessage', 'composeReply', 'sendReplyPart']);
    });

    test('transcribed and answered: the reply goes out part by part after the model step', async () => {
      const stubs = stubActivities({ composeReply: () => Promise.resolve({ partCount: 2 }) });
      const { result } = await run(stubs, voiceMessage());
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 2 });
      assert.deepEqual(
        stubs.inputsOf('sendReplyPart').map((part) => part.partIndex),
        [0, 1],
      );
    });

    test('the model failing on a transcribed message: the fallback reply', async () => {
      const stubs = stubActivities({
        composeReply: () => Promise.reject(failure(ErrorType.ModelRejected, 'chat completion failed with HTTP 401')),
      });
      const { result } = await run(stubs, voiceMessage());
      assert.equal(result.status, 'failed');
      assert.equal(result.reason, 'chat completion failed with HTTP 401');
      assert.ok(stubs.names().includes('composeFallbackReply'));
    });

    test('refused at admission: failed, nothing transcribed', async () => {
      const stubs = stubActivities({
        admitMessage: () => Promise.resolve({ outcome: 'failed', reason: 'the channel no longer exists', turn: true }),
      });
      const { result } = await run(stubs, voiceMessage());
      assert.deepEqual(result, { status: 'failed', partsDelivered: 0, reason: 'the channel no longer exists' });
      assert.deepEqual(stubs.names(), ['admitMessage', 'closeMessage']);
    });

    test('a record deleted under the workflow (no retry can heal it): failed at once, and the turn handed on', async () => {
      const stubs = stubActivities({
        admitMessage: () => Promise.reject(failure(ErrorType.MessageNotStored, 'message msg_y is not stored')),
      });
      const input = voiceMessage();
      const { result } = await run(stubs, input);
      assert.deepEqual(result, { status: 'failed', partsDelivered: 0, reason: 'message msg_y is not stored' });
      assert.deepEqual(stubs.names(), ['admitMessage', 'closeMessage']);
      assert.deepEqual(stubs.inputsOf('closeMessage'), [
        {
          messageId: input.messageId,
          chatId: input.chatId,
          lineSeq: 2,
          status: 'failed',
          partsDelivered: 0,
          reason: 'message msg_y is not stored',
        },
      ]);
    });
  });

  describe("the chat's turn (issue 23: a signal is a hint, a place is ended by what is stored)", () => {
    test('one turn signal is not a turn for ever: a text message told to wait again waits for another hint or its own look', async () => {
      const snapshot = stubSnapshot();
      const stubs = stubActivities({
        answerMessage: inSequence<Answer>(
          { kind: 'waiting_turn', snapshot },
          // The signal came from a place that ended while an earlier one still runs.
          { kind: 'waiting_turn', snapshot },
          { kind: 'answered', snapshot, partCount: 1, delivery: { delivered: 1, finished: true } },
        ),
        checkChatTurn: inSequence<TurnState>({ granted: false, waitingFor: 1 }, { granted: true }),
      });
      const { result, handle } = await run(stubs, textMessage(), async (started) => {
        await waitFor(() => stubs.names().length === 1, { what: 'the first step' });
        await started.signal(lineTurnSignal);
      });
      assert.equal(result.status, 'delivered');
      assert.deepEqual(stubs.names(), [
        'answerMessage',
        'answerMessage',
        'checkChatTurn',
        'checkChatTurn',
        'answerMessage',
      ]);
      assert.deepEqual(await firedTimers(handle), [35, 120], 'after the one hint, its own looks');
      assert.deepEqual(
        stubs.inputsOf('checkChatTurn').map((input) => input.inspect),
        [true, true],
        'a look that came due looks deep',
      );
    });

    test('a turn signal wakes a waiting message to read the line, and it goes on waiting when the turn is not there', async () => {
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({ kind: 'refused', outcome: 'not_answered', reason: 'assistant off', turn: false }),
        checkChatTurn: inSequence<TurnState>({ granted: false, waitingFor: 1 }, { granted: true }),
      });
      const { result, handle } = await run(stubs, textMessage(), async (started) => {
        await waitFor(() => stubs.names().length === 1, { what: 'the first step' });
        await started.signal(lineTurnSignal);
        await waitFor(() => stubs.names().length === 2, { what: 'the look after the hint' });
        await started.signal(lineTurnSignal);
      });
      assert.equal(result.status, 'not_answered');
      assert.deepEqual(stubs.names(), [
        'answerMessage',
        'checkChatTurn',
        'checkChatTurn',
        'recordUnansweredMessage',
        'closeMessage',
      ]);
      assert.deepEqual(
        stubs.inputsOf('checkChatTurn').map((input) => input.inspect),
        [false, false],
        'a hint is followed by a plain read of the line',
      );
      assert.deepEqual(await firedTimers(handle), [], 'both looks followed a hint');
      assert.equal(stubs.inputsOf('closeMessage')[0]?.turnHeld, true);
    });

    test('a message refused before its turn came closes without claiming the turn (the line decides how its place ends)', async () => {
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({ kind: 'refused', outcome: 'failed', reason: 'the channel no longer exists', turn: false }),
      });
      const { result } = await run(stubs);
      assert.equal(result.status, 'failed');
      assert.deepEqual(stubs.names(), ['answerMessage', 'closeMessage']);
      assert.equal(stubs.inputsOf('closeMessage')[0]?.turnHeld, undefined);
    });

    test('a message refused in its turn closes holding it', async () => {
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({ kind: 'refused', outcome: 'failed', reason: 'the channel no longer exists', turn: true }),
      });
      await run(stubs);
      assert.equal(stubs.inputsOf('closeMessage')[0]?.turnHeld, true);
    });
  });

  describe('after the reply is written', () => {
    test('the reply delay: a durable timer of the channel’s delay before the first part goes out', async () => {
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({ kind: 'answered', snapshot: stubSnapshot({ replyDelaySeconds: 600 }), partCount: 1 }),
      });
      const { result, handle } = await run(stubs);
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(await firedTimers(handle), [600]);
      assert.deepEqual(stubs.names(), ['answerMessage', 'sendReplyPart']);
    });

    test('speech: the parts go out with their audio; a failed synthesis still sends them, with the audio made so far', async () => {
      for (const speakReply of [
        () => Promise.resolve({ spoken: 1 }),
        () => Promise.reject(failure(ErrorType.ModelRejected, 'speech failed with HTTP 400')),
      ]) {
        const stubs = stubActivities({
          answerMessage: () =>
            Promise.resolve({ kind: 'answered', snapshot: stubSnapshot({ voiceReplies: 'always' }), partCount: 1 }),
          speakReply,
        });
        const { result } = await run(stubs);
        assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
        assert.deepEqual(stubs.names(), ['answerMessage', 'speakReply', 'sendReplyPart']);
        assert.equal(stubs.inputsOf('sendReplyPart')[0]?.withAudio, true);
      }
    });

    test('the reply plan: a handoff reply is never dropped as stale, in the workflow as in the one step', async () => {
      const stubs = stubActivities({
        answerMessage: () =>
          Promise.resolve({
            kind: 'answered',
            snapshot: stubSnapshot({ replyDelaySeconds: 60, supersedeStaleReplies: true }),
            partCount: 1,
            handoff: true,
          }),
        dropStaleReply: () => Promise.resolve({ supersededBy: 'msg_newer' }),
      });
      const { result } = await run(stubs);
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 1, reason: HANDOFF_REQUESTED_REASON });
      assert.deepEqual(stubs.names(), ['answerMessage', 'sendReplyPart']);
    });

    test('the reply plan: the fallback reply is checked for staleness just before it goes out, as any reply', async () => {
      const stubs = stubActivities(
        {
          answerMessage: () => Promise.reject(failure(ErrorType.ModelRejected, 'chat completion failed with HTTP 400')),
          dropStaleReply: () => Promise.resolve({ supersededBy: 'msg_newer' }),
        },
        stubSnapshot({ supersedeStaleReplies: true }),
      );
      const { result } = await run(stubs);
      assert.deepEqual(result, {
        status: 'superseded',
        partsDelivered: 0,
        reason: 'chat completion failed with HTTP 400',
        answeredBy: 'msg_newer',
      });
      assert.deepEqual(stubs.names(), [
        'answerMessage',
        'admitMessage',
        'composeFallbackReply',
        'dropStaleReply',
        'closeMessage',
      ]);
    });

    test('delivery retries: each attempt after the wait the step asked for, until the part is delivered', async () => {
      const answers = [
        { outcome: 'retry' as const, status: 503, retryInSeconds: 5 },
        { outcome: 'retry' as const, status: 429, retryInSeconds: 420 },
        { outcome: 'delivered' as const, status: 200 },
      ];
      const stubs = stubActivities({
        answerMessage: answeredLater(),
        sendReplyPart: () => Promise.resolve(answers.shift() ?? { outcome: 'delivered' }),
      });
      const { result, handle } = await run(stubs);
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
      assert.deepEqual(
        stubs.inputsOf('sendReplyPart').map((part) => [part.attempt, part.retryWaitSeconds]),
        [
          [1, 5],
          [2, 300],
          [3, 1800],
        ],
      );
      assert.deepEqual(await firedTimers(handle), [5, 420]);
    });

    test('the retry schedule spent: the message fails, saying so, and the turn is handed on', async () => {
      const stubs = stubActivities({
        answerMessage: answeredLater(),
        sendReplyPart: () => Promise.resolve({ outcome: 'retry', status: 503, error: 'receiver answered 503' }),
      });
      const { result } = await run(stubs);
      assert.equal(result.status, 'failed');
      assert.equal(result.reason, 'part 1 of 1: retries exhausted after 1 attempts (receiver answered 503)');
      assert.equal(stubs.inputsOf('closeMessage')[0]?.status, 'failed');
    });

    test('a part refused for good: the parts after it are not sent, and the message fails', async () => {
      const stubs = stubActivities({
        answerMessage: answeredLater(3),
        sendReplyPart: (input) =>
          Promise.resolve(
            input.partIndex === 0
              ? { outcome: 'delivered', status: 200 }
              : { outcome: 'rejected', status: 400, error: 'receiver answered 400' },
          ),
      });
      const { result } = await run(stubs);
      assert.deepEqual(result, {
        status: 'failed',
        partsDelivered: 1,
        reason: 'part 2 of 3: receiver answered 400',
      });
      assert.deepEqual(
        stubs.inputsOf('sendReplyPart').map((part) => part.partIndex),
        [0, 1],
      );
    });

    test('a paused channel: the part waits, looked at again hourly, and goes out once the channel is resumed', async () => {
      let looks = 0;
      const answers = [{ outcome: 'gone' as const, status: 410, error: 'receiver answered 410 Gone' }];
      const stubs = stubActivities({
        answerMessage: answeredLater(),
        sendReplyPart: () => Promise.resolve(answers.shift() ?? { outcome: 'delivered', status: 200 }),
        checkChannelPaused: () => Promise.resolve((looks += 1) < 3),
      });
      const { result, handle } = await run(stubs);
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 1 });
      assert.equal(looks, 3);
      assert.deepEqual(await firedTimers(handle), [3600, 3600]);
    });
  });

  describe('the "one moment" part', () => {
    /** The one step stops after admission (the agent has an interim); the model step is the workflow's. */
    const replyToWrite = (patch: Partial<ChannelSnapshot>): Activities['answerMessage'] => {
      const snapshot = stubSnapshot({ interim: { afterSeconds: 1, text: 'One moment…' }, ...patch });
      return () => Promise.resolve({ kind: 'reply_to_write', snapshot });
    };
    /** A sendReplyPart stub that delivers every part, and a promise of the interim's first attempt. */
    const interimWatch = () => {
      let sent: () => void = () => undefined;
      const interimSent = new Promise<void>((resolve) => {
        sent = resolve;
      });
      const sendReplyPart: Activities['sendReplyPart'] = (input) => {
        if (input.partIndex === INTERIM_PART) sent();
        return Promise.resolve({ outcome: 'delivered', status: 200 });
      };
      return { interimSent, sendReplyPart };
    };

    test('the model fails after the interim went out: the fallback reply follows it, and the message fails', async () => {
      const { interimSent, sendReplyPart } = interimWatch();
      const stubs = stubActivities({
        answerMessage: replyToWrite({}),
        composeReply: async () => {
          await interimSent;
          throw failure(ErrorType.ModelRejected, 'chat completion failed with HTTP 400');
        },
        sendReplyPart,
      });
      const { result, handle } = await run(stubs);
      assert.deepEqual(result, {
        status: 'failed',
        partsDelivered: 1,
        reason: 'chat completion failed with HTTP 400',
      });
      assert.deepEqual(
        stubs.inputsOf('sendReplyPart').map((part) => [part.partIndex, part.interim]),
        [
          [INTERIM_PART, 'One moment…'],
          [0, undefined],
        ],
      );
      assert.deepEqual(stubs.names(), [
        'answerMessage',
        'composeReply',
        'sendReplyPart',
        'composeFallbackReply',
        'sendReplyPart',
      ]);
      assert.deepEqual(await firedTimers(handle), [1]);
    });

    test('the interim, then a reply of paced parts: its lengths come from the model step, each later part after its pause', async () => {
      const { interimSent, sendReplyPart } = interimWatch();
      const stubs = stubActivities({
        answerMessage: replyToWrite({ typing: { msPerChar: 50, maxSeconds: 5 } }),
        composeReply: async (input) => {
          await interimSent;
          assert.equal(input.partLengths, true);
          return { partCount: 3, partLengths: [10, 40, 500] };
        },
        sendReplyPart,
      });
      const { result, handle } = await run(stubs);
      assert.deepEqual(result, { status: 'delivered', partsDelivered: 3 });
      assert.deepEqual(
        stubs.inputsOf('sendReplyPart').map((part) => part.partIndex),
        [INTERIM_PART, 0, 1, 2],
      );
      // The interim's timer, then 40 × 50 ms, then the 5 s cap.
      assert.deepEqual(await firedTimers(handle), [1, 2, 5]);
    });
  });
});
