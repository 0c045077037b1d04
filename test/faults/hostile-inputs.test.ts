import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { agentDefaults } from '../../src/domain/models.js';
import { waitFor } from '../../src/lib/wait.js';
import { type ProcessStack } from '../helpers/process-stack.js';
import { startStack } from '../helpers/stack.js';
import {
  accepted,
  assertAnsweredOnce,
  assertSigned,
  newChannel,
  report,
  sendMessages,
  type TestChannel,
} from './support.js';

/**
 * Bad and hostile inputs against the real API and worker processes, configured as in production
 * (FETCH_ALLOW_PRIVATE=false): each is refused with the documented status, or accepted and then
 * recorded as failed with a reason; none is answered twice, none crashes or bloats a process, and
 * the stack keeps answering good messages afterwards. (The HTTP contract itself is unit tested in
 * test/api/webhook.test.ts and the fetcher's SSRF rules in test/pure/safe-fetch.test.ts.)
 */

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return -1;
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : -1;
}

describe('faults: hostile and malformed inputs on the real stack', () => {
  let stack: ProcessStack;
  let channel: TestChannel;
  const base = (): Record<string, unknown> => ({
    client_id: 'hostile-client',
    page_id: channel.pageId,
    platform: 'CustomApp',
    text: 'hello',
  });

  async function raw(
    body: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; code?: string; ms: number }> {
    const started = Date.now();
    const response = await fetch(`${stack.apiUrl}/webhook/mychatbot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${channel.token}`, ...headers },
      body,
    });
    const text = await response.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = `not JSON: ${text.slice(0, 80)}`;
    }
    return { status: response.status, ...(code !== undefined ? { code } : {}), ms: Date.now() - started };
  }

  before(async () => {
    stack = await startStack({ processes: true, env: { FETCH_ALLOW_PRIVATE: 'false' } });
    channel = await newChannel(stack);
  });
  after(async () => {
    await stack?.close();
  });

  test('malformed, oversized and unauthenticated requests get their 4xx, quickly, and are never answered', async () => {
    const cases: Array<{
      name: string;
      send: () => Promise<{ status: number; code?: string; ms: number }>;
      status: number;
      code: string;
    }> = [
      { name: 'not JSON', send: () => raw('{"client_id": '), status: 400, code: 'invalid_json' },
      { name: 'a JSON array', send: () => raw('[1,2,3]'), status: 400, code: 'invalid_request' },
      {
        name: 'JSON nested 100 000 deep',
        send: () => raw('['.repeat(100_000) + ']'.repeat(100_000)),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'form-encoded body',
        send: () => raw('text=hi', { 'content-type': 'application/x-www-form-urlencoded' }),
        status: 415,
        code: 'unsupported_media_type',
      },
      {
        name: 'a 5 MB body',
        send: () => raw(JSON.stringify({ ...base(), text: 'x'.repeat(5_000_000) })),
        status: 413,
        code: 'payload_too_large',
      },
      {
        name: 'text over MAX_TEXT_LENGTH',
        send: () => raw(JSON.stringify({ ...base(), text: 'x'.repeat(16_001) })),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'blank text',
        send: () => raw(JSON.stringify({ ...base(), text: ' \n\t ' })),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: '11 attachments',
        send: () =>
          raw(
            JSON.stringify({
              ...base(),
              attachments: Array.from({ length: 11 }, (_, i) => `https://example.com/${i}.png`),
            }),
          ),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'a 3000-character URL',
        send: () => raw(JSON.stringify({ ...base(), attachments: [`https://example.com/${'a'.repeat(3000)}`] })),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'a javascript: attachment',
        send: () => raw(JSON.stringify({ ...base(), attachments: ['javascript:alert(1)'] })),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'a file: voice note',
        send: () => raw(JSON.stringify({ ...base(), text: undefined, audio: 'file:///etc/passwd' })),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'no token',
        send: () => raw(JSON.stringify(base()), { authorization: '' }),
        status: 401,
        code: 'unauthorized',
      },
      {
        name: 'a wrong token',
        send: () => raw(JSON.stringify(base()), { authorization: 'Bearer crt_wrong' }),
        status: 401,
        code: 'unauthorized',
      },
      {
        name: 'a 100 kB token',
        send: () => raw(JSON.stringify(base()), { authorization: `Bearer ${'t'.repeat(100_000)}` }),
        status: 431,
        code: 'not JSON: ',
      },
      {
        name: 'an unknown page id',
        send: () => raw(JSON.stringify({ ...base(), page_id: 'no-such-page' })),
        status: 401,
        code: 'unauthorized',
      },
    ];
    const results: Record<string, number> = {};
    for (const item of cases) {
      const result = await item.send();
      assert.equal(result.status, item.status, `${item.name}: ${JSON.stringify(result)}`);
      assert.ok(result.code?.startsWith(item.code), `${item.name}: ${JSON.stringify(result)}`);
      results[item.name] = result.ms;
    }
    // A flood of oversized bodies: refused without the API holding them in memory.
    const rssBefore = rssMb(stack.api.pid);
    const flood = await Promise.all(
      Array.from({ length: 20 }, () => raw(JSON.stringify({ ...base(), text: 'y'.repeat(5_000_000) }))),
    );
    assert.ok(flood.every((result) => result.status === 413));
    const rssAfter = rssMb(stack.api.pid);
    // A token of another channel does not open this one.
    const other = await newChannel(stack);
    assert.equal((await raw(JSON.stringify(base()), { authorization: `Bearer ${other.token}` })).status, 401);

    assert.ok(stack.api.running && stack.worker.running);
    assert.equal((await fetch(`${stack.apiUrl}/readyz`)).status, 200);
    assert.equal(stack.receiver.postsTo(channel.replyPath).length, 0, 'nothing refused was answered');
    report('hostile-http', {
      slowestRefusalMs: Math.max(...Object.values(results)),
      apiRssBeforeFloodMb: rssBefore,
      apiRssAfter100MbOfRefusedBodiesMb: rssAfter,
    });
  });

  test('odd but valid content is accepted and answered once, byte for byte', async () => {
    const texts = [
      'NUL \u0000 and bell \u0007 characters',
      'right-to-left override \u202E gnp.exe and zero-width \u200B joiner',
      'emoji 👩‍👩‍👧 and astral 𝕏 and combining é',
      '<script>alert(1)</script> & "quotes" \' %0d%0a Set-Cookie: x=1',
      'line\r\nX-Injected: yes\r\n\r\nbody',
    ];
    // Own "__proto__" and "constructor" keys, as JSON.parse makes them: ignored like any unknown field.
    const pollution = JSON.parse(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    ) as Record<string, unknown>;
    const sent = await Promise.all(
      texts.map(async (text, index) => {
        const clientId = `odd-${index}\r\nX-Evil: 1`;
        const result = await stack.postMessage(channel.token, {
          ...pollution,
          client_id: clientId,
          page_id: channel.pageId,
          platform: 'Custom\u0000App',
          text,
        });
        return {
          text,
          clientId,
          result,
          ...(result.status === 200 ? { messageId: String(result.body.message_id) } : {}),
        };
      }),
    );
    assert.equal(accepted(sent).length, texts.length, JSON.stringify(sent.map((item) => item.result)));
    await assertAnsweredOnce(stack, channel, sent, { timeoutMs: 60_000 });
    for (const post of stack.receiver.delivered(channel.replyPath)) assert.equal(post.headers['x-evil'], undefined);
  });

  test('voice notes at private, loopback and metadata addresses are refused: failed with a reason, the fallback reply sent, once', async () => {
    const target = await newChannel(stack);
    const urls = [
      `${stack.receiver.baseUrl}/note.ogg`,
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://localhost/note.ogg',
      'http://10.0.0.1/note.ogg',
    ];
    // Hosts written as a bare integer or an IPv6 literal are not accepted as URLs at all: 400.
    for (const audio of ['http://2130706433/note.ogg', 'http://[::ffff:127.0.0.1]/note.ogg']) {
      const refused = await stack.postMessage(target.token, {
        client_id: 'voice-odd-host',
        page_id: target.pageId,
        platform: 'CustomApp',
        audio,
      });
      assert.equal(refused.status, 400, JSON.stringify(refused));
    }
    const results = await Promise.all(
      urls.map((audio, index) =>
        stack.postMessage(target.token, {
          client_id: `voice-${index}`,
          page_id: target.pageId,
          platform: 'CustomApp',
          audio,
        }),
      ),
    );
    const ids = results.map((result) => {
      assert.equal(result.status, 200, JSON.stringify(result));
      return String(result.body.message_id);
    });
    const startedAt = Date.now();
    const records = await stack.settled(ids, 60_000);
    for (const record of records) {
      assert.equal(record.status, 'failed', record._id);
      assert.match(record.reason ?? '', /voice message could not be fetched: Refusing/);
    }
    const delivered = await waitFor(
      () =>
        stack.receiver.delivered(target.replyPath).length >= ids.length
          ? stack.receiver.delivered(target.replyPath)
          : undefined,
      {
        timeoutMs: 30_000,
        what: 'the fallback replies',
      },
    );
    assert.equal(delivered.length, ids.length, 'one reply each');
    assert.deepEqual(new Set(delivered.map((post) => post.webhookId)), new Set(ids.map((id) => `${id}.0`)));
    for (const post of delivered) {
      assert.equal(post.fields.text, agentDefaults.fallback_reply);
      assertSigned(post, target.signingSecret);
    }
    // Nothing was fetched from the receiver (the loopback target) and the model heard nothing.
    assert.equal(stack.receiver.posts.filter((post) => post.path === '/note.ogg').length, 0);
    assert.equal(stack.fake.requestsTo('transcriptions').length, 0);
    report('hostile-voice-urls', { refused: ids.length, allFailedWithReasonMs: Date.now() - startedAt });
  });

  test('a worker with the wrong SECRETS_ENCRYPTION_KEY refuses to start, naming it; messages wait and go out once the right worker runs', async () => {
    const target = await newChannel(stack);
    await stack.worker.kill('SIGTERM');
    const sent = await sendMessages(stack, target, 1, { label: 'wrong-key' });
    assert.ok(accepted(sent)[0], 'the API accepts while no worker runs');
    const from = stack.worker.output.length;
    await assert.rejects(
      stack.worker.start({ SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64url') }),
      /exited \(78\)/,
    );
    assert.ok(
      stack.worker.output
        .slice(from)
        .some((line) => line.includes('SECRETS_ENCRYPTION_KEY does not open the signing secrets')),
      'the worker says which variable is wrong',
    );
    assert.equal(stack.receiver.postsTo(target.replyPath).length, 0, 'nothing went out');
    const fixedAt = Date.now();
    await stack.worker.start();
    const result = await assertAnsweredOnce(stack, target, sent, { timeoutMs: 90_000 });
    report('wrong-encryption-key', { deliveredAfterFixMs: result.settledAt - fixedAt });
  });

  test('after all that, a plain message is answered as usual', async () => {
    const fresh = await newChannel(stack);
    const sent = await sendMessages(stack, fresh, 1, { label: 'after-hostile' });
    await assertAnsweredOnce(stack, fresh, sent, { timeoutMs: 30_000 });
  });

  test('no secret reaches a log line of the API or the worker (at info level, after all of the above)', () => {
    const secrets = {
      'a channel API token': channel.token,
      'a signing secret': channel.signingSecret,
      'the signing secret without its prefix': channel.signingSecret.replace(/^whsec_/, ''),
      ADMIN_TOKEN: stack.env.ADMIN_TOKEN ?? '',
      OPENAI_API_KEY: stack.env.OPENAI_API_KEY ?? '',
      SECRETS_ENCRYPTION_KEY: stack.env.SECRETS_ENCRYPTION_KEY ?? '',
    };
    const lines = [...stack.api.output, ...stack.worker.output];
    assert.ok(lines.length > 20, `${lines.length} log lines`);
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(secret.length >= 16, name);
      const leaks = lines.filter((line) => line.includes(secret));
      assert.deepEqual(leaks, [], `${name} in the logs`);
    }
  });
});
