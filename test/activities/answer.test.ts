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
    const replies = createReplies(deps, delivery);
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

  test('an earlier message still being answered: waiting, with the settings, and the model is not called', async () => {
    const world = new FakeWorld();
    world.turn = { granted: false, waitingFor: 2 };
    const channel = world.addChannel();
    const result = await answer(world, inputFor(channel), {});
    assert.equal(result.kind, 'waiting');
    assert.equal(result.kind === 'waiting' ? result.snapshot.channelId : '', channel.id);
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
