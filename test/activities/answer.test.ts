import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createAdmission } from '../../src/activities/admission.js';
import { createAnswerActivities } from '../../src/activities/answer.js';
import { createBurst } from '../../src/activities/burst.js';
import { createDelivery } from '../../src/activities/delivery.js';
import type { ModelClient } from '../../src/activities/model.js';
import { createReplies } from '../../src/activities/reply.js';
import { ErrorType } from '../../src/domain/errors.js';
import { messageWorkflowId } from '../../src/domain/ids.js';
import type { Channel, MessageWorkflowInput } from '../../src/domain/models.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { workflowInputFor as inputFor } from '../helpers/fixtures.js';
import { echoModel, FakeWorld, runActivity } from './fakes.js';

describe('answering a text message in one step', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
  });
  beforeEach(() => receiver.reset());

  const echo = echoModel;
  function answerer(world: FakeWorld, model: Partial<ModelClient> = echo) {
    const deps = world.deps({ model });
    const delivery = createDelivery(deps);
    const replies = createReplies(deps);
    return createAnswerActivities(createAdmission(deps), replies.compose, delivery, {
      burst: createBurst(deps),
      recordUnanswered: (input) => replies.activities.recordUnansweredMessage(input),
    });
  }
  const answer = (world: FakeWorld, input: MessageWorkflowInput, model?: Partial<ModelClient>) => {
    const activities = answerer(world, model);
    return runActivity(() => activities.answerMessage(input), { workflowId: messageWorkflowId(input.messageId) });
  };

  test('nothing in the way: the reply is written and delivered, and the message ends with its last part', async () => {
    const world = new FakeWorld();
    const endpoint = receiver.endpoint();
    const channel = world.addChannel({ replyUrl: endpoint.url });
    const input = inputFor(channel, { text: 'hi' });
    const result = await answer(world, input);
    assert.equal(result.kind, 'answered');
    assert.deepEqual(result.kind === 'answered' ? [result.partCount, result.delivery] : [], [
      1,
      { delivered: 1, finished: true },
    ]);
    assert.deepEqual(
      receiver.delivered(endpoint.path).map((post) => post.fields.text),
      ['Echo: hi'],
    );
    assert.equal(world.outcomes.get(input.messageId)?.status, 'delivered');
    assert.deepEqual(world.released, [`${input.chatId}#3`]);
  });

  test('run again from its first attempt (a local activity whose workflow task did not complete): nothing is sent twice', async () => {
    const world = new FakeWorld();
    const endpoint = receiver.endpoint();
    const channel = world.addChannel({ replyUrl: endpoint.url });
    const input = inputFor(channel, { text: 'once' });
    let calls = 0;
    const counting: Pick<ModelClient, 'complete'> = {
      complete: (request) => {
        calls += 1;
        return echo.complete(request);
      },
    };
    const first = await answer(world, input, counting);
    const again = await answer(world, input, counting);
    for (const result of [first, again]) {
      assert.deepEqual(result.kind === 'answered' ? result.delivery : undefined, { delivered: 1, finished: true });
    }
    assert.equal(calls, 1, 'the reply written by the first run is reused, not generated again');
    assert.deepEqual(
      receiver.delivered(endpoint.path).map((post) => post.fields.text),
      ['Echo: once'],
    );
  });

  const goBackToTheWorkflow: Array<[string, Partial<Channel>, Partial<MessageWorkflowInput['message']>]> = [
    ['a reply delay', { reply_delay_seconds: 30 }, {}],
    ['speech for every reply', { voice_replies: 'always' }, {}],
  ];
  for (const [what, channelPatch, message] of goBackToTheWorkflow) {
    test(`with ${what}, the reply is written but not delivered: the workflow takes it from there`, async () => {
      const world = new FakeWorld();
      const endpoint = receiver.endpoint();
      const channel = world.addChannel({ replyUrl: endpoint.url, channel: channelPatch });
      const result = await answer(world, inputFor(channel, message));
      assert.equal(result.kind, 'answered');
      assert.equal(result.kind === 'answered' ? result.delivery : 'not answered', undefined);
      assert.equal(receiver.posts.filter((post) => post.path === endpoint.path).length, 0);
    });
  }

  test('paced parts: only the first part goes out in the step; the lengths of all come back for the pauses', async () => {
    const world = new FakeWorld();
    const endpoint = receiver.endpoint();
    const channel = world.addChannel({
      replyUrl: endpoint.url,
      channel: { max_message_length: 100, typing_ms_per_char: 20, typing_max_seconds: 3 },
    });
    const paragraphs = ['a'.repeat(60), 'b'.repeat(70), 'c'.repeat(80)];
    const input = inputFor(channel);
    const result = await answer(world, input, { complete: () => Promise.resolve(paragraphs.join('\n\n')) });
    assert.deepEqual(result.kind === 'answered' ? [result.partCount, result.partLengths, result.delivery] : [], [
      3,
      [60, 70, 80],
      { delivered: 1, finished: false },
    ]);
    assert.deepEqual(
      receiver.delivered(endpoint.path).map((post) => post.fields.text),
      [paragraphs[0]],
    );
    assert.equal(world.outcomes.get(input.messageId), undefined, 'the message has not ended');
    // A one-part reply of the same channel is delivered and finished within the step, as without pacing.
    const single = await answer(world, inputFor(channel), { complete: () => Promise.resolve('short') });
    assert.deepEqual(single.kind === 'answered' ? [single.partLengths, single.delivery] : [], [
      undefined,
      { delivered: 1, finished: true },
    ]);
  });

  test('an agent with a "one moment" part: admitted with the turn and the settings, the model left to the workflow', async () => {
    const world = new FakeWorld();
    const agent = world.addAgent({ interim_after_seconds: 8, interim_text: 'Hold on…' });
    const channel = world.addChannel({ agent });
    const result = await answer(world, inputFor(channel), {});
    assert.equal(result.kind, 'reply_to_write');
    assert.deepEqual(result.kind === 'reply_to_write' ? result.snapshot.interim : undefined, {
      afterSeconds: 8,
      text: 'Hold on…',
    });
    assert.equal(world.replies.size, 0);
  });

  test('an earlier message still being answered: waiting, with the settings, and the model is not called', async () => {
    const world = new FakeWorld();
    world.turn = { granted: false, waitingFor: 2 };
    const channel = world.addChannel();
    const result = await answer(world, inputFor(channel), {});
    assert.equal(result.kind, 'waiting_turn');
    assert.equal(result.kind === 'waiting_turn' ? result.snapshot.channelId : '', channel.id);
  });

  test('refused: the admission’s verdict, reason, turn and voice prefix are passed on, and the model is not called', async () => {
    const world = new FakeWorld();
    const agent = world.addAgent({ voice_prefix: 'V: ' });
    const channel = world.addChannel({ agent, channel: { assistant_connected: false } });
    assert.deepEqual(await answer(world, inputFor(channel), {}), {
      kind: 'refused',
      outcome: 'not_answered',
      reason: 'the assistant is not connected to this channel',
      turn: true,
      voicePrefix: 'V: ',
    });
    world.channels.delete(channel.id);
    const deleted = await answer(world, inputFor(channel), {});
    assert.equal(deleted.kind === 'refused' ? deleted.outcome : deleted.kind, 'failed');
  });

  test('a model failure comes out of the step as it was thrown, typed, with nothing stored or sent', async () => {
    const world = new FakeWorld();
    const endpoint = receiver.endpoint();
    const channel = world.addChannel({ replyUrl: endpoint.url });
    const input = inputFor(channel);
    const rejected = ApplicationFailure.create({
      type: ErrorType.ModelRejected,
      message: 'chat completion failed with HTTP 400',
      nonRetryable: true,
    });
    await assert.rejects(answer(world, input, { complete: () => Promise.reject(rejected) }), rejected);
    assert.equal(world.replies.get(input.messageId), undefined);
    assert.equal(receiver.posts.filter((post) => post.path === endpoint.path).length, 0);
  });
});
