/**
 * The benchmark's operations settings (bench/lib/ops-variants.ts): tracing on sends real OTLP
 * exports, from the same tracing start-up the API and worker run, to the benchmark's sink on
 * loopback; tracing off sets nothing that turns it on; on|off flags are parsed strictly.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { startTracing, tracingRequested } from '../../src/observability/tracing.js';
import { onOff, opsEnv } from '../../bench/lib/ops-variants.js';
import { startOtlpSink, type OtlpSink } from '../../bench/lib/otlp-sink.js';

let sink: OtlpSink | undefined;
after(async () => {
  await sink?.close();
});

test('tracing off sets no OTEL_* variable: the API and worker do not trace; encryption follows its flag', () => {
  const env = opsEnv({ payloadEncryption: false, tracing: false }, undefined);
  assert.deepEqual(env, { PAYLOAD_ENCRYPTION: 'false' });
  assert.equal(tracingRequested(env), false);
  assert.equal(opsEnv({ payloadEncryption: true, tracing: false }, undefined).PAYLOAD_ENCRYPTION, 'true');
});

test('tracing on: the start-up the API and worker run exports every span to the sink, over OTLP/HTTP on loopback', async () => {
  sink = await startOtlpSink();
  assert.match(sink.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  const env = opsEnv({ payloadEncryption: true, tracing: true }, sink.endpoint);
  assert.equal(tracingRequested(env), true);
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const tracing = await startTracing({ serviceName: 'bench-ops-test' });
    assert.ok(tracing, 'tracing started');
    for (let i = 0; i < 3; i++) trace.getTracer('bench-ops-test').startSpan(`span-${i}`).end();
    await tracing.shutdown(); // flushes what is batched
  } finally {
    for (const name of Object.keys(env)) if (!(name in saved)) delete process.env[name];
  }
  const received = sink.received();
  assert.ok(received.exports >= 1, JSON.stringify(received));
  assert.ok(received.bytes > 0, JSON.stringify(received));
});

test('on|off flags: anything else is refused, naming the flag', () => {
  assert.equal(onOff('tracing', 'on'), true);
  assert.equal(onOff('tracing', 'off'), false);
  assert.equal(onOff('tracing', undefined), undefined);
  assert.throws(() => onOff('payload-encryption', 'yes'), /--payload-encryption must be on or off, got "yes"/);
});
