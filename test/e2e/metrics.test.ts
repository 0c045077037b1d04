import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { waitFor } from '../../src/lib/wait.js';
import { sample, sampleDelta, scrape } from '../helpers/metrics-text.js';
import { postMessage, startStack, type ObservedStack } from '../helpers/stack.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';

const metricsToken = 'metrics-token-0123456789abcdef';

describe('metrics and logs of a real pipeline (API, worker, Temporal dev server, MongoDB, model, receiver)', () => {
  let s: ObservedStack;
  const auth = { authorization: `Bearer ${metricsToken}` };
  // Everything that must never reach a log line at the default level.
  const secrets: Array<{ what: string; value: string }> = [];
  const workerMetrics = () => scrape(s.metricsUrl);
  const apiMetrics = () => scrape(`${s.baseUrl}/metrics`, auth);

  before(async () => {
    s = await startStack({ observe: true, env: { METRICS_TOKEN: metricsToken, DELIVERY_RETRY_SCHEDULE: '1,1,1' } });
    secrets.push(
      { what: 'ADMIN_TOKEN', value: s.config.ADMIN_TOKEN },
      { what: 'OPENAI_API_KEY', value: s.config.OPENAI_API_KEY },
    );
  });
  after(async () => {
    await s?.close();
  });
  beforeEach(() => {
    s.receiver.reset();
    s.fake.reset();
  });

  /** A channel and a message with a text unique to the test; the token and the text join `secrets`. */
  async function sendMessage(options: { replyDelaySeconds?: number } = {}) {
    const reply = s.receiver.endpoint();
    const { channel, token } = await createChannelWithAgent(s.stores, {
      replyUrl: reply.url,
      channel: { reply_delay_seconds: options.replyDelaySeconds ?? 0 },
    });
    const text = `private words ${randomBytes(6).toString('hex')}`;
    secrets.push({ what: 'channel API token', value: token }, { what: 'message text', value: text });
    const response = await postMessage(s.baseUrl, token, {
      client_id: 'u1',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text,
    });
    assert.equal(response.status, 200);
    return {
      reply,
      channel,
      messageId: String(response.body.message_id),
      workflowId: String(response.body.workflow_id),
    };
  }

  async function finished(messageId: string, status = 'delivered') {
    return waitFor(async () => {
      const outcome = await s.stores.messages.outcome(messageId);
      return outcome?.status === status ? outcome : undefined;
    });
  }

  /**
   * How much a worker sample moved since `before`, read once the delivered-message counter has moved: the
   * activity's completion (and so the counter) may land a moment after the receiver saw the POST.
   */
  async function deltaOnceDelivered(before: string) {
    const delivered = (text: string) => sample(text, 'chatrelay_messages_total', { outcome: 'delivered' });
    const after = await waitFor(async () => {
      const text = await workerMetrics();
      return delivered(text) > delivered(before) ? text : undefined;
    });
    return sampleDelta(before, after);
  }

  test('an answered message moves the message, delivery and model counters by one', async () => {
    const before = await workerMetrics();
    const { reply, messageId } = await sendMessage();
    await s.receiver.waitForDelivered(1, { path: reply.path });
    await finished(messageId);
    const delta = await deltaOnceDelivered(before);
    assert.equal(delta('chatrelay_messages_total', { outcome: 'delivered' }), 1);
    assert.equal(delta('chatrelay_delivery_attempts_total', { result: 'delivered' }), 1);
    assert.equal(delta('chatrelay_delivery_attempts_total', { result: 'retry' }), 0);
    assert.equal(delta('chatrelay_model_call_duration_seconds_count', { call: 'chat', outcome: 'ok' }), 1);
    // A text message's common case is one step: admission, the model call and the delivery.
    assert.equal(delta('chatrelay_activity_duration_seconds_count', { activity: 'answerMessage', outcome: 'ok' }), 1);
    assert.equal(delta('chatrelay_activity_duration_seconds_count', { activity: 'sendReplyPart', outcome: 'ok' }), 0);
  });

  test('a receiver answering 500 then 200 moves the retry counter, then the delivered one', async () => {
    const before = await workerMetrics();
    s.receiver.answerNext({ status: 500 });
    const { reply, messageId } = await sendMessage();
    await s.receiver.waitForDelivered(1, { path: reply.path });
    await finished(messageId);
    const delta = await deltaOnceDelivered(before);
    assert.deepEqual(
      s.receiver.posts.filter((post) => post.path === reply.path).map((post) => post.status),
      [500, 200],
    );
    assert.equal(delta('chatrelay_delivery_attempts_total', { result: 'retry' }), 1);
    assert.equal(delta('chatrelay_delivery_attempts_total', { result: 'delivered' }), 1);
  });

  test('a failing model call is counted as an error of its call type', async () => {
    const before = await workerMetrics();
    s.fake.failNext('chat', 1, 503);
    const { reply, messageId } = await sendMessage();
    await s.receiver.waitForDelivered(1, { path: reply.path });
    await finished(messageId);
    const delta = await deltaOnceDelivered(before);
    assert.equal(delta('chatrelay_model_call_errors_total', { call: 'chat', error_type: 'ModelUnavailable' }), 1);
    assert.equal(delta('chatrelay_model_call_duration_seconds_count', { call: 'chat', outcome: 'error' }), 1);
    assert.equal(delta('chatrelay_model_call_duration_seconds_count', { call: 'chat', outcome: 'ok' }), 1);
    assert.equal(
      delta('chatrelay_activity_errors_total', { activity: 'answerMessage', error_type: 'ModelUnavailable' }),
      1,
    );
  });

  test('a reply-delay wait shows in the in-progress gauge while it lasts, and leaves it when the reply goes out', async () => {
    const before = await workerMetrics();
    const startedBefore = sample(before, 'chatrelay_reply_delay_waits_started_total');
    const { reply, messageId } = await sendMessage({ replyDelaySeconds: 3 });
    await waitFor(async () => sample(await workerMetrics(), 'chatrelay_reply_delay_waits_in_progress') === 1, {
      what: 'the wait to be counted',
    });
    assert.equal(s.receiver.delivered(reply.path).length, 0, 'nothing is delivered during the delay');
    await s.receiver.waitForDelivered(1, { path: reply.path });
    await finished(messageId);
    const after = await waitFor(async () => {
      const text = await workerMetrics();
      return sample(text, 'chatrelay_reply_delay_waits_in_progress') === 0 ? text : undefined;
    });
    assert.equal(sample(after, 'chatrelay_reply_delay_waits_started_total') - startedBefore, 1);
    // The workflow reports its stages by name: the wait is timed as its own stage, whatever step runs it.
    const stage = (text: string, name: string, stageName: string) =>
      sample(text, `chatrelay_message_stage_duration_seconds_${name}`, { stage: stageName });
    const timed = await waitFor(async () => {
      const text = await workerMetrics();
      return stage(text, 'count', 'delivering') > stage(before, 'count', 'delivering') ? text : undefined;
    });
    assert.equal(stage(timed, 'count', 'generating') - stage(before, 'count', 'generating'), 1);
    assert.equal(stage(timed, 'count', 'waiting_reply_delay') - stage(before, 'count', 'waiting_reply_delay'), 1);
    const waited = stage(timed, 'sum', 'waiting_reply_delay') - stage(before, 'sum', 'waiting_reply_delay');
    assert.ok(waited > 2, `the 3-second reply delay is the time spent in its stage, got ${waited} s`);
  });

  test("the worker's scrape carries the Temporal SDK's own metrics too", async () => {
    const text = await workerMetrics();
    assert.equal(sample(text, 'chatrelay_temporal_sdk_metrics_up'), 1);
    assert.match(text, /^temporal_\w+/m);
    assert.match(text, /^process_cpu_seconds_total /m);
  });

  test('the API counts the webhook by route and status and times its acknowledgement; /metrics needs the token', async () => {
    const unauthorized = await fetch(`${s.baseUrl}/metrics`);
    assert.equal(unauthorized.status, 401);
    await unauthorized.arrayBuffer();
    const before = await apiMetrics();
    const { reply, messageId } = await sendMessage();
    const bad = await fetch(`${s.baseUrl}/webhook/mychatbot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
    const after = await apiMetrics();
    const route = '/webhook/mychatbot';
    const delta = sampleDelta(before, after);
    assert.equal(delta('chatrelay_http_requests_total', { route, method: 'POST', status: '200' }), 1);
    assert.equal(delta('chatrelay_http_requests_total', { route, method: 'POST', status: '400' }), 1);
    assert.equal(delta('chatrelay_http_request_duration_seconds_count', { route, method: 'POST', status: '200' }), 1);
    assert.equal(
      sample(after, 'chatrelay_http_request_duration_seconds_bucket', {
        route,
        method: 'POST',
        status: '200',
        le: '+Inf',
      }) >= 1,
      true,
    );
    assert.ok(
      sample(after, 'chatrelay_http_request_duration_seconds_sum', { route, method: 'POST', status: '200' }) > 0,
    );
    // Concrete paths never become labels: a media id is reported as its route pattern.
    await (await fetch(`${s.baseUrl}/media/${'x'.repeat(20)}`)).arrayBuffer();
    const withMedia = await apiMetrics();
    assert.equal(
      sample(withMedia, 'chatrelay_http_requests_total', { route: '/media/:id', method: 'GET', status: '404' }),
      1,
    );
    assert.doesNotMatch(withMedia, /xxxxxxxxxxxxxxxxxxxx/);
    // Let the reply go out, so that it cannot take a scripted answer meant for the next test.
    await s.receiver.waitForDelivered(1, { path: reply.path });
    await finished(messageId);
  });

  test("a message's ids are on every log line about it, from the API, the activities and the SDK", async () => {
    s.receiver.answerNext({ status: 500 });
    const { reply, channel, messageId, workflowId } = await sendMessage();
    await s.receiver.waitForDelivered(1, { path: reply.path });
    await finished(messageId);
    const lines = await waitFor(() => {
      const found = s.logs.lines().filter((line) => line.messageId === messageId);
      return found.some((line) => line.msg === 'message finished') ? found : undefined;
    });
    const messages = new Set(lines.map((line) => String(line.msg)));
    for (const expected of ['message accepted', 'reply generated', 'delivery attempt', 'message finished']) {
      assert.ok(
        messages.has(expected),
        `"${expected}" is logged with the message id (found: ${[...messages].join(', ')})`,
      );
    }
    for (const line of lines) {
      assert.equal(line.pageId, channel.page_id, `pageId on "${String(line.msg)}"`);
      assert.equal(line.workflowId, workflowId, `workflowId on "${String(line.msg)}"`);
    }
    const accepted = lines.find((line) => line.msg === 'message accepted');
    assert.equal(typeof accepted?.requestId, 'string');
    // The API's access line for the same request carries the same request id.
    const access = s.logs.lines().find((line) => line.msg === 'request' && line.requestId === accepted?.requestId);
    assert.equal(access?.route, '/webhook/mychatbot');
    assert.equal(access?.status, 200);
    // Both delivery attempts (500, then 200) are logged, each with the ids.
    assert.equal(lines.filter((line) => line.msg === 'delivery attempt').length, 2);
  });

  test('Temporal SDK lines go through the same JSON logger', () => {
    const sdk = s.logs.lines().filter((line) => typeof line.sdkComponent === 'string');
    assert.ok(
      sdk.some((line) => line.msg === 'Worker state changed' && line.state === 'RUNNING'),
      'the worker state change is logged',
    );
    for (const line of sdk) assert.equal(line.service, 'chatrelay-worker');
  });

  test('no token, key or message text in any log line at the default level', async () => {
    // An admin request with the admin token, and a webhook request with a wrong token, are logged too.
    const admin = await fetch(`${s.baseUrl}/v1/agents`, {
      headers: { authorization: `Bearer ${s.config.ADMIN_TOKEN}` },
    });
    assert.equal(admin.status, 200);
    await admin.arrayBuffer();
    const wrong = `wrong-token-${randomBytes(8).toString('hex')}`;
    secrets.push({ what: 'a wrong API token', value: wrong });
    const rejected = await postMessage(s.baseUrl, wrong, {
      client_id: 'u9',
      page_id: 'nope',
      platform: 'CustomApp',
      text: 'hello',
    });
    assert.equal(rejected.status, 401);
    await waitFor(() => s.logs.raw.some((line) => line.includes('"status":401')), { what: 'the 401 to be logged' });

    const services = new Set(s.logs.lines().map((line) => line.service));
    assert.deepEqual([...services].sort(), ['chatrelay-api', 'chatrelay-worker'], 'both processes logged');
    assert.ok(s.logs.raw.length > 30, `a whole run was captured (${s.logs.raw.length} lines)`);
    assert.ok(secrets.filter((secret) => secret.what === 'message text').length >= 5);
    for (const line of s.logs.raw) {
      for (const secret of secrets)
        assert.ok(!line.includes(secret.value), `a log line contains the ${secret.what}: ${line}`);
    }
  });
});
