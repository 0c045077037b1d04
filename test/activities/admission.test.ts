import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAdmission, createAdmissionActivities } from '../../src/activities/admission.js';
import { messageWorkflowId } from '../../src/domain/ids.js';
import type { Channel, MessageWorkflowInput } from '../../src/domain/models.js';
import { workflowInputFor as inputFor } from '../helpers/fixtures.js';
import { FakeWorld, runActivity } from './fakes.js';

describe('admission: what the channel says about a message', () => {
  const admit = (world: FakeWorld, input: MessageWorkflowInput) => {
    const activities = createAdmissionActivities(createAdmission(world.deps()));
    return runActivity(() => activities.admitMessage(input), { workflowId: messageWorkflowId(input.messageId) });
  };

  test('an accepted message keeps the settings it will use, is recorded once, and learns whether its turn has come', async () => {
    const world = new FakeWorld();
    const agent = world.addAgent({ voice_prefix: '[Voice] ' });
    const channel = world.addChannel({ agent, channel: { reply_delay_seconds: 9, max_message_length: 300 } });
    const input = inputFor(channel);
    const admitted = await admit(world, input);
    assert.deepEqual(admitted, {
      outcome: 'accepted',
      turn: true,
      snapshot: {
        channelId: channel.id,
        agentId: agent.id,
        pageId: channel.page_id,
        replyWebhookUrl: channel.reply_webhook_url,
        replyDelaySeconds: 9,
        voiceReplies: 'off',
        maxMessageLength: 300,
        voicePrefix: '[Voice] ',
        retryScheduleSeconds: [5, 60],
      },
    });
    const stored = world.messages.get(input.messageId);
    assert.equal(stored?.workflow_id, messageWorkflowId(input.messageId));
    assert.equal(stored?.line_seq, 3);
    assert.deepEqual(stored?.snapshot, admitted.outcome === 'accepted' ? admitted.snapshot : undefined);

    // A later edit of the channel does not change the first record (a retried admission keeps it).
    world.channels.set(channel.id, { ...channel, reply_delay_seconds: 0 });
    await admit(world, input);
    assert.equal(world.messages.get(input.messageId)?.snapshot?.replyDelaySeconds, 9);
  });

  test('an earlier message of the chat still being answered: accepted, without the turn', async () => {
    const world = new FakeWorld();
    world.turn = { granted: false, waitingFor: 2 };
    const admitted = await admit(world, inputFor(world.addChannel()));
    assert.equal(admitted.outcome, 'accepted');
    assert.equal(admitted.turn, false);
  });

  const refusals: Array<[string, (world: FakeWorld, channel: Channel) => void, RegExp]> = [
    ['the channel was deleted', (world, channel) => world.channels.delete(channel.id), /channel no longer exists/],
    [
      'the page id is another channel’s',
      (world, channel) => world.channels.set(channel.id, { ...channel, page_id: 'another-page' }),
      /channel no longer exists/,
    ],
    [
      'the token was rotated before this channel recorded when (no end known for its version)',
      (world, channel) => world.channels.set(channel.id, { ...channel, token_version: 2 }),
      /API token .* has been rotated/,
    ],
    [
      'the message was accepted with a token already rotated out (a stale channel cache)',
      (world, channel) =>
        world.channels.set(channel.id, {
          ...channel,
          token_version: 2,
          token_retired_at: { v1: new Date(Date.now() - 60_000) },
        }),
      /API token .* has been rotated/,
    ],
    [
      'the channel’s agent was deleted',
      (world, channel) => world.agents.delete(channel.agent_id),
      /agent no longer exists/,
    ],
  ];
  test('accepted when its token was rotated out only after the message was accepted', async () => {
    const world = new FakeWorld();
    const channel = world.addChannel({ agent: world.addAgent() });
    const input = inputFor(channel);
    world.channels.set(channel.id, {
      ...channel,
      token_version: channel.token_version + 1,
      token_retired_at: { [`v${channel.token_version}`]: new Date(new Date(input.receivedAt).getTime() + 1_500) },
    });
    const admitted = await admit(world, input);
    assert.equal(admitted.outcome, 'accepted');
  });

  for (const [why, arrange, reason] of refusals) {
    test(`failed, and still recorded, when ${why}`, async () => {
      const world = new FakeWorld();
      const channel = world.addChannel();
      const input = inputFor(channel);
      arrange(world, channel);
      const admitted = await admit(world, input);
      assert.equal(admitted.outcome, 'failed');
      assert.match(admitted.outcome === 'failed' ? admitted.reason : '', reason);
      const stored = world.messages.get(input.messageId);
      assert.ok(stored, 'the message is kept, without settings');
      assert.equal(stored.snapshot, undefined);
    });
  }

  test('a disconnected assistant: not answered, with the agent’s voice prefix for the history', async () => {
    const world = new FakeWorld();
    const agent = world.addAgent({ voice_prefix: '(voice) ' });
    const channel = world.addChannel({ agent, channel: { assistant_connected: false } });
    const admitted = await admit(world, inputFor(channel));
    assert.deepEqual(admitted, {
      outcome: 'not_answered',
      reason: 'the assistant is not connected to this channel',
      voicePrefix: '(voice) ',
      turn: true,
    });
  });

  test('a disconnected assistant whose agent is gone too: not answered, without a voice prefix', async () => {
    const world = new FakeWorld();
    const channel = world.addChannel({ channel: { assistant_connected: false } });
    world.agents.delete(channel.agent_id);
    const admitted = await admit(world, inputFor(channel));
    assert.equal(admitted.outcome, 'not_answered');
    assert.equal('voicePrefix' in admitted, false);
  });
});
