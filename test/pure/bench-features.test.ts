/**
 * The benchmark's feature modes (`--feature`, bench/lib/features.ts): what each option needs, the
 * messages each sends, the receiver's refusals and voice note, the flaky model proxy, and the
 * analysis that counts interim parts and refused deliveries apart from the reply's parts.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import OpenAI from 'openai';
import { startDemoModel } from '../../src/demo-model/server.js';
import { sniffAudioFormat } from '../../src/domain/voice.js';
import { analyze, deliversPart } from '../../bench/lib/analyze.js';
import {
  benchFeatures,
  featureConflict,
  featureMessage,
  featureSettings,
  featureShortfall,
  featureWaitSeconds,
  HANDOFF_REQUEST,
  HANDOFF_TEXT,
  handoffReplies,
  oneChatPerMessage,
  parseFeature,
  type FeatureCounts,
} from '../../bench/lib/features.js';
import { startFlakyModel } from '../../bench/lib/flaky-model.js';
import { planWorkload, type SendRecord } from '../../bench/lib/load.js';
import { startBenchReceiver, type Arrival } from '../../bench/lib/receiver.js';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

const plan = (tag: string) =>
  planWorkload({ rate: 10, count: 4, chats: 2, longRatio: 0.5, longChars: 1200, maxMessageLength: 500, seed: 3, tag });
const shapeSettings = { audioBaseUrl: 'http://127.0.0.1:9', maxMessageLength: 500 };
const noCounts: FeatureCounts = { voiceNotesServed: 0, modelFailures: 0, handoffReplies: 0 };

test('--feature: each name parses, anything else is refused naming the choices', () => {
  for (const name of benchFeatures) assert.equal(parseFeature(name), name);
  assert.equal(parseFeature(undefined), undefined);
  assert.throws(() => parseFeature('voice'), /--feature must be one of voice-in, voice-out, .* got "voice"/);
});

test('--feature needs --no-baseline and the local stack; interim needs a model slower than its 1 s', () => {
  const ok = { baseline: false, url: null, modelLatencyMs: 500 };
  assert.equal(featureConflict('voice-in', ok), undefined);
  assert.match(featureConflict('handoff', { ...ok, baseline: true }) ?? '', /needs --no-baseline/);
  assert.match(featureConflict('model-retry', { ...ok, url: 'http://x' }) ?? '', /needs the local stack/);
  assert.match(featureConflict('interim', ok) ?? '', /--model-latency-ms above 1000/);
  assert.equal(featureConflict('interim', { ...ok, modelLatencyMs: 1500 }), undefined);
});

test('each feature sets its agent and channel, and only its own', () => {
  assert.deepEqual(featureSettings(undefined), { agent: {}, channel: {} });
  assert.deepEqual(featureSettings('interim').agent, { interim_after_seconds: 1 });
  assert.deepEqual(featureSettings('handoff').agent, { handoff_text: HANDOFF_TEXT });
  assert.deepEqual(featureSettings('voice-out').channel, { voice_replies: 'always' });
  for (const name of ['voice-in', 'model-retry', 'receiver-retry'] as const)
    assert.deepEqual(featureSettings(name), { agent: {}, channel: {} });
  assert.equal(oneChatPerMessage('handoff'), true);
  assert.equal(oneChatPerMessage('interim'), false);
});

test('messages: a voice note instead of text, a request for the handoff, a text unique to its phase', () => {
  const [first] = plan('p');
  assert.ok(first);
  const voice = featureMessage(first, 'voice-in', shapeSettings);
  assert.equal(voice.audio, 'http://127.0.0.1:9/voice-note.ogg?m=0');
  assert.equal(voice.expectedParts, 1);
  const handoff = featureMessage(first, 'handoff', shapeSettings);
  assert.ok(handoff.text.endsWith(HANDOFF_REQUEST));
  assert.equal(handoff.expectedParts, 1);
  // The proxy fails a message's first request by its text: the warm-up's must not equal the phase's.
  const warm = plan('warm').map((message) => featureMessage(message, 'model-retry', shapeSettings));
  const phase = plan('phase').map((message) => featureMessage(message, 'model-retry', shapeSettings));
  for (const [index, message] of phase.entries()) assert.notEqual(message.text, warm[index]?.text);
  const long = phase.find((message) => message.long);
  assert.ok(long && long.expectedParts > 1, 'a long message still splits');
  assert.equal(featureMessage(first, 'interim', shapeSettings), first);
  // Only the receiver's retry waits on purpose: the schedule's first wait.
  assert.equal(featureWaitSeconds('receiver-retry', {}), 5);
  assert.equal(featureWaitSeconds('receiver-retry', { DELIVERY_RETRY_SCHEDULE: '2,60' }), 2);
  assert.equal(featureWaitSeconds('interim', {}), 0);
});

const postPart = (url: string, webhookId: string, part: string, text: string, audio = '') =>
  fetch(url, {
    method: 'POST',
    headers: { 'webhook-id': webhookId, 'x-chatrelay-part': part, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ text, audio }).toString(),
  });

test('the receiver refuses the first attempt of the parts named, once, and serves the voice note', async () => {
  const receiver = await startBenchReceiver({ refuseFirst: (id) => id.endsWith('.0') });
  closers.push(() => receiver.close());
  const url = `${receiver.baseUrl}/chatrelay`;
  assert.equal((await postPart(url, 'msg_a.0', '1/2', 'x')).status, 503);
  assert.equal((await postPart(url, 'msg_a.0', '1/2', 'x')).status, 200);
  assert.equal((await postPart(url, 'msg_a.1', '2/2', 'y', 'http://m/1')).status, 200);
  assert.deepEqual(
    receiver.on('/chatrelay').map((arrival) => [arrival.webhookId, arrival.status, arrival.audio]),
    [
      ['msg_a.0', 503, false],
      ['msg_a.0', 200, false],
      ['msg_a.1', 200, true],
    ],
  );
  const note = await fetch(`${receiver.baseUrl}/voice-note.ogg?m=1`);
  assert.equal(note.headers.get('content-type'), 'audio/ogg');
  assert.equal(sniffAudioFormat(new Uint8Array(await note.arrayBuffer())), 'ogg', 'the worker takes it for audio');
  assert.equal(receiver.voiceNotesServed(), 1);
});

test('the flaky model fails each message once with a 500, then answers through the model', async () => {
  const model = await startDemoModel();
  closers.push(() => model.close());
  const flaky = await startFlakyModel(model.baseURL);
  closers.push(() => flaky.close());
  const client = new OpenAI({ apiKey: 'bench', baseURL: flaky.baseURL, maxRetries: 0 });
  const ask = (text: string) =>
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] });
  await assert.rejects(ask('one'), (error: unknown) => error instanceof OpenAI.APIError && error.status === 500);
  assert.equal((await ask('one')).choices[0]?.message.content, 'Echo: one');
  assert.equal((await ask('one')).choices[0]?.message.content, 'Echo: one');
  await assert.rejects(ask('two'), (error: unknown) => error instanceof OpenAI.APIError && error.status === 500);
  assert.equal(flaky.failures(), 2);
  const speech = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hi' });
  assert.equal(Buffer.from(await speech.arrayBuffer()).toString('utf8'), 'FAKEAUDIO:hi', 'other endpoints pass');
});

const arrival = (webhookId: string, part: string, at: number, extra: Partial<Arrival> = {}): Arrival => ({
  path: '/chatrelay',
  webhookId,
  part,
  at,
  textLength: 5,
  status: 200,
  audio: false,
  ...extra,
});

test('analysis: interim parts and refused attempts are counted apart, neither unexpected nor duplicated', () => {
  const [message] = plan('a');
  assert.ok(message);
  const single = { ...message, expectedParts: 1 };
  const sends: SendRecord[] = [
    { planned: single, scheduledAt: 0, sentAt: 0, ackAt: 5, status: 200, messageId: 'msg_1' },
  ];
  const figures = analyze(
    sends,
    [
      arrival('msg_1.interim', 'interim', 1000),
      arrival('msg_1.0', '1/1', 1500, { status: 503 }),
      arrival('msg_1.0', '1/1', 6500, { audio: true }),
    ],
    { modelLatencyMs: 500, replyDelaySeconds: 5 },
  );
  assert.equal(figures.replies.interimParts, 1);
  assert.equal(figures.replies.refusedDeliveries, 1);
  assert.equal(figures.replies.unexpectedParts, 0);
  assert.equal(figures.replies.duplicateParts, 0);
  assert.equal(figures.replies.receivedParts, 1);
  assert.equal(figures.replies.partsWithAudio, 1);
  assert.equal(figures.endToEndMs.max, 6500, 'the part counts when accepted, not when refused');
  assert.equal(featureShortfall('interim', figures.replies, noCounts), undefined);
  assert.equal(featureShortfall('receiver-retry', figures.replies, noCounts), undefined);
  assert.equal(featureShortfall('voice-out', figures.replies, noCounts), undefined);
  // A run where the feature did not happen says so.
  const plain = analyze(sends, [arrival('msg_1.0', '1/1', 700)], { modelLatencyMs: 500, replyDelaySeconds: 0 });
  assert.match(featureShortfall('interim', plain.replies, noCounts) ?? '', /0 interim parts, expected 1/);
  assert.match(featureShortfall('model-retry', plain.replies, noCounts) ?? '', /0 model requests failed/);
  assert.match(featureShortfall('handoff', plain.replies, noCounts) ?? '', /0 replies of the handoff text/);
  // A phase waits for a refused part's retry: only an accepted attempt delivers it.
  assert.equal(deliversPart(arrival('msg_1.0', '1/1', 1, { status: 503 }), '/chatrelay'), false);
  assert.equal(deliversPart(arrival('msg_1.0', '1/1', 1), '/chatrelay'), true);
  assert.equal(deliversPart(arrival('msg_1.0', '1/1', 1), '/baseline'), false);
  assert.equal(handoffReplies([arrival('msg_1.0', '1/1', 1, { textLength: HANDOFF_TEXT.length })]), 1);
});
