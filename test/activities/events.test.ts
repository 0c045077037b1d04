import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createDelivery, createDeliveryActivities } from '../../src/activities/delivery.js';
import type { ActivityDeps } from '../../src/activities/deps.js';
import { createEventActivities, createEventEmitter } from '../../src/activities/events.js';
import { createLineActivities } from '../../src/chat-line/activities.js';
import { deliveryId } from '../../src/domain/ids.js';
import type { Channel } from '../../src/domain/models.js';
import { eventTargetOf, type OperationalEventInput } from '../../src/domain/operational-events.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createLogger } from '../../src/lib/logger.js';
import { FakeWorld, runActivity } from './fakes.js';

/** A world whose event starter records what it is asked to start (the Temporal side is the workflow test's). */
function arrange(channel: Partial<Channel> = {}, starter?: (input: OperationalEventInput) => Promise<void>) {
  const world = new FakeWorld();
  const started: OperationalEventInput[] = [];
  const deps: ActivityDeps = {
    ...world.deps(),
    events: {
      start: (input) => {
        started.push(input);
        return starter ? starter(input) : Promise.resolve();
      },
    },
  };
  return { world, deps, started, channel: world.addChannel({ channel }) };
}

const EVENTS_URL = 'https://helpdesk.example.com/events';

describe('operational events: the emitters where outcomes are recorded', () => {
  const failed = {
    messageId: 'msg_failed_1',
    chatId: 'page-1:client-1',
    status: 'failed' as const,
    reason: 'the model refused',
    partsDelivered: 1,
    lineSeq: 3,
  };

  test('a failed message with an events target: outcome recorded, turn handed on, then message.failed started', async () => {
    const { world, deps, started, channel } = arrange({ events_url: EVENTS_URL });
    const line = createLineActivities(deps);
    const before = Date.now();
    await runActivity(() =>
      line.closeMessage({ ...failed, events: { url: EVENTS_URL, channelId: channel.id, clientId: 'client-1' } }),
    );
    assert.equal(world.outcomes.get(failed.messageId)?.status, 'failed');
    assert.deepEqual(world.released, ['page-1:client-1#3']);
    assert.equal(started.length, 1);
    const [event] = started;
    assert.ok(event);
    assert.equal(event.eventId, 'message.failed:msg_failed_1', 'derived from the message: a repeat is the same event');
    assert.equal(event.url, EVENTS_URL);
    assert.equal(event.channelId, channel.id);
    assert.deepEqual(event.event, {
      type: 'message.failed',
      data: {
        message_id: 'msg_failed_1',
        chat_id: 'page-1:client-1',
        client_id: 'client-1',
        reason: 'the model refused',
      },
    });
    assert.deepEqual(event.retryScheduleSeconds, deps.settings.retryScheduleSeconds);
    assert.ok(Date.parse(event.timestamp) >= before - 1000);
  });

  test('nothing is started for a delivered message, a failure without a target, or a failed redelivery', async () => {
    const { deps, started, channel } = arrange({ events_url: EVENTS_URL });
    const line = createLineActivities(deps);
    const events = { url: EVENTS_URL, channelId: channel.id, clientId: 'client-1' };
    await runActivity(() => line.closeMessage({ ...failed, messageId: 'msg_a', status: 'delivered', events }));
    await runActivity(() => line.closeMessage({ ...failed, messageId: 'msg_b' }));
    await runActivity(() => line.closeMessage({ ...failed, messageId: 'msg_c', redelivery: 1, events }));
    assert.deepEqual(started, []);
  });

  test('when the start fails (Temporal away), the step fails and is retried; repeating it records the outcome once', async () => {
    let refuse = true;
    const { world, deps, started, channel } = arrange({ events_url: EVENTS_URL }, () =>
      refuse ? Promise.reject(new Error('Temporal is unavailable')) : Promise.resolve(),
    );
    const line = createLineActivities(deps);
    const input = { ...failed, events: { url: EVENTS_URL, channelId: channel.id, clientId: 'client-1' } };
    await assert.rejects(
      runActivity(() => line.closeMessage(input)),
      /Temporal is unavailable/,
    );
    refuse = false;
    await runActivity(() => line.closeMessage(input), { attempt: 2 });
    assert.equal(world.outcomes.size, 1);
    assert.deepEqual(
      started.map((event) => event.eventId),
      ['message.failed:msg_failed_1', 'message.failed:msg_failed_1'],
      'the same id both times: the starter ignores the repeat',
    );
  });

  test('a 410 from the reply URL emits channel.delivery_paused, named by the attempt; without an events URL nothing', async () => {
    const receiver = await startReceiver();
    try {
      for (const eventsUrl of [EVENTS_URL, undefined]) {
        const { world, deps, started, channel } = arrange({
          reply_webhook_url: receiver.endpoint().url,
          ...(eventsUrl !== undefined ? { events_url: eventsUrl } : {}),
        });
        const messageId = `msg_gone_${eventsUrl === undefined ? 'quiet' : 'loud'}`;
        world.replies.set(messageId, {
          _id: messageId,
          parts: [{ index: 0, text: 'hi', images: [], delivery_id: deliveryId(messageId, 0) }],
          at: new Date(),
        });
        receiver.answerNext({ status: 410 });
        const delivery = createDeliveryActivities(deps, createDelivery(deps));
        const result = await runActivity(() =>
          delivery.sendReplyPart({
            messageId,
            chatId: 'chat-1',
            channelId: channel.id,
            partIndex: 0,
            partCount: 1,
            attempt: 2,
          }),
        );
        assert.equal(result.outcome, 'gone');
        assert.equal(world.channels.get(channel.id)?.delivery_paused, true);
        if (eventsUrl === undefined) {
          assert.deepEqual(started, []);
          continue;
        }
        assert.deepEqual(
          started.map((event) => [event.eventId, event.url, event.event]),
          [
            [
              `channel.delivery_paused:${messageId}:p0a2`,
              EVENTS_URL,
              { type: 'channel.delivery_paused', data: { channel_id: channel.id, message_id: messageId } },
            ],
          ],
        );
      }
    } finally {
      await receiver.close();
    }
  });

  test('handoffRequested: the event for another feature to emit, its id derived from the message', async () => {
    const { deps, started, channel } = arrange({ events_url: EVENTS_URL });
    const emitter = createEventEmitter(deps);
    assert.equal(eventTargetOf({ channelId: channel.id }), undefined, 'no events URL in the snapshot: nothing to emit');
    const target = eventTargetOf({ channelId: channel.id, eventsUrl: EVENTS_URL });
    assert.ok(target);
    await runActivity(() =>
      emitter.handoffRequested(target, {
        chat_id: 'page-1:client-9',
        client_id: 'client-9',
        message_id: 'msg_handoff',
      }),
    );
    assert.equal(started[0]?.eventId, 'chat.handoff_requested:msg_handoff');
    assert.equal(started[0]?.event.type, 'chat.handoff_requested');
  });
});

describe('operational events: sendOperationalEvent, one signed POST', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
  });
  beforeEach(() => receiver.reset());

  function eventFor(channel: Channel, url: string): OperationalEventInput & { attempt: number } {
    return {
      eventId: 'message.failed:msg_x',
      channelId: channel.id,
      url,
      event: { type: 'message.failed', data: { message_id: 'msg_x', chat_id: 'c', client_id: 'u', reason: 'r' } },
      timestamp: '2026-11-28T12:00:00.000Z',
      retryScheduleSeconds: [5],
      attempt: 1,
    };
  }

  test('a JSON body {type, timestamp, data}, signed with the channel secret; 2xx delivered', async () => {
    const world = new FakeWorld();
    const channel = world.addChannel();
    const activities = createEventActivities(world.deps());
    const endpoint = receiver.endpoint();
    const result = await runActivity(() => activities.sendOperationalEvent(eventFor(channel, endpoint.url)));
    assert.deepEqual(result, { outcome: 'delivered', status: 200 });
    const [post] = receiver.posts;
    assert.ok(post);
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal(post.headers['webhook-id'], 'message.failed:msg_x');
    const secret = world.secrets.get(channel.id)?.[0] ?? '';
    const body: unknown = new Webhook(secret).verify(post.rawBody, {
      'webhook-id': String(post.headers['webhook-id']),
      'webhook-timestamp': String(post.headers['webhook-timestamp']),
      'webhook-signature': String(post.headers['webhook-signature']),
    });
    assert.deepEqual(body, {
      type: 'message.failed',
      timestamp: '2026-11-28T12:00:00.000Z',
      data: { message_id: 'msg_x', chat_id: 'c', client_id: 'u', reason: 'r' },
    });
  });

  test('5xx with Retry-After is a retry carrying it; 410 is gone (final); no secret: retry, nothing sent unsigned', async () => {
    const world = new FakeWorld();
    const channel = world.addChannel();
    const unsigned = world.addChannel({ signed: false });
    const activities = createEventActivities(world.deps());
    const endpoint = receiver.endpoint();
    receiver.answerNext({ status: 503, headers: { 'retry-after': '120' } }, { status: 410 });
    assert.deepEqual(await runActivity(() => activities.sendOperationalEvent(eventFor(channel, endpoint.url))), {
      outcome: 'retry',
      status: 503,
      error: 'receiver answered 503',
      retryAfterSeconds: 120,
    });
    assert.equal(
      (await runActivity(() => activities.sendOperationalEvent(eventFor(channel, endpoint.url)))).outcome,
      'gone',
    );
    const held = await runActivity(() => activities.sendOperationalEvent(eventFor(unsigned, endpoint.url)));
    assert.equal(held.outcome, 'retry');
    assert.match(held.error ?? '', /no signing secret/);
    assert.equal(receiver.posts.length, 2);
  });

  test('the SSRF guard: a private address is refused (final) without a connection', async () => {
    const world = new FakeWorld();
    const channel = world.addChannel();
    const strict = world.deps({ settings: { deliveryPolicy: { allowPrivate: false, allowHosts: [] } } });
    const activities = createEventActivities(strict);
    const result = await runActivity(() => activities.sendOperationalEvent(eventFor(channel, receiver.endpoint().url)));
    assert.equal(result.outcome, 'rejected');
    assert.match(result.error ?? '', /127\.0\.0\.1 is .*DELIVERY_ALLOW_PRIVATE/);
    assert.equal(receiver.posts.length, 0);
  });
});

describe('logs: URL hosts only, a provider error by its status', () => {
  /** A logger whose JSON lines are kept, to read what an activity logged. */
  function capturingLogger(): {
    logger: ActivityDeps['logger'];
    lines: () => { msg: string; [key: string]: unknown }[];
  } {
    const written: string[] = [];
    const logger = createLogger({
      level: 'info',
      name: 'log-test',
      destination: { write: (line: string) => written.push(line) },
    });
    return { logger, lines: () => written.map((line) => JSON.parse(line) as { msg: string }) };
  }

  test('message finished: no voice-note path, no provider text; the host and the status stay', async () => {
    const world = new FakeWorld();
    const { logger, lines } = capturingLogger();
    const line = createLineActivities({ ...world.deps(), logger });
    const reason =
      'the reply could not be generated: voice message could not be fetched: HTTP 404 from https://media.example.com/u/alice-voice/t0ken.ogg; ' +
      'chat completion failed with HTTP 400: Invalid content: "my card number is 4111"';
    await runActivity(() =>
      line.closeMessage({
        messageId: 'msg_logged',
        chatId: 'p:c',
        status: 'failed',
        reason,
        partsDelivered: 0,
        lineSeq: 1,
      }),
    );
    assert.equal(world.outcomes.get('msg_logged')?.reason, reason, 'the record keeps the whole reason');
    const finished = lines().find((entry) => entry.msg === 'message finished');
    assert.ok(finished, JSON.stringify(lines()));
    const logged = String(finished.reason);
    assert.doesNotMatch(logged, /alice-voice|t0ken|Invalid content|4111/);
    assert.match(logged, /media\.example\.com/);
    assert.match(logged, /HTTP 400$/);
  });

  test('operational event attempt: the events URL path is not logged', async () => {
    const world = new FakeWorld();
    const channel = world.addChannel();
    const { logger, lines } = capturingLogger();
    const strict = world.deps({ settings: { deliveryPolicy: { allowPrivate: false, allowHosts: [] } } });
    const activities = createEventActivities({ ...strict, logger });
    const result = await runActivity(() =>
      activities.sendOperationalEvent({
        eventId: 'message.failed:msg_y',
        channelId: channel.id,
        url: 'http://127.0.0.1:9/hooks/s3cret-path?key=k3y',
        event: { type: 'message.failed', data: { message_id: 'msg_y', chat_id: 'c', client_id: 'u', reason: 'r' } },
        timestamp: '2026-11-28T12:00:00.000Z',
        retryScheduleSeconds: [5],
        attempt: 1,
      }),
    );
    assert.equal(result.outcome, 'rejected');
    const attempt = lines().find((entry) => entry.msg === 'operational event attempt');
    assert.ok(attempt, JSON.stringify(lines()));
    assert.doesNotMatch(JSON.stringify(attempt), /s3cret-path|k3y/);
    assert.match(String(attempt.error), /127\.0\.0\.1/);
  });
});
