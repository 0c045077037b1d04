import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createAdmission } from '../../src/activities/admission.js';
import { createAnswerActivities } from '../../src/activities/answer.js';
import { createBurst } from '../../src/activities/burst.js';
import { createDelivery } from '../../src/activities/delivery.js';
import type { ModelClient } from '../../src/activities/model.js';
import { createReplies } from '../../src/activities/reply.js';
import type { Successor } from '../../src/chat-line/line.js';
import { historyEntryId, messageWorkflowId } from '../../src/domain/ids.js';
import type { Channel, MessageWorkflowInput } from '../../src/domain/models.js';
import { channelSnapshot } from '../../src/domain/snapshot.js';
import { workflowInputFor } from '../helpers/fixtures.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { echoModel, FakeWorld, runActivity } from './fakes.js';

describe('bursts and stale replies in the answer step', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
  });
  beforeEach(() => receiver.reset());

  const echo = echoModel;

  /**
   * The answer activities over `world`, with the chat's next place held by `successor` (if any),
   * a message admitted with its channel's settings (it will answer) unless `successorState` says
   * it was refused at admission, or has ended.
   */
  function activitiesOf(
    world: FakeWorld,
    successor?: Successor,
    model: Partial<ModelClient> = echo,
    successorState: 'admitted' | 'refused' | 'ended' = 'admitted',
  ) {
    if (successor) admitSuccessor(world, successor, successorState);
    const base = world.deps({ model });
    const chats = base.stores.chats;
    const deps = {
      ...base,
      stores: {
        ...base.stores,
        chats: {
          ...chats,
          get: (id: string) => chats.get(id),
          recordTurn: (...args: Parameters<typeof chats.recordTurn>) => chats.recordTurn(...args),
          dropEntry: (id: string, entryId: string) => {
            const chat = world.chats.get(id);
            if (chat) world.chats.set(id, { ...chat, recent: (chat.recent ?? []).filter((e) => e.id !== entryId) });
            return Promise.resolve();
          },
        },
      },
      line: {
        ...base.line,
        turn: () => Promise.resolve(world.turn),
        end: (chatId: string, seq: number) => base.line.end(chatId, seq),
        // As the line does: a place claimed after `claimedBy` does not count.
        successor: (_chatId: string, _seq: number, _messageId: string, options: { claimedBy?: Date } = {}) =>
          Promise.resolve(
            successor && (options.claimedBy === undefined || successor.claimedAt <= options.claimedBy)
              ? successor
              : undefined,
          ),
      },
    };
    const delivery = createDelivery(deps);
    const replies = createReplies(deps);
    const burst = createBurst(deps);
    return {
      ...createAnswerActivities(createAdmission(deps), replies.compose, delivery, {
        burst,
        recordUnanswered: (input) => replies.activities.recordUnansweredMessage(input),
      }),
      ...burst.activities,
    };
  }
  const run = <R>(input: MessageWorkflowInput, step: () => Promise<R>, attempt = 1) =>
    runActivity(step, { workflowId: messageWorkflowId(input.messageId), attempt });
  const history = (world: FakeWorld, input: MessageWorkflowInput) =>
    (world.chats.get(input.chatId)?.recent ?? []).map((entry) => [entry.role, entry.content]);
  const snapshotOf = (world: FakeWorld, channel: Channel) =>
    channelSnapshot(channel, world.agents.get(channel.agent_id)!, [5, 60]);
  function admitSuccessor(world: FakeWorld, successor: Successor, state: 'admitted' | 'refused' | 'ended'): void {
    const [channel] = [...world.channels.values()];
    if (!channel || world.messages.has(successor.messageId)) return;
    const input = { ...workflowInputFor(channel, { text: 'newer' }), messageId: successor.messageId };
    world.messages.set(successor.messageId, {
      _id: successor.messageId,
      workflow_id: messageWorkflowId(successor.messageId),
      channel_id: channel.id,
      page_id: channel.page_id,
      client_id: input.message.client_id,
      chat_id: input.chatId,
      platform: input.message.platform,
      status: 'processing',
      stage: 'accepted',
      inbound: input.message,
      received_at: successor.claimedAt,
      line_seq: input.lineSeq + 1,
      created_at: successor.claimedAt,
      updated_at: successor.claimedAt,
      ...(state === 'refused' ? {} : { snapshot: snapshotOf(world, channel) }),
    });
    if (state === 'ended')
      world.outcomes.set(successor.messageId, {
        _id: successor.messageId,
        message_id: successor.messageId,
        status: 'failed',
        reason: 'the model failed',
        parts_delivered: 0,
        at: successor.claimedAt,
      });
  }
  /** A newer message claimed `afterMs` after `input` was received. */
  const newer = (input: MessageWorkflowInput, afterMs: number): Successor => ({
    messageId: 'msg_newer',
    claimedAt: new Date(Date.parse(input.receivedAt) + afterMs),
  });

  test('a coalescing channel: admission with the turn hands back to the workflow before any model call', async () => {
    const world = new FakeWorld();
    const channel = world.addChannel({ replyUrl: receiver.url, channel: { coalesce_window_seconds: 5 } });
    const input = workflowInputFor(channel, { text: 'hi' });
    const activities = activitiesOf(world, undefined, {});
    const answer = await run(input, () => activities.answerMessage(input));
    assert.equal(answer.kind, 'coalescing');
    assert.equal(answer.snapshot.coalesceWindowSeconds, 5);
    assert.equal(receiver.posts.length, 0);
  });

  test('a newer message claimed within the window: this one is kept in the history unanswered, absorbed into it', async () => {
    const world = new FakeWorld();
    const channel = world.addChannel({ replyUrl: receiver.url, channel: { coalesce_window_seconds: 5 } });
    const input = workflowInputFor(channel, { text: 'hi' });
    const activities = activitiesOf(world, newer(input, 4_999), {});
    await run(input, () => activities.answerMessage(input));
    const answer = await run(input, () => activities.answerInBurst({ ...input, snapshot: snapshotOf(world, channel) }));
    assert.deepEqual(answer.kind === 'coalesced' ? answer.answeredBy : answer.kind, 'msg_newer');
    assert.deepEqual(history(world, input), [['user', 'hi']]);
    assert.equal(receiver.posts.length, 0);
    assert.equal(world.replies.size, 0, 'no reply written');
  });

  for (const state of ['refused', 'ended'] as const) {
    test(`a newer message within the window that will not answer (${state}): this one is answered on its own (issue 23, item 7)`, async () => {
      const world = new FakeWorld();
      const endpoint = receiver.endpoint();
      const channel = world.addChannel({ replyUrl: endpoint.url, channel: { coalesce_window_seconds: 5 } });
      const input = workflowInputFor(channel, { text: 'hi' });
      const activities = activitiesOf(world, newer(input, 1_000), echo, state);
      await run(input, () => activities.answerMessage(input));
      const answer = await run(input, () =>
        activities.answerInBurst({ ...input, snapshot: snapshotOf(world, channel) }),
      );
      assert.equal(answer.kind, 'answered');
      assert.deepEqual(
        receiver.delivered(endpoint.path).map((post) => post.fields.text),
        ['Echo: hi'],
      );
    });
  }

  test('a newer message claimed after the window: this one is answered and delivered on its own', async () => {
    const world = new FakeWorld();
    const endpoint = receiver.endpoint();
    const channel = world.addChannel({ replyUrl: endpoint.url, channel: { coalesce_window_seconds: 5 } });
    const input = workflowInputFor(channel, { text: 'hi' });
    const activities = activitiesOf(world, newer(input, 5_001));
    await run(input, () => activities.answerMessage(input));
    const answer = await run(input, () => activities.answerInBurst({ ...input, snapshot: snapshotOf(world, channel) }));
    assert.equal(answer.kind, 'answered');
    assert.deepEqual(
      receiver.delivered(endpoint.path).map((post) => post.fields.text),
      ['Echo: hi'],
    );
  });

  test('a retried step whose first run wrote the reply answers on, even with a newer message in the window now', async () => {
    const world = new FakeWorld();
    const endpoint = receiver.endpoint();
    const channel = world.addChannel({ replyUrl: endpoint.url, channel: { coalesce_window_seconds: 5 } });
    const input = workflowInputFor(channel, { text: 'hi' });
    await run(input, () => activitiesOf(world).answerMessage(input));
    // The first run: no newer message; its reply is written (and delivered), then its result is lost.
    await run(input, () => activitiesOf(world).answerInBurst({ ...input, snapshot: snapshotOf(world, channel) }));
    const retried = await run(
      input,
      () => activitiesOf(world, newer(input, 10)).answerInBurst({ ...input, snapshot: snapshotOf(world, channel) }),
      2,
    );
    assert.equal(retried.kind, 'answered');
  });

  test('stale replies with nothing in between: a newer message there once the reply is written drops it unsent', async () => {
    const world = new FakeWorld();
    const endpoint = receiver.endpoint();
    const channel = world.addChannel({ replyUrl: endpoint.url, channel: { supersede_stale_replies: true } });
    const input = workflowInputFor(channel, { text: 'where is it?' });
    const answer = await run(input, () => activitiesOf(world, newer(input, 10)).answerMessage(input));
    assert.deepEqual(answer.kind === 'superseded' ? [answer.answeredBy, answer.partCount] : answer.kind, [
      'msg_newer',
      1,
    ]);
    assert.equal(receiver.posts.length, 0, 'nothing sent');
    assert.deepEqual(history(world, input), [['user', 'where is it?']], 'the stale reply is out of the history');
    assert.ok(world.replies.has(input.messageId), 'the reply stays on record');
  });

  test('stale replies: a retried check whose first run made an attempt delivers on (never half a reply)', async () => {
    const world = new FakeWorld();
    const channel = world.addChannel({ replyUrl: receiver.url, channel: { supersede_stale_replies: true } });
    const input = workflowInputFor(channel, { text: 'where is it?' });
    const placed = { messageId: input.messageId, chatId: input.chatId, lineSeq: input.lineSeq };
    world.chats.set(input.chatId, {
      _id: input.chatId,
      recent: [{ id: historyEntryId(input.messageId, 'assistant'), role: 'assistant', content: 'x', attachments: [] }],
    } as never);
    world.attempts.push({
      _id: 'att_first',
      message_id: input.messageId,
      part_index: 0,
      attempt: 1,
      at: new Date(),
      duration_ms: 5,
      result: 'retry',
    });
    const activities = activitiesOf(world, newer(input, 10));
    assert.deepEqual(await run(input, () => activities.dropStaleReply(placed), 2), {});
    assert.equal(world.chats.get(input.chatId)?.recent?.length, 1, 'the reply stays in the history');
    // Without an attempt made, the same check drops it.
    world.attempts.length = 0;
    assert.deepEqual(await run(input, () => activities.dropStaleReply(placed), 2), { supersededBy: 'msg_newer' });
    assert.deepEqual(world.chats.get(input.chatId)?.recent, []);
  });
});
