/**
 * OpenTelemetry tracing on the real stack (API and worker wired as their entry points wire them,
 * Temporal dev server, MongoDB-compatible server, fake model API, real receiver), exported to an
 * in-memory exporter: one trace per message, from the inbound POST to the reply POST, whose
 * `traceparent` names the trace; spans in parent/child order; ids as attributes, no content.
 * The checks know no particular activity: the workflows are free to change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { waitFor } from '../../src/lib/wait.js';
import { startTracing, tracingRequested, type Tracing } from '../../src/observability/tracing.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';

describe('tracing is configured by the OTEL_* variables', () => {
  test('off when none is set, when the SDK is disabled, or when the traces exporter is none', async () => {
    assert.equal(tracingRequested({}), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }), false, 'an empty variable counts as unset');
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
    assert.equal(tracingRequested({ OTEL_SERVICE_NAME: 'relay', OTEL_SDK_DISABLED: 'true' }), false);
    assert.equal(tracingRequested({ OTEL_SERVICE_NAME: 'relay', OTEL_TRACES_EXPORTER: 'none' }), false);
    assert.equal(await startTracing({ serviceName: 'off', env: { PATH: '/bin' } }), undefined);
  });
});

describe('one trace per message, from the inbound POST to the reply POST', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing | undefined;
  let s: Stack;

  before(async () => {
    tracing = await startTracing({ serviceName: 'chatrelay-test', spanProcessor: new SimpleSpanProcessor(exporter) });
    s = await startStack();
  });
  after(async () => {
    await s?.close();
    await tracing?.shutdown();
  });

  test('the spans form one tree: POST, StartWorkflow, the workflow, each activity, the model call, the reply POST', async () => {
    const secretPath = `/replies/hook-${'Kq7'.repeat(8)}`;
    const secretQuery = 'token=reply-url-secret-0987';
    const replyPath = `${secretPath}?${secretQuery}`;
    const { channel, token, signingSecret } = await createChannelWithAgent(s.stores, {
      replyUrl: `${s.receiver.baseUrl}${replyPath}`,
    });
    const secrets = {
      text: 'Please trace this private sentence',
      name: 'Odile Tracewell',
      avatar: 'https://avatars.chatrelay-test.invalid/odile.png',
      token,
      signingSecret,
      replyUrlPath: secretPath.slice('/replies/'.length),
      replyUrlQuery: secretQuery,
    };
    const response = await postMessage(s.baseUrl, token, {
      client_id: 'traced-user',
      page_id: channel.page_id,
      platform: 'CustomApp',
      text: secrets.text,
      client_name: secrets.name,
      client_avatar: secrets.avatar,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const messageId = String(response.body.message_id);
    const [reply] = await s.receiver.waitForDelivered(1, { path: replyPath });

    // The reply POST names the trace and the span that sent it.
    const traceparent = String(reply?.headers.traceparent ?? '');
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(traceparent);
    assert.ok(match, `the reply POST carries a sampled traceparent: "${traceparent}"`);
    const [, traceId = '', replySpanId = ''] = match;

    // Every span of the message, once the workflow's own has ended (workflow spans are exported at the end of its task).
    const spans = await waitFor(() => {
      const finished = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
      return finished.some((span) => span.name === 'RunWorkflow:messageWorkflow') &&
        finished.some((span) => span.spanContext().spanId === replySpanId)
        ? finished
        : undefined;
    });
    const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    const parentOf = (span: ReadableSpan): ReadableSpan | undefined =>
      span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
    const one = (name: string): ReadableSpan => {
      const found = spans.filter((span) => span.name === name);
      assert.equal(found.length, 1, `one ${name} span; spans: ${spans.map((span) => span.name).join(', ')}`);
      return found[0]!;
    };
    const ancestors = (span: ReadableSpan): string[] => {
      const names: string[] = [];
      for (let at = parentOf(span); at; at = parentOf(at)) names.push(at.name);
      return names;
    };

    // The root: the inbound POST, a server span named by its route.
    const post = one('POST /webhook/mychatbot');
    assert.equal(post.kind, SpanKind.SERVER);
    assert.equal(post.parentSpanId, undefined, 'the POST is the root of the trace');
    assert.equal(post.attributes['http.route'], '/webhook/mychatbot');
    assert.equal(post.attributes['http.response.status_code'], 200);

    // StartWorkflowExecution under the POST; the workflow's run under its start.
    const start = one('StartWorkflow:messageWorkflow');
    assert.equal(parentOf(start), post);
    const run = one('RunWorkflow:messageWorkflow');
    assert.equal(parentOf(run), start);
    for (const span of [start, run]) {
      assert.equal(span.attributes['chatrelay.message_id'], messageId, span.name);
      assert.equal(span.attributes['chatrelay.page_id'], channel.page_id, span.name);
    }

    // Each activity: RunActivity:X under StartActivity:X under the workflow's run, tagged with the message.
    const activityRuns = spans.filter((span) => span.name.startsWith('RunActivity:'));
    // A text message's common case is one activity (admission, model call, delivery).
    assert.ok(activityRuns.length >= 1, `activities: ${activityRuns.map((span) => span.name).join(', ')}`);
    for (const activity of activityRuns) {
      const scheduled = parentOf(activity);
      assert.equal(scheduled?.name, activity.name.replace('RunActivity:', 'StartActivity:'), activity.name);
      assert.equal(parentOf(scheduled), run, `${scheduled?.name} is a child of the workflow's run`);
      assert.equal(activity.attributes['chatrelay.message_id'], messageId, activity.name);
      assert.equal(activity.attributes['chatrelay.page_id'], channel.page_id, activity.name);
    }

    // The model call, inside an activity, and its HTTP request inside it.
    const model = one('model chat');
    assert.match(parentOf(model)?.name ?? '', /^RunActivity:/);
    assert.equal(model.attributes['gen_ai.request.model'], 'gpt-4o-mini');
    assert.ok(
      spans.some((span) => parentOf(span) === model && span.kind === SpanKind.CLIENT),
      'the model API request is a child of the model call',
    );

    // The reply POST: a client span inside an activity of the workflow, that keeps only the receiver's origin.
    const replySpan = byId.get(replySpanId)!;
    assert.equal(replySpan.kind, SpanKind.CLIENT);
    assert.match(parentOf(replySpan)?.name ?? '', /^RunActivity:/);
    assert.deepEqual(ancestors(replySpan).slice(-3), [run.name, start.name, post.name]);
    assert.equal(replySpan.attributes['url.full'], s.receiver.baseUrl);

    // One trace: every span about this message is in it.
    const aboutMessage = exporter
      .getFinishedSpans()
      .filter((span) => span.attributes['chatrelay.message_id'] === messageId);
    assert.ok(aboutMessage.every((span) => span.spanContext().traceId === traceId));

    // No content and no secret in any attribute of any span (of any trace), nor in span names.
    for (const span of exporter.getFinishedSpans()) {
      const text = JSON.stringify({
        name: span.name,
        attributes: span.attributes,
        events: span.events.map((event) => event.attributes),
      });
      for (const [what, secret] of Object.entries(secrets))
        assert.ok(!text.includes(secret), `the ${what} is in span ${span.name}: ${text}`);
    }
  });
});
