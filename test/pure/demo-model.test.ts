import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import OpenAI, { toFile } from 'openai';
import { startDemoModel, type DemoModel, type RecordedFile } from '../../src/demo-model/server.js';

const IMAGE = { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };

function client(fake: DemoModel, options: { maxRetries?: number; timeout?: number; apiKey?: string } = {}): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? 'sk-test',
    baseURL: fake.baseURL,
    maxRetries: options.maxRetries ?? 0,
    timeout: options.timeout ?? 10_000,
  });
}

/** Runs `fn`, which must reject, and returns the error so its fields can be asserted. */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected the call to fail');
}

function asFile(value: unknown): RecordedFile {
  assert.ok(typeof value === 'object' && value !== null && 'bytes' in value, 'expected an uploaded file');
  return value as RecordedFile;
}

describe('fake OpenAI server with the real SDK', () => {
  let fake: DemoModel;
  let ai: OpenAI;

  before(async () => {
    fake = await startDemoModel();
    ai = client(fake);
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
  });

  test('baseURL is a loopback /v1 URL on the chosen port', () => {
    assert.match(fake.baseURL, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.ok(fake.port > 0);
    assert.ok(fake.baseURL.endsWith(`:${fake.port}/v1`));
  });

  describe('chat completions', () => {
    test('echoes the last user message and records what the model saw', async () => {
      const completion = await ai.chat.completions.create({
        model: 'gpt-test-mini',
        temperature: 0.3,
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'first question' },
          { role: 'assistant', content: 'first answer' },
          { role: 'user', content: 'second question' },
        ],
      });
      assert.equal(completion.choices[0]?.message.content, 'Echo: second question');
      assert.equal(completion.choices[0]?.finish_reason, 'stop');
      assert.equal(completion.object, 'chat.completion');
      assert.equal(completion.model, 'gpt-test-mini');
      assert.ok(
        completion.usage &&
          completion.usage.total_tokens === completion.usage.prompt_tokens + completion.usage.completion_tokens,
      );
      assert.ok(completion.usage.prompt_tokens > 0);

      assert.equal(fake.requests.length, 1);
      const seen = fake.requests[0];
      assert.ok(seen);
      assert.equal(seen.method, 'POST');
      assert.equal(seen.path, '/v1/chat/completions');
      assert.equal(seen.endpoint, 'chat');
      assert.equal(seen.headers['authorization'], 'Bearer sk-test');
      assert.equal(seen.json?.['model'], 'gpt-test-mini');
      assert.equal(seen.json?.['temperature'], 0.3);
      assert.deepEqual(seen.json?.['messages'], [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: 'second question' },
      ]);
    });

    test('content parts: text parts are joined and image parts counted', async () => {
      const one = await ai.chat.completions.create({
        model: 'gpt-test',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'what is' }, IMAGE, { type: 'text', text: 'this?' }] },
        ],
      });
      assert.equal(one.choices[0]?.message.content, 'Echo: what is this? (+1 image)');

      const two = await ai.chat.completions.create({
        model: 'gpt-test',
        messages: [{ role: 'user', content: [IMAGE, { type: 'text', text: 'compare' }, IMAGE] }],
      });
      assert.equal(two.choices[0]?.message.content, 'Echo: compare (+2 images)');
      assert.deepEqual(fake.requestsTo('chat')[1]?.json?.['messages'], [
        { role: 'user', content: [IMAGE, { type: 'text', text: 'compare' }, IMAGE] },
      ]);
    });

    test('replyNext answers once with the exact text, then the echo returns', async () => {
      fake.replyNext('scripted answer');
      const messages = [{ role: 'user' as const, content: 'hi' }];
      const first = await ai.chat.completions.create({ model: 'm', messages });
      const second = await ai.chat.completions.create({ model: 'm', messages });
      assert.equal(first.choices[0]?.message.content, 'scripted answer');
      assert.equal(second.choices[0]?.message.content, 'Echo: hi');
      assert.notEqual(first.id, second.id);
    });

    test('setReply computes answers from the request until cleared', async () => {
      fake.setReply((body) => {
        const system = body.messages.find((m) => m.role === 'system');
        return `system was: ${typeof system?.content === 'string' ? system.content : '(none)'}`;
      });
      const messages = [
        { role: 'system' as const, content: 'be kind' },
        { role: 'user' as const, content: 'hello' },
      ];
      const custom = await ai.chat.completions.create({ model: 'm', messages });
      assert.equal(custom.choices[0]?.message.content, 'system was: be kind');
      fake.setReply(null);
      const echoed = await ai.chat.completions.create({ model: 'm', messages });
      assert.equal(echoed.choices[0]?.message.content, 'Echo: hello');
    });

    test('scripted 500 surfaces as InternalServerError without retries, then the next call succeeds', async () => {
      fake.failNext('chat', 1, 500);
      const error = await rejection(() =>
        ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      );
      assert.ok(error instanceof OpenAI.InternalServerError, `got ${String(error)}`);
      assert.equal(error.status, 500);
      assert.equal(error.type, 'server_error');
      assert.equal(fake.requests.length, 1);

      const ok = await ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(ok.choices[0]?.message.content, 'Echo: x');
      assert.equal(fake.requests.length, 2);
      assert.equal(fake.pendingSteps('chat'), 0);
    });

    test('the SDK retries scripted 500s by itself and gets the answer', async () => {
      // retry-after-ms: 0 keeps the SDK from backing off for seconds between attempts.
      fake.failNext('chat', 2, 500, { headers: { 'retry-after-ms': '0' } });
      const retrying = client(fake, { maxRetries: 2 });
      const ok = await retrying.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'again' }] });
      assert.equal(ok.choices[0]?.message.content, 'Echo: again');
      assert.equal(fake.requestsTo('chat').length, 3);
    });

    test('429 carries retry-after to the SDK, which honours it when retrying', async () => {
      fake.failNext('chat', 1, 429, { headers: { 'retry-after': '7' } });
      const error = await rejection(() =>
        ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      );
      assert.ok(error instanceof OpenAI.RateLimitError, `got ${String(error)}`);
      assert.equal(error.status, 429);
      assert.equal(error.code, 'rate_limit_exceeded');
      assert.equal(error.headers?.get('retry-after'), '7');

      fake.reset();
      fake.failNext('chat', 1, 429, { headers: { 'retry-after': '0.2' } });
      const ok = await client(fake, { maxRetries: 1 }).chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'y' }],
      });
      assert.equal(ok.choices[0]?.message.content, 'Echo: y');
      const [first, second] = fake.requestsTo('chat');
      assert.ok(first && second, 'expected a retry');
      // Only a lower bound: the SDK must have waited out retry-after before the second attempt.
      assert.ok(
        second.receivedAt - first.receivedAt >= 190,
        `retried after ${second.receivedAt - first.receivedAt} ms`,
      );
    });

    test('scripted 400 is not retried and keeps a custom message and code', async () => {
      fake.failNext('chat', 1, 400, { message: 'context too long', code: 'context_length_exceeded' });
      const error = await rejection(() =>
        client(fake, { maxRetries: 3 }).chat.completions.create({
          model: 'm',
          messages: [{ role: 'user', content: 'x' }],
        }),
      );
      assert.ok(error instanceof OpenAI.BadRequestError, `got ${String(error)}`);
      assert.equal(error.code, 'context_length_exceeded');
      assert.match(error.message, /context too long/);
      assert.equal(fake.requests.length, 1);
    });

    test('invalid bodies get a 400 like the real API', async () => {
      const error = await rejection(() => ai.chat.completions.create({ model: 'm', messages: [] }));
      assert.ok(error instanceof OpenAI.BadRequestError, `got ${String(error)}`);
      assert.equal(error.param, 'messages');
    });

    test('a delayed answer can time the client out; latency delays every answer', async () => {
      fake.delayNext('chat', 5_000);
      const impatient = client(fake, { timeout: 100 });
      const error = await rejection(() =>
        impatient.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      );
      assert.ok(error instanceof OpenAI.APIConnectionTimeoutError, `got ${String(error)}`);

      fake.setLatency(150);
      assert.equal(fake.latencyMs, 150);
      const started = Date.now();
      const ok = await ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'slow' }] });
      assert.equal(ok.choices[0]?.message.content, 'Echo: slow');
      assert.ok(Date.now() - started >= 140, `answered after ${Date.now() - started} ms`);
      fake.reset();
      assert.equal(fake.latencyMs, 0);
    });

    test('a hanging request is visible to waitForRequests and can be cancelled by the client', async () => {
      fake.hangNext('chat');
      const controller = new AbortController();
      const pending = ai.chat.completions.create(
        { model: 'm', messages: [{ role: 'user', content: 'wait' }] },
        { signal: controller.signal },
      );
      const arrived = await fake.waitForRequests(1, 'chat');
      assert.deepEqual(arrived[0]?.json?.['messages'], [{ role: 'user', content: 'wait' }]);
      assert.equal(fake.inFlight, 1);
      controller.abort();
      const error = await rejection(() => pending);
      assert.ok(error instanceof OpenAI.APIUserAbortError, `got ${String(error)}`);
    });
  });

  describe('audio transcriptions', () => {
    test('returns the text after TRANSCRIPT: and records the multipart fields', async () => {
      const result = await ai.audio.transcriptions.create({
        model: 'whisper-1',
        file: await toFile(Buffer.from('TRANSCRIPT:hello'), 'a.mp3'),
      });
      assert.equal(result.text, 'hello');

      const seen = fake.requestsTo('transcriptions')[0];
      assert.ok(seen);
      assert.equal(seen.path, '/v1/audio/transcriptions');
      assert.match(seen.headers['content-type'] ?? '', /^multipart\/form-data; boundary=/);
      assert.equal(seen.form?.['model'], 'whisper-1');
      const file = asFile(seen.form?.['file']);
      assert.equal(file.filename, 'a.mp3');
      assert.equal(file.size, 16);
      assert.equal(file.bytes.toString('utf8'), 'TRANSCRIPT:hello');
    });

    test('other bytes are reported by size; text response_format returns a string', async () => {
      const binary = Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x90]);
      const json = await ai.audio.transcriptions.create({ model: 'whisper-1', file: await toFile(binary, 'b.ogg') });
      assert.equal(json.text, 'transcribed 5 bytes');

      const text = await ai.audio.transcriptions.create({
        model: 'whisper-1',
        file: await toFile(Buffer.from('TRANSCRIPT:plain'), 'c.wav'),
        response_format: 'text',
      });
      assert.equal(text.trim(), 'plain');
      assert.equal(fake.requestsTo('transcriptions')[1]?.form?.['response_format'], 'text');
    });

    test('scripted failure and scripted transcript', async () => {
      fake.failNext('transcriptions', 1, 503);
      fake.replyNext('scripted words', 'transcriptions');
      const upload = async (): Promise<string> =>
        (await ai.audio.transcriptions.create({ model: 'whisper-1', file: await toFile(Buffer.from('x'), 'd.mp3') }))
          .text;
      const error = await rejection(upload);
      assert.ok(error instanceof OpenAI.APIError && error.status === 503, `got ${String(error)}`);
      assert.equal(await upload(), 'scripted words');
      assert.equal(await upload(), 'transcribed 1 bytes');
    });
  });

  describe('audio speech', () => {
    test('returns identifiable audio bytes as audio/mpeg and records the input', async () => {
      const response = await ai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hi there, ü' });
      assert.equal(response.headers.get('content-type'), 'audio/mpeg');
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.deepEqual(bytes, Buffer.from('FAKEAUDIO:hi there, ü', 'utf8'));

      const seen = fake.requestsTo('speech')[0];
      assert.equal(seen?.json?.['voice'], 'alloy');
      assert.equal(seen?.json?.['model'], 'tts-1');
      assert.equal(seen?.json?.['input'], 'hi there, ü');
    });

    test('response_format picks the content type; failures are scriptable', async () => {
      const opus = await ai.audio.speech.create({ model: 'tts-1', voice: 'nova', input: 'x', response_format: 'opus' });
      assert.equal(opus.headers.get('content-type'), 'audio/ogg');

      fake.failNext('speech', 1, 500, { message: 'tts exploded' });
      const error = await rejection(() => ai.audio.speech.create({ model: 'tts-1', voice: 'nova', input: 'x' }));
      assert.ok(error instanceof OpenAI.InternalServerError, `got ${String(error)}`);
      assert.match(error.message, /tts exploded/);
      // A failure on one endpoint must not consume another endpoint's script.
      fake.failNext('speech', 1, 500);
      const chat = await ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'ok' }] });
      assert.equal(chat.choices[0]?.message.content, 'Echo: ok');
      assert.equal(fake.pendingSteps('speech'), 1);
    });
  });

  describe('everything else', () => {
    test('a missing or empty required parameter is a 400 naming it, on every endpoint', async () => {
      const missing = async (call: () => Promise<unknown>, param: string) => {
        const error = await rejection(call);
        assert.ok(error instanceof OpenAI.BadRequestError, `got ${String(error)}`);
        assert.equal(error.param, param);
        assert.equal(error.message, `400 Missing required parameter: '${param}'.`);
      };
      const said = [{ role: 'user' as const, content: 'hi' }];
      await missing(() => ai.chat.completions.create({ model: '', messages: said }), 'model');
      const audio = async () => toFile(Buffer.from('TRANSCRIPT:hi'), 'a.mp3');
      await missing(async () => ai.audio.transcriptions.create({ model: '', file: await audio() }), 'model');
      await missing(() => ai.audio.speech.create({ model: '', voice: 'alloy', input: 'x' }), 'model');
      await missing(() => ai.audio.speech.create({ model: 'tts-1', voice: '', input: 'x' }), 'voice');
      await missing(() => ai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: '' }), 'input');
    });

    test('unknown paths get a 404 with an OpenAI error body', async () => {
      const error = await rejection(() => ai.models.list());
      assert.ok(error instanceof OpenAI.NotFoundError, `got ${String(error)}`);
      assert.equal(error.code, 'unknown_url');

      const raw = await fetch(`${fake.baseURL}/chat/completions`, { method: 'GET' });
      assert.equal(raw.status, 404);
      const body = (await raw.json()) as { error?: { message?: unknown; type?: unknown; code?: unknown } };
      assert.equal(typeof body.error?.message, 'string');
      assert.equal(body.error?.type, 'invalid_request_error');
      assert.equal(body.error?.code, 'unknown_url');
      assert.deepEqual(
        fake.requests.map((r) => [r.method, r.path, r.endpoint]),
        [
          ['GET', '/v1/models', null],
          ['GET', '/v1/chat/completions', null],
        ],
      );
    });

    test('reset forgets requests and unused scripts', async () => {
      fake.failNext('chat', 3, 500);
      await rejection(() => ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }));
      fake.reset();
      assert.equal(fake.requests.length, 0);
      assert.equal(fake.pendingSteps('chat'), 0);
      const ok = await ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'clean' }] });
      assert.equal(ok.choices[0]?.message.content, 'Echo: clean');
    });
  });
});

describe('fake OpenAI server lifecycle', () => {
  test('apiKey option rejects other keys with a 401', async () => {
    const fake = await startDemoModel({ apiKey: 'sk-right' });
    try {
      const error = await rejection(() =>
        client(fake, { apiKey: 'sk-wrong' }).chat.completions.create({
          model: 'm',
          messages: [{ role: 'user', content: 'x' }],
        }),
      );
      assert.ok(error instanceof OpenAI.AuthenticationError, `got ${String(error)}`);
      const ok = await client(fake, { apiKey: 'sk-right' }).chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
      });
      assert.equal(ok.choices[0]?.message.content, 'Echo: x');
    } finally {
      await fake.close();
    }
  });

  test('close ends keep-alive sockets and hanging requests, and rejects waiters', async () => {
    const fake = await startDemoModel({ latencyMs: 0 });
    const ai = client(fake);
    await ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'warm' }] });
    fake.hangNext('chat');
    const hanging = ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'never' }] });
    await fake.waitForRequests(2, 'chat');
    // Observe both outcomes before closing, so their rejections are never unhandled.
    const waiterRejected = assert.rejects(fake.waitForRequests(99), /closed/);
    const hangingError = rejection(() => hanging);
    await fake.close();
    const error = await hangingError;
    assert.ok(error instanceof OpenAI.APIConnectionError, `got ${String(error)}`);
    await waiterRejected;
    await assert.rejects(fetch(`${fake.baseURL}/chat/completions`, { method: 'POST' }));
    await fake.close(); // idempotent
  });

  test('the CLI prints its baseURL, serves the SDK and exits 0 on SIGTERM', async () => {
    const main = fileURLToPath(new URL('../../src/demo-model/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: { ...process.env, PORT: '0', DEMO_MODEL_LATENCY_MS: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    try {
      const lines = createInterface({ input: child.stdout });
      const [firstLine] = (await once(lines, 'line')) as [string];
      lines.close();
      const { baseURL } = JSON.parse(firstLine) as { baseURL: string };
      assert.match(baseURL, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const ai = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0 });
      const ok = await ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'from cli' }] });
      assert.equal(ok.choices[0]?.message.content, 'Echo: from cli');
    } finally {
      child.kill('SIGTERM');
    }
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, null);
    assert.equal(code, 0);
  });
});
