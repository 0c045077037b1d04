import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type Activities } from '../../src/activities/index.js';
import { createOpenAIModelClient } from '../../src/activities/model.js';
import { chatLineFor } from '../../src/chat-line/index.js';
import { ErrorType, fallbackErrorTypes, nonRetryableErrorTypes } from '../../src/domain/errors.js';
import { createLogger } from '../../src/lib/logger.js';
import { freePort } from '../../src/lib/ports.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { createChannelWithAgent, envelopeFor, messageRecordFor } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

/**
 * A record that is not there fails the step with a type that says which (never the generic
 * `Error`), not retryable, and not one the workflow answers with the fallback
 * reply unless the model's agent is what is gone. Real stores; no model call is reached.
 */
describe('activities: a missing record is a typed, non-retryable failure', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let activities: Activities;
  // The failures are the point here: the activity's own failure log stays quiet.
  const env = new MockActivityEnvironment({ attempt: 1 }, { logger: new DefaultLogger('ERROR') });

  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
    activities = createActivities({
      stores,
      // Never reached in these tests: each step fails before it would signal a workflow or call the model.
      line: chatLineFor(stores, new Client()),
      model: createOpenAIModelClient({
        apiKey: 'test',
        baseURL: `http://127.0.0.1:${await freePort()}/v1`,
        timeoutMs: 1_000,
      }),
      logger: createLogger({ level: 'silent', name: 'test' }),
      settings: {
        publicBaseUrl: 'http://127.0.0.1:8080',
        retryScheduleSeconds: [5],
        deliveryTimeoutMs: 1_000,
        deliveryPolicy: { allowPrivate: true, allowHosts: [] },
        channelCacheTtlMs: 0,
        audioFetch: {
          allowPrivate: true,
          allowHosts: [],
          maxBytes: 1_000,
          connectTimeoutMs: 1_000,
          totalTimeoutMs: 1_000,
          maxRedirects: 0,
        },
      },
    });
  });
  after(async () => {
    await mongo?.close();
  });

  async function failureOf(step: Promise<unknown>): Promise<ApplicationFailure> {
    const error = await step.then(
      () => assert.fail('the step succeeded'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ApplicationFailure, `an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.nonRetryable, true, `${error.type}: not retryable`);
    assert.ok(nonRetryableErrorTypes.includes(error.type ?? ''), `${error.type} is in every retry policy's list`);
    return error;
  }

  /** A stored message of a channel whose agent is then deleted. */
  async function messageOfDeletedAgent(audio?: string) {
    const { channel, agent } = await createChannelWithAgent(stores, { replyUrl: 'http://127.0.0.1:9/r' });
    const envelope = envelopeFor(channel, audio === undefined ? {} : { audio });
    await stores.messages.insert(messageRecordFor(envelope, channel));
    await stores.channels.delete(channel.id);
    await stores.agents.delete(agent.id);
    return { messageId: envelope.messageId, chatId: envelope.chatId, agentId: agent.id };
  }

  test('a message that is not stored: MessageNotStored, which is not the fallback reply', async () => {
    const missing = { messageId: 'msg_not_stored', chatId: 'chat_x', agentId: 'agt_x' };
    const reply = { ...missing, voicePrefix: '', maxMessageLength: 2000 };
    const failures = [
      await failureOf(env.run(() => activities.composeReply(reply))),
      await failureOf(env.run(() => activities.composeFallbackReply({ ...reply, reason: 'model failed' }))),
      await failureOf(env.run(() => activities.recordUnansweredMessage(missing))),
      await failureOf(env.run(() => activities.transcribeVoiceMessage(missing))),
    ];
    for (const failure of failures) {
      assert.equal(failure.type, ErrorType.MessageNotStored);
      assert.equal(failure.message, 'message msg_not_stored is not stored');
    }
    assert.ok(!fallbackErrorTypes.includes(ErrorType.MessageNotStored));
  });

  test('a deleted agent: AgentGone, which the workflow answers with the default fallback reply', async () => {
    const stored = await messageOfDeletedAgent('http://127.0.0.1:9/voice.mp3');
    const compose = await failureOf(
      env.run(() => activities.composeReply({ ...stored, voicePrefix: '', maxMessageLength: 2000 })),
    );
    const transcribe = await failureOf(env.run(() => activities.transcribeVoiceMessage(stored)));
    for (const failure of [compose, transcribe]) {
      assert.equal(failure.type, ErrorType.AgentGone);
      assert.equal(failure.message, `agent ${stored.agentId} no longer exists`);
    }
    assert.ok(fallbackErrorTypes.includes(ErrorType.AgentGone));
  });

  test('a reply that is not stored: ReplyPartMissing, naming the part', async () => {
    const stored = await messageOfDeletedAgent();
    const speak = await failureOf(env.run(() => activities.speakReply(stored)));
    assert.equal(speak.type, ErrorType.ReplyPartMissing);
    assert.equal(speak.message, `the reply to ${stored.messageId} is not stored`);
    const send = await failureOf(
      env.run(() =>
        activities.sendReplyPart({
          messageId: stored.messageId,
          chatId: stored.chatId,
          channelId: 'chn_x',
          partIndex: 1,
          partCount: 2,
          attempt: 1,
          withAudio: false,
        }),
      ),
    );
    assert.equal(send.type, ErrorType.ReplyPartMissing);
    assert.equal(send.message, `part 2 of the reply to ${stored.messageId} is not stored`);
  });
});
