import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import OpenAI, { toFile } from 'openai';
import { startDemoModel, type DemoModel } from '../../src/demo-model/server.js';

const IMAGE = { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };
const HANDOFF_TOOL = {
  type: 'function' as const,
  function: { name: 'handoff_to_human', parameters: { type: 'object', properties: {} } },
};

function client(model: DemoModel, options: { maxRetries?: number; timeout?: number; apiKey?: string } = {}): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? 'sk-test',
    baseURL: model.baseURL,
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

describe('the demo model (the echo model of the local stack) with the real SDK', () => {
  let model: DemoModel;
  let ai: OpenAI;

  before(async () => {
    model = await startDemoModel();
    ai = client(model);
  });
  after(async () => {
    await model.close();
  });

  test('baseURL is a loopback /v1 URL on the chosen port; nothing to script or record', () => {
    assert.match(model.baseURL, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.ok(model.port > 0);
    assert.ok(model.baseURL.endsWith(`:${model.port}/v1`));
    // The test hooks live in the tests' fake (test/helpers/fake-model.ts), not in the product.
    assert.deepEqual(Object.keys(model).sort(), ['baseURL', 'close', 'port']);
  });

  describe('chat completions', () => {
    test('echoes the last user message', async () => {
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
      const again = await ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      assert.notEqual(again.id, completion.id);
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
    });

    test('#call:<tool> calls that function tool when the request offers it, and is echoed otherwise', async () => {
      const messages = [{ role: 'user' as const, content: 'a person please #call:handoff_to_human' }];
      const called = await ai.chat.completions.create({ model: 'm', messages, tools: [HANDOFF_TOOL] });
      assert.equal(called.choices[0]?.finish_reason, 'tool_calls');
      const call = called.choices[0]?.message.tool_calls?.[0];
      assert.equal(call?.type === 'function' ? call.function.name : undefined, 'handoff_to_human');
      assert.equal(call?.type === 'function' ? call.function.arguments : undefined, '{}');

      const echoed = await ai.chat.completions.create({ model: 'm', messages });
      assert.equal(echoed.choices[0]?.message.content, 'Echo: a person please #call:handoff_to_human');
    });

    test('invalid bodies get a 400 like the real API', async () => {
      const empty = await rejection(() => ai.chat.completions.create({ model: 'm', messages: [] }));
      assert.ok(empty instanceof OpenAI.BadRequestError, `got ${String(empty)}`);
      assert.equal(empty.param, 'messages');

      const streamed = await rejection(() =>
        ai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }),
      );
      assert.ok(streamed instanceof OpenAI.BadRequestError, `got ${String(streamed)}`);
      assert.equal(streamed.param, 'stream');

      const raw = await fetch(`${model.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{not json',
      });
      assert.equal(raw.status, 400);
    });
  });

  describe('audio transcriptions', () => {
    test('reports the upload by size, whatever it holds; text response_format returns a string', async () => {
      const json = await ai.audio.transcriptions.create({
        model: 'whisper-1',
        file: await toFile(Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x90]), 'b.ogg'),
      });
      assert.equal(json.text, 'transcribed 5 bytes');
      // The tests' fake reads a transcript out of such bytes; the product has no such script.
      const scripted = await ai.audio.transcriptions.create({
        model: 'whisper-1',
        file: await toFile(Buffer.from('OggSTRANSCRIPT:hello'), 'a.ogg'),
      });
      assert.equal(scripted.text, 'transcribed 20 bytes');

      const text = await ai.audio.transcriptions.create({
        model: 'whisper-1',
        file: await toFile(Buffer.from('abc'), 'c.wav'),
        response_format: 'text',
      });
      assert.equal(text.trim(), 'transcribed 3 bytes');
    });

    test('a request without a file is a 400 naming it', async () => {
      const form = new FormData();
      form.set('model', 'whisper-1');
      const raw = await fetch(`${model.baseURL}/audio/transcriptions`, { method: 'POST', body: form });
      assert.equal(raw.status, 400);
      const body = (await raw.json()) as { error?: { param?: unknown } };
      assert.equal(body.error?.param, 'file');
    });
  });

  describe('audio speech', () => {
    test('returns identifiable audio bytes as audio/mpeg', async () => {
      const response = await ai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hi there, ü' });
      assert.equal(response.headers.get('content-type'), 'audio/mpeg');
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.deepEqual(bytes, Buffer.from('FAKEAUDIO:hi there, ü', 'utf8'));
    });

    test('response_format picks the content type; an unknown one is a 400', async () => {
      const opus = await ai.audio.speech.create({ model: 'tts-1', voice: 'nova', input: 'x', response_format: 'opus' });
      assert.equal(opus.headers.get('content-type'), 'audio/ogg');
      const raw = await fetch(`${model.baseURL}/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tts-1', voice: 'nova', input: 'x', response_format: 'midi' }),
      });
      assert.equal(raw.status, 400);
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
      const audio = async () => toFile(Buffer.from('hi'), 'a.mp3');
      await missing(async () => ai.audio.transcriptions.create({ model: '', file: await audio() }), 'model');
      await missing(() => ai.audio.speech.create({ model: '', voice: 'alloy', input: 'x' }), 'model');
      await missing(() => ai.audio.speech.create({ model: 'tts-1', voice: '', input: 'x' }), 'voice');
      await missing(() => ai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: '' }), 'input');
    });

    test('unknown paths get a 404 with an OpenAI error body', async () => {
      const error = await rejection(() => ai.models.list());
      assert.ok(error instanceof OpenAI.NotFoundError, `got ${String(error)}`);
      assert.equal(error.code, 'unknown_url');

      const raw = await fetch(`${model.baseURL}/chat/completions`, { method: 'GET' });
      assert.equal(raw.status, 404);
      const body = (await raw.json()) as { error?: { message?: unknown; type?: unknown; code?: unknown } };
      assert.equal(typeof body.error?.message, 'string');
      assert.equal(body.error?.type, 'invalid_request_error');
      assert.equal(body.error?.code, 'unknown_url');
    });
  });
});

describe("the demo model's options and lifecycle", () => {
  test('apiKey option rejects other keys with a 401', async () => {
    const model = await startDemoModel({ apiKey: 'sk-right' });
    try {
      const error = await rejection(() =>
        client(model, { apiKey: 'sk-wrong' }).chat.completions.create({
          model: 'm',
          messages: [{ role: 'user', content: 'x' }],
        }),
      );
      assert.ok(error instanceof OpenAI.AuthenticationError, `got ${String(error)}`);
      const ok = await client(model, { apiKey: 'sk-right' }).chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
      });
      assert.equal(ok.choices[0]?.message.content, 'Echo: x');
    } finally {
      await model.close();
    }
  });

  test('latencyMs delays every answer, so a client with a shorter timeout gives up', async () => {
    const model = await startDemoModel({ latencyMs: 300 });
    try {
      const started = Date.now();
      const ok = await client(model).chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'slow' }],
      });
      assert.equal(ok.choices[0]?.message.content, 'Echo: slow');
      assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms`);
      const error = await rejection(() =>
        client(model, { timeout: 50 }).chat.completions.create({
          model: 'm',
          messages: [{ role: 'user', content: 'x' }],
        }),
      );
      assert.ok(error instanceof OpenAI.APIConnectionTimeoutError, `got ${String(error)}`);
    } finally {
      await model.close();
    }
  });

  test('close ends requests still waiting for their answer, and their timers', async () => {
    const model = await startDemoModel({ latencyMs: 60_000 });
    const waiting = request(`${model.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    const failed = new Promise<Error>((resolve, reject) => {
      waiting.once('error', resolve);
      waiting.once('response', () => reject(new Error('a waiting request was answered')));
    });
    waiting.end(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'never' }] }));
    await once(waiting, 'finish');
    // Unknown paths are answered at once: the answer to a later connection shows the first was taken.
    assert.equal((await fetch(`${model.baseURL}/models`)).status, 404);
    await model.close();
    assert.match((await failed).message, /socket hang up|ECONNRESET/);
    await assert.rejects(fetch(`${model.baseURL}/chat/completions`, { method: 'POST' }));
    await model.close(); // idempotent
    // A timer of the waiting answer left running would keep this file's process alive for a minute.
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
