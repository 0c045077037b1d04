import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import OpenAI from 'openai';
import { toModelFailure, type ModelClient } from '../../src/activities/model.js';
import { createReplies, type ReplyInput } from '../../src/activities/reply.js';
import { ErrorType } from '../../src/domain/errors.js';
import { historyEntryId } from '../../src/domain/ids.js';
import { agentDefaults, type Agent, type Channel } from '../../src/domain/models.js';
import { envelopeFor, messageRecordFor } from '../helpers/fixtures.js';
import { FakeWorld, runActivity } from './fakes.js';

describe('model failures: which a retry may fix', () => {
  const cases: Array<[string, unknown, ErrorType, boolean]> = [
    ['HTTP 400 (bad request)', new OpenAI.APIError(400, undefined, 'bad request', undefined), 'ModelRejected', false],
    ['HTTP 401 (bad key)', new OpenAI.APIError(401, undefined, 'unauthorised', undefined), 'ModelRejected', false],
    [
      'HTTP 404 (no such model)',
      new OpenAI.APIError(404, undefined, 'model not found', undefined),
      'ModelRejected',
      false,
    ],
    ['HTTP 408 (timeout)', new OpenAI.APIError(408, undefined, 'timeout', undefined), 'ModelUnavailable', true],
    ['HTTP 409 (conflict)', new OpenAI.APIError(409, undefined, 'conflict', undefined), 'ModelUnavailable', true],
    ['HTTP 429 (rate limited)', new OpenAI.APIError(429, undefined, 'slow down', undefined), 'ModelUnavailable', true],
    ['HTTP 500', new OpenAI.APIError(500, undefined, 'oops', undefined), 'ModelUnavailable', true],
    ['HTTP 503', new OpenAI.APIError(503, undefined, 'overloaded', undefined), 'ModelUnavailable', true],
    ['a connection error', new OpenAI.APIConnectionError({ message: 'ECONNREFUSED' }), 'ModelUnavailable', true],
    ['anything unexpected', new TypeError('boom'), 'ModelUnavailable', true],
  ];
  for (const [what, error, type, retryable] of cases) {
    test(`${what}: ${type}, ${retryable ? 'retried' : 'not retried'}`, () => {
      const failure = toModelFailure(error, 'chat completion');
      assert.equal(failure.type, type);
      assert.equal(failure.nonRetryable, !retryable);
      assert.match(failure.message, /^chat completion failed/);
    });
  }

  test('a failure already typed passes unchanged', () => {
    const typed = ApplicationFailure.create({
      type: ErrorType.ModelUnavailable,
      message: 'the model returned an empty reply',
    });
    assert.equal(toModelFailure(typed, 'chat completion'), typed);
  });
});

/** Asserts that `step` fails with an ApplicationFailure of `type`, retryable or not. */
async function rejectsWith(step: Promise<unknown>, type: string, nonRetryable: boolean): Promise<void> {
  await assert.rejects(step, (error: unknown) => {
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.type, type);
    assert.equal(error.nonRetryable, nonRetryable);
    return true;
  });
}

describe('writing a reply', () => {
  function arrange(options: { model?: Partial<ModelClient>; agent?: Partial<Agent>; channel?: Partial<Channel> } = {}) {
    const world = new FakeWorld();
    const agent = world.addAgent(options.agent);
    const channel = world.addChannel({ agent, ...(options.channel ? { channel: options.channel } : {}) });
    const envelope = envelopeFor(channel, { text: 'where is my order?' });
    world.messages.set(envelope.messageId, {
      ...messageRecordFor(envelope, channel),
      created_at: new Date(),
      updated_at: new Date(),
    });
    const deps = world.deps(options.model ? { model: options.model } : {});
    const replies = createReplies(deps);
    const input: ReplyInput = {
      messageId: envelope.messageId,
      chatId: envelope.chatId,
      agentId: agent.id,
      voicePrefix: agent.voice_prefix,
      maxMessageLength: channel.max_message_length,
    };
    return { world, agent, input, replies };
  }
  const history = (world: FakeWorld, chatId: string) =>
    (world.chats.get(chatId)?.recent ?? []).map((entry) => [entry.role, entry.content]);

  test('the model’s reply goes into the chat’s history and the reply’s parts', async () => {
    const { world, input, replies } = arrange({ model: { complete: () => Promise.resolve('It ships today.') } });
    assert.deepEqual(await runActivity(() => replies.activities.composeReply(input)), { partCount: 1 });
    assert.deepEqual(
      world.replies.get(input.messageId)?.parts.map((part) => part.text),
      ['It ships today.'],
    );
    assert.deepEqual(history(world, input.chatId), [
      ['user', 'where is my order?'],
      ['assistant', 'It ships today.'],
    ]);
  });

  const modelFailures: Array<[string, ApplicationFailure]> = [
    [
      'permanent (ModelRejected, not retried)',
      toModelFailure(new OpenAI.APIError(400, undefined, 'model not found', undefined), 'chat completion'),
    ],
    [
      'transient (ModelUnavailable, retried)',
      toModelFailure(new OpenAI.APIError(503, undefined, 'overloaded', undefined), 'chat completion'),
    ],
  ];
  for (const [what, failure] of modelFailures) {
    test(`a ${what} model failure leaves the step with its type, and nothing is written`, async () => {
      const { world, input, replies } = arrange({ model: { complete: () => Promise.reject(failure) } });
      await rejectsWith(
        runActivity(() => replies.activities.composeReply(input)),
        failure.type ?? '',
        failure.nonRetryable === true,
      );
      assert.equal(world.replies.get(input.messageId), undefined);
      assert.equal(world.chats.get(input.chatId), undefined);
    });
  }

  test('the agent deleted meanwhile: AgentGone, not retried, and the model is not called', async () => {
    const { world, agent, input, replies } = arrange({ model: {} });
    world.agents.delete(agent.id);
    await rejectsWith(
      runActivity(() => replies.activities.composeReply(input)),
      ErrorType.AgentGone,
      true,
    );
  });

  test('the message record missing: MessageNotStored, not retried', async () => {
    const { world, input, replies } = arrange({ model: {} });
    world.messages.clear();
    await rejectsWith(
      runActivity(() => replies.activities.composeReply(input)),
      ErrorType.MessageNotStored,
      true,
    );
  });

  test('a retried step finds the reply stored by the run before, and does not call the model again', async () => {
    let calls = 0;
    const { world, input, replies } = arrange({
      model: {
        complete: () => {
          calls += 1;
          return Promise.resolve('Once only.');
        },
      },
    });
    await runActivity(() => replies.activities.composeReply(input));
    assert.deepEqual(await runActivity(() => replies.activities.composeReply(input), { attempt: 2 }), {
      partCount: 1,
    });
    assert.equal(calls, 1);
    assert.equal(history(world, input.chatId).length, 2);
  });

  test('the fallback reply: the agent’s own words, stored with why the model’s reply could not be used', async () => {
    const { world, input, replies } = arrange({ model: {}, agent: { fallback_reply: 'Back soon!' } });
    const result = await runActivity(() =>
      replies.activities.composeFallbackReply({ ...input, reason: 'chat completion failed with HTTP 400' }),
    );
    assert.deepEqual(result, { partCount: 1 });
    const reply = world.replies.get(input.messageId);
    assert.deepEqual(
      reply?.parts.map((part) => part.text),
      ['Back soon!'],
    );
    assert.equal(reply?.reason, 'chat completion failed with HTTP 400');
    assert.deepEqual(history(world, input.chatId), [
      ['user', 'where is my order?'],
      ['assistant', 'Back soon!'],
    ]);
  });

  test('the fallback reply of an agent deleted meanwhile: the default words', async () => {
    const { world, agent, input, replies } = arrange({ model: {} });
    world.agents.delete(agent.id);
    await runActivity(() => replies.activities.composeFallbackReply({ ...input, reason: 'agent gone' }));
    assert.deepEqual(
      world.replies.get(input.messageId)?.parts.map((part) => part.text),
      [agentDefaults.fallback_reply],
    );
  });

  test('a message that gets no reply is kept in the chat’s history, as the agent would have seen it', async () => {
    const { world, input, replies } = arrange({ model: {} });
    await runActivity(() =>
      replies.activities.recordUnansweredMessage({ messageId: input.messageId, chatId: input.chatId }),
    );
    assert.deepEqual(
      world.chats.get(input.chatId)?.recent?.map((entry) => [entry.id, entry.content]),
      [[historyEntryId(input.messageId, 'user'), 'where is my order?']],
    );
    assert.equal(world.replies.get(input.messageId), undefined);
  });
});
