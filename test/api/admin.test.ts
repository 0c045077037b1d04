import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { adminRoutes } from '../../src/api/routes/admin.js';
import { createChannelAuthenticator } from '../../src/api/channel-auth.js';
import {
  agentListResponseSchema,
  agentResponseSchema,
  channelListResponseSchema,
  channelResponseSchema,
  channelWithSigningSecretResponseSchema,
  channelWithTokenResponseSchema,
  createdChannelResponseSchema,
  errorResponseSchema,
} from '../../src/api/contracts/admin.js';
import { agentDefaults, channelDefaults } from '../../src/domain/models.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import {
  ADMIN_TOKEN,
  call,
  sendMessage,
  startAdminApp,
  type AdminApp,
  type JsonResponse,
} from '../helpers/admin-app.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

/** Parses with the documented schema, refusing any field it does not name (e.g. a token hash). */
function exactly<T extends z.ZodObject>(schema: T, value: unknown): z.infer<T> {
  return z.strictObject(schema.shape).parse(value) as z.infer<T>;
}

function detailsOf(response: JsonResponse): { path: string; message: string }[] {
  assert.equal(response.status, 400, response.text);
  const body = errorResponseSchema.parse(response.body);
  assert.equal(body.error.code, 'invalid_request');
  return body.error.details ?? [];
}

function assertFieldError(response: JsonResponse, path: string, message: string | RegExp): void {
  const details = detailsOf(response);
  const found = details.find((detail) => detail.path === path);
  assert.ok(found, `expected an error for ${path}, got ${JSON.stringify(details)}`);
  if (typeof message === 'string') assert.equal(found.message, message);
  else assert.match(found.message, message);
}

/** A valid body naming an agent that does not exist: 404, with the field that names it. */
function assertUnknownAgent(response: JsonResponse): void {
  assert.equal(response.status, 404, response.text);
  const body = errorResponseSchema.parse(response.body);
  assert.equal(body.error.code, 'not_found');
  assert.deepEqual(body.error.details, [{ path: 'agent_id', message: 'no agent has the id "agt_nobody"' }]);
}

describe('admin API', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let app: AdminApp;
  let base: string;
  let counter = 0;
  const replyUrl = 'http://127.0.0.1:9/replies';

  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
    app = await startAdminApp(stores);
    base = app.base;
  });
  after(async () => {
    await app?.close();
    await mongo?.close();
  });

  const newAgent = async (fields: Record<string, unknown> = {}) => {
    counter += 1;
    const response = await call(base, 'POST', '/v1/agents', {
      body: { name: `agent ${counter}`, system_prompt: 'Be brief.', ...fields },
    });
    assert.equal(response.status, 201, response.text);
    return exactly(agentResponseSchema, response.body);
  };
  const newChannel = async (fields: Record<string, unknown> = {}) => {
    counter += 1;
    const agentId = typeof fields.agent_id === 'string' ? fields.agent_id : (await newAgent()).id;
    const response = await call(base, 'POST', '/v1/channels', {
      body: { agent_id: agentId, page_id: `page-${counter}`, reply_webhook_url: replyUrl, ...fields },
    });
    assert.equal(response.status, 201, response.text);
    return exactly(createdChannelResponseSchema, response.body);
  };

  describe('authentication', () => {
    const samplePath = (path: string) => path.replace(':id', 'agt_unknown');
    const bodyFor = (method: string) => (method === 'post' || method === 'patch' ? { body: {} } : {});

    test('every admin route answers 401 without a token, with a wrong one, and with another scheme', async () => {
      for (const route of adminRoutes) {
        const variants: Record<string, string>[] = [
          {},
          { authorization: 'Bearer wrong-token-0123456789' },
          { authorization: `Basic ${ADMIN_TOKEN}` },
        ];
        for (const headers of variants) {
          const response = await call(base, route.method.toUpperCase(), samplePath(route.path), {
            token: null,
            headers,
            ...bodyFor(route.method),
          });
          assert.equal(
            response.status,
            401,
            `${route.method} ${route.path} with ${JSON.stringify(headers)}: ${response.text}`,
          );
          assert.equal(errorResponseSchema.parse(response.body).error.code, 'unauthorized');
          assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="chatrelay-admin"');
        }
      }
    });

    test('a token that is a prefix or an extension of the admin token is refused', async () => {
      for (const token of [ADMIN_TOKEN.slice(0, -1), `${ADMIN_TOKEN}x`, ADMIN_TOKEN.toUpperCase()]) {
        assert.equal((await call(base, 'GET', '/v1/agents', { token })).status, 401, token);
      }
      assert.equal((await call(base, 'GET', '/v1/agents')).status, 200);
    });

    test("a channel's API token never opens an admin route", async () => {
      const channel = await newChannel();
      assert.equal(
        (await sendMessage(base, channel.page_id, channel.api_token)).status,
        200,
        'the token works on the webhook',
      );
      for (const route of adminRoutes) {
        const response = await call(base, route.method.toUpperCase(), route.path.replace(':id', channel.id), {
          token: channel.api_token,
          ...bodyFor(route.method),
        });
        assert.equal(response.status, 401, `${route.method} ${route.path}`);
      }
      const viaHeader = await call(base, 'GET', '/v1/channels', {
        token: null,
        headers: { 'x-api-token': ADMIN_TOKEN },
      });
      assert.equal(viaHeader.status, 401, 'the admin API takes the token only from Authorization');
    });

    test('unknown /v1 paths: 401 without the token, 404 with it', async () => {
      assert.equal((await call(base, 'GET', '/v1/nothing', { token: null })).status, 401);
      const found = await call(base, 'GET', '/v1/nothing');
      assert.equal(found.status, 404);
      assert.equal(found.body.error?.code, 'not_found');
    });
  });

  describe('agents', () => {
    test('create with the required fields only applies the defaults', async () => {
      const response = await call(base, 'POST', '/v1/agents', {
        body: { name: 'Support', system_prompt: 'You help customers.' },
      });
      assert.equal(response.status, 201, response.text);
      const agent = exactly(agentResponseSchema, response.body);
      assert.match(agent.id, /^agt_/);
      assert.equal(agent.name, 'Support');
      assert.equal(agent.system_prompt, 'You help customers.');
      for (const [field, value] of Object.entries(agentDefaults))
        assert.deepEqual(agent[field as keyof typeof agentDefaults], value, field);
      assert.equal(agent.created_at, agent.updated_at);
      const stored = await stores.agents.get(agent.id);
      assert.equal(stored?.name, 'Support');
    });

    test('an agent and a channel stored before the "one moment" part and paced parts read with those off', async () => {
      const { interim_after_seconds: _after, interim_text: _text, ...olderAgent } = agentDefaults;
      const agent = await stores.agents.create({ ...olderAgent, name: 'Older', system_prompt: '' });
      const { typing_ms_per_char: _ms, typing_max_seconds: _max, ...olderChannel } = channelDefaults;
      const channel = await stores.channels.create({
        ...olderChannel,
        agent_id: agent.id,
        page_id: `older-${agent.id}`,
        reply_webhook_url: replyUrl,
        api_token: 'an-older-token-1234567890',
      });
      const shownAgent = exactly(agentResponseSchema, (await call(base, 'GET', `/v1/agents/${agent.id}`)).body);
      assert.deepEqual([shownAgent.interim_after_seconds, shownAgent.interim_text], [0, agentDefaults.interim_text]);
      const shownChannel = (await call(base, 'GET', `/v1/channels/${channel.id}`)).body as Record<string, unknown>;
      assert.deepEqual([shownChannel.typing_ms_per_char, shownChannel.typing_max_seconds], [0, 5]);
    });

    test('create with every field keeps them all', async () => {
      const fields = {
        name: 'Everything',
        system_prompt: '',
        model: 'gpt-4.1',
        temperature: 0,
        max_history_messages: 200,
        vision: true,
        transcription_model: 'whisper-2',
        tts_model: 'tts-2',
        tts_voice: 'nova',
        voice_prefix: '',
        fallback_reply: 'Back soon.',
        interim_after_seconds: 120,
        interim_text: 'Hold on.',
        handoff_text: 'A person will answer you here.',
      };
      const response = await call(base, 'POST', '/v1/agents', { body: fields });
      assert.equal(response.status, 201, response.text);
      const {
        id: _id,
        created_at: _created,
        updated_at: _updated,
        ...rest
      } = exactly(agentResponseSchema, response.body);
      assert.deepEqual(rest, fields);
    });

    test('invalid bodies answer 400 naming each field', async () => {
      const post = (body: unknown) => call(base, 'POST', '/v1/agents', { body });
      assertFieldError(await post({ system_prompt: 'x' }), 'name', 'is required');
      assertFieldError(await post({ name: 'x' }), 'system_prompt', 'is required');
      assertFieldError(await post({ name: '   ', system_prompt: 'x' }), 'name', 'must not be empty');
      assertFieldError(
        await post({ name: 'x', system_prompt: 'x', interim_after_seconds: 121 }),
        'interim_after_seconds',
        'must be between 0 and 120',
      );
      assertFieldError(
        await post({ name: 'x', system_prompt: 'x', interim_text: ' ' }),
        'interim_text',
        'must not be empty',
      );
      assertFieldError(
        await post({ name: 'x', system_prompt: 'x', temperature: 2.5 }),
        'temperature',
        'must be between 0 and 2',
      );
      assertFieldError(
        await post({ name: 'x', system_prompt: 'x', temperature: '1' }),
        'temperature',
        'must be a number, got a string',
      );
      assertFieldError(
        await post({ name: 'x', system_prompt: 'x', max_history_messages: 201 }),
        'max_history_messages',
        'must be between 0 and 200',
      );
      assertFieldError(
        await post({ name: 'x', system_prompt: 'x', max_history_messages: 1.5 }),
        'max_history_messages',
        'must be a whole number, got a number',
      );
      assertFieldError(
        await post({ name: 'x', system_prompt: 'x', vision: 'yes' }),
        'vision',
        'must be a boolean, got a string',
      );
      assertFieldError(await post({ name: 'x', system_prompt: 'x', modle: 'gpt' }), 'modle', 'is not a known field');
      assertFieldError(await post([]), '(body)', 'must be an object, got an array');
      assertFieldError(await call(base, 'POST', '/v1/agents'), '(body)', 'is required');
      const several = detailsOf(await post({ name: '', system_prompt: 1, temperature: -1 }));
      assert.deepEqual(several.map((detail) => detail.path).sort(), ['name', 'system_prompt', 'temperature']);
      assert.equal(
        (await stores.agents.list({ limit: 1000 })).filter((agent) => agent.name === 'x').length,
        0,
        'nothing was stored',
      );
    });

    test('bad JSON is 400 invalid_json; a body that is not JSON is 415', async () => {
      const bad = await call(base, 'POST', '/v1/agents', { rawBody: '{"name":' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error?.code, 'invalid_json');
      const form = await call(base, 'POST', '/v1/agents', {
        rawBody: 'name=x',
        contentType: 'application/x-www-form-urlencoded',
      });
      assert.equal(form.status, 415);
      assert.equal(form.body.error?.code, 'unsupported_media_type');
    });

    test('each error code names what is wrong: a charset not supported, a malformed % escape in the path', async () => {
      const latin = await call(base, 'POST', '/v1/agents', {
        rawBody: '{"name":"x"}',
        contentType: 'application/json; charset=koi8-r',
      });
      assert.equal(latin.status, 415, latin.text);
      assert.equal(errorResponseSchema.parse(latin.body).error.code, 'unsupported_charset');
      assert.match(latin.body.error?.message ?? '', /koi8-r/);
      const escape = await call(base, 'GET', '/v1/agents/agt_%E0%A4%A');
      assert.equal(escape.status, 400, escape.text);
      assert.equal(errorResponseSchema.parse(escape.body).error.code, 'invalid_path');
    });

    test('get returns the agent; an unknown id is 404', async () => {
      const agent = await newAgent({ model: 'gpt-x' });
      const found = await call(base, 'GET', `/v1/agents/${agent.id}`);
      assert.equal(found.status, 200);
      assert.deepEqual(exactly(agentResponseSchema, found.body), agent);
      const missing = await call(base, 'GET', '/v1/agents/agt_missing');
      assert.equal(missing.status, 404);
      assert.equal(errorResponseSchema.parse(missing.body).error.code, 'not_found');
      assert.match(missing.body.error?.message ?? '', /agt_missing/);
    });

    test('patch changes only the given fields', async () => {
      const agent = await newAgent({ temperature: 0.2 });
      const response = await call(base, 'PATCH', `/v1/agents/${agent.id}`, { body: { model: 'gpt-5', vision: true } });
      assert.equal(response.status, 200, response.text);
      const changed = exactly(agentResponseSchema, response.body);
      assert.equal(changed.model, 'gpt-5');
      assert.equal(changed.vision, true);
      assert.equal(changed.temperature, 0.2);
      assert.equal(changed.name, agent.name);
      assert.equal(changed.created_at, agent.created_at);
      assert.ok(changed.updated_at >= agent.updated_at);
      assert.deepEqual(exactly(agentResponseSchema, (await call(base, 'GET', `/v1/agents/${agent.id}`)).body), changed);
    });

    test('patch validation: strict, typed, not empty; unknown id is 404', async () => {
      const agent = await newAgent();
      const patch = (body: unknown, id = agent.id) => call(base, 'PATCH', `/v1/agents/${id}`, { body });
      assertFieldError(await patch({}), '(body)', 'must set at least one field');
      assertFieldError(await patch({ temprature: 1 }), 'temprature', 'is not a known field');
      assert.equal(detailsOf(await patch({ temprature: 1 })).length, 1, 'an unknown field alone is reported alone');
      assertFieldError(await patch({ temperature: null }), 'temperature', 'must be a number, got null');
      assertFieldError(await patch({ id: 'agt_other' }), 'id', 'is not a known field');
      assert.equal((await patch({ name: 'x' }, 'agt_missing')).status, 404);
      assert.deepEqual(
        exactly(agentResponseSchema, (await call(base, 'GET', `/v1/agents/${agent.id}`)).body),
        agent,
        'unchanged',
      );
    });

    test('delete: 409 while a channel uses the agent, 204 after, then 404', async () => {
      const agent = await newAgent();
      const channel = await newChannel({ agent_id: agent.id });
      const refused = await call(base, 'DELETE', `/v1/agents/${agent.id}`);
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body.error?.code, 'conflict');
      assert.match(refused.body.error?.message ?? '', /used by 1 channel/);
      assert.ok(await stores.agents.get(agent.id), 'the agent is kept');

      assert.equal((await call(base, 'DELETE', `/v1/channels/${channel.id}`)).status, 204);
      const deleted = await call(base, 'DELETE', `/v1/agents/${agent.id}`);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, '');
      assert.equal(await stores.agents.get(agent.id), undefined);
      assert.equal((await call(base, 'GET', `/v1/agents/${agent.id}`)).status, 404);
      assert.equal((await call(base, 'DELETE', `/v1/agents/${agent.id}`)).status, 404);
    });

    test('list is paginated with limit and after, in id order, every agent once', async () => {
      for (let i = 0; i < 5; i++) await newAgent();
      const everything = agentListResponseSchema.parse((await call(base, 'GET', '/v1/agents?limit=100')).body);
      assert.ok(everything.data.length >= 5);
      const seen: string[] = [];
      let afterId: string | null = null;
      let pages = 0;
      do {
        const query: string = afterId === null ? '?limit=2' : `?limit=2&after=${encodeURIComponent(afterId)}`;
        const response = await call(base, 'GET', `/v1/agents${query}`);
        assert.equal(response.status, 200, response.text);
        const page = exactly(agentListResponseSchema, response.body);
        for (const agent of page.data) exactly(agentResponseSchema, agent);
        assert.ok(page.data.length <= 2);
        assert.ok(page.data.length > 0 || page.next_after === null);
        seen.push(...page.data.map((agent) => agent.id));
        if (page.next_after !== null) assert.equal(page.next_after, page.data[page.data.length - 1]?.id);
        afterId = page.next_after;
        pages += 1;
      } while (afterId !== null && pages < 100);
      assert.deepEqual(
        seen,
        everything.data.map((agent) => agent.id),
      );
      assert.deepEqual([...seen].sort(), seen, 'ordered by id');
      assert.equal(new Set(seen).size, seen.length, 'no agent twice');
      assert.equal(pages, Math.ceil(seen.length / 2), 'no empty last page');

      const defaultPage = agentListResponseSchema.parse((await call(base, 'GET', '/v1/agents')).body);
      assert.equal(defaultPage.data.length, Math.min(20, everything.data.length), 'default limit is 20');
    });

    test('list query validation', async () => {
      for (const query of [
        'limit=0',
        'limit=101',
        'limit=abc',
        'limit=1.5',
        'limit=',
        'after=',
        'limt=5',
        'limit=1&limit=2',
      ]) {
        const response = await call(base, 'GET', `/v1/agents?${query}`);
        assert.equal(response.status, 400, `${query}: ${response.text}`);
        assert.equal(response.body.error?.code, 'invalid_request');
        assert.ok((response.body.error?.details ?? []).length > 0, query);
      }
      const unknown = await call(base, 'GET', '/v1/agents?limt=5');
      assert.deepEqual(unknown.body.error?.details, [{ path: 'limt', message: 'is not a known query parameter' }]);
      const range = await call(base, 'GET', '/v1/agents?limit=0');
      assert.deepEqual(range.body.error?.details, [
        { path: 'limit', message: 'must be a whole number between 1 and 100' },
      ]);
    });
  });

  describe('channels', () => {
    test('create generates a token and a signing secret, shown once, and applies the defaults', async () => {
      const agent = await newAgent();
      const response = await call(base, 'POST', '/v1/channels', {
        body: { agent_id: agent.id, page_id: 'shop-main', reply_webhook_url: replyUrl },
      });
      assert.equal(response.status, 201, response.text);
      const channel = exactly(createdChannelResponseSchema, response.body);
      assert.match(channel.signing_secret, /^whsec_/);
      assert.deepEqual(
        await stores.signingSecrets.active(channel.id),
        [channel.signing_secret],
        'the secret that signs its replies',
      );
      assert.equal(channel.delivery_paused, false);
      assert.equal(channel.paused_reason, null);
      assert.match(channel.id, /^chn_/);
      assert.match(channel.api_token, /^crt_[A-Za-z0-9_-]{40,}$/);
      assert.equal(channel.api_token_last4, channel.api_token.slice(-4));
      assert.equal(channel.token_version, 1);
      assert.equal(channel.agent_id, agent.id);
      for (const [field, value] of Object.entries(channelDefaults))
        assert.equal(channel[field as keyof typeof channelDefaults], value, field);
      const stored = await stores.channels.get(channel.id);
      assert.ok(
        stored && stored.token_hash !== channel.api_token && !JSON.stringify(stored).includes(channel.api_token),
        'only a hash is stored',
      );
      assert.equal((await sendMessage(base, 'shop-main', channel.api_token)).status, 200);
    });

    test('create with a given token and every field', async () => {
      const agent = await newAgent();
      const token = 'my-own-token-1234567890';
      const channel = await newChannel({
        agent_id: agent.id,
        api_token: token,
        assistant_connected: false,
        reply_delay_seconds: 300,
        voice_replies: 'when_user_sent_voice',
        max_message_length: 100,
        typing_ms_per_char: 1000,
        typing_max_seconds: 60,
      });
      assert.equal(channel.api_token, token);
      assert.equal(channel.api_token_last4, '7890');
      assert.equal(channel.assistant_connected, false);
      assert.equal(channel.reply_delay_seconds, 300);
      assert.equal(channel.voice_replies, 'when_user_sent_voice');
      assert.equal(channel.max_message_length, 100);
      assert.deepEqual([channel.typing_ms_per_char, channel.typing_max_seconds], [1000, 60]);
      assert.equal((await sendMessage(base, channel.page_id, token)).status, 200);
    });

    test('invalid bodies answer 400 naming each field', async () => {
      const agent = await newAgent();
      const valid = { agent_id: agent.id, page_id: 'valid-page', reply_webhook_url: replyUrl };
      const post = (fields: Record<string, unknown>) =>
        call(base, 'POST', '/v1/channels', { body: { ...valid, ...fields } });
      assertFieldError(await post({ api_token: 'short-token-15c' }), 'api_token', 'must be at least 16 characters');
      assertFieldError(
        await post({ api_token: 'has a space in it, long enough' }),
        'api_token',
        'must be printable ASCII without spaces',
      );
      assertFieldError(
        await post({ reply_webhook_url: 'ftp://example.com/x' }),
        'reply_webhook_url',
        'must be an absolute http or https URL',
      );
      assertFieldError(
        await post({ reply_webhook_url: 'not a url' }),
        'reply_webhook_url',
        'must be an absolute http or https URL',
      );
      assertFieldError(await post({ reply_delay_seconds: 301 }), 'reply_delay_seconds', 'must be between 0 and 300');
      assertFieldError(await post({ reply_delay_seconds: -1 }), 'reply_delay_seconds', 'must be between 0 and 300');
      assertFieldError(
        await post({ voice_replies: 'sometimes' }),
        'voice_replies',
        'must be one of off, always, when_user_sent_voice',
      );
      assertFieldError(await post({ max_message_length: 99 }), 'max_message_length', 'must be between 100 and 10000');
      assertFieldError(
        await post({ max_message_length: 10_001 }),
        'max_message_length',
        'must be between 100 and 10000',
      );
      assertFieldError(await post({ typing_ms_per_char: 1001 }), 'typing_ms_per_char', 'must be between 0 and 1000');
      assertFieldError(await post({ typing_max_seconds: 0 }), 'typing_max_seconds', 'must be between 1 and 60');
      assertFieldError(
        await post({ assistant_connected: 'true' }),
        'assistant_connected',
        'must be a boolean, got a string',
      );
      assertFieldError(await post({ page_id: ' padded' }), 'page_id', 'must not start or end with whitespace');
      assertFieldError(await post({ page_id: undefined }), 'page_id', 'is required');
      assertFieldError(await post({ reply_url: replyUrl }), 'reply_url', 'is not a known field');
      assertUnknownAgent(await post({ agent_id: 'agt_nobody' }));
      assert.equal(await stores.channels.getByPageId('valid-page'), undefined, 'nothing was stored');
    });

    test('a page_id already used answers 409', async () => {
      const first = await newChannel();
      const again = await call(base, 'POST', '/v1/channels', {
        body: { agent_id: first.agent_id, page_id: first.page_id, reply_webhook_url: replyUrl },
      });
      assert.equal(again.status, 409, again.text);
      assert.equal(again.body.error?.code, 'conflict');
      assert.ok(again.body.error?.message.includes(first.page_id));
      assert.equal(
        (await stores.channels.list({ limit: 1000 })).filter((channel) => channel.page_id === first.page_id).length,
        1,
      );
    });

    test('concurrent creates of one page_id: exactly one wins, the others 409', async () => {
      const agent = await newAgent();
      const body = { agent_id: agent.id, page_id: 'contested', reply_webhook_url: replyUrl };
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => call(base, 'POST', '/v1/channels', { body })),
      );
      assert.deepEqual(
        responses.map((response) => response.status).sort(),
        [201, 409, 409, 409, 409],
        responses.map((r) => r.text).join('\n'),
      );
      assert.equal(
        (await stores.channels.list({ limit: 1000 })).filter((channel) => channel.page_id === 'contested').length,
        1,
      );
    });

    test('the token is never returned by get, list or patch', async () => {
      const channel = await newChannel();
      const responses = [
        await call(base, 'GET', `/v1/channels/${channel.id}`),
        await call(base, 'GET', '/v1/channels?limit=100'),
        await call(base, 'GET', `/v1/channels?agent_id=${channel.agent_id}`),
        await call(base, 'PATCH', `/v1/channels/${channel.id}`, { body: { reply_delay_seconds: 1 } }),
      ];
      for (const response of responses) {
        assert.equal(response.status, 200, response.text);
        assert.ok(!response.text.includes(channel.api_token), 'no token');
        assert.ok(!response.text.includes(channel.signing_secret), 'no signing secret');
        assert.ok(!response.text.includes('api_token"'), 'no api_token field');
        assert.ok(!response.text.includes('token_hash'), 'no token hash');
      }
      exactly(channelResponseSchema, responses[0]?.body);
      const list = exactly(channelListResponseSchema, responses[2]?.body);
      assert.deepEqual(
        list.data.map((item) => exactly(channelResponseSchema, item).id),
        [channel.id],
      );
      assert.equal(exactly(channelResponseSchema, responses[3]?.body).api_token_last4, channel.api_token.slice(-4));
    });

    test('get; unknown id is 404', async () => {
      const channel = await newChannel();
      const { api_token: _token, signing_secret: _secret, ...shown } = channel;
      assert.deepEqual(
        exactly(channelResponseSchema, (await call(base, 'GET', `/v1/channels/${channel.id}`)).body),
        shown,
      );
      const missing = await call(base, 'GET', '/v1/channels/chn_missing');
      assert.equal(missing.status, 404);
      assert.match(missing.body.error?.message ?? '', /chn_missing/);
    });

    test('patch changes the given fields; the token and unknown fields cannot be patched', async () => {
      const channel = await newChannel();
      const other = await newAgent();
      const response = await call(base, 'PATCH', `/v1/channels/${channel.id}`, {
        body: {
          agent_id: other.id,
          reply_delay_seconds: 12,
          voice_replies: 'always',
          assistant_connected: false,
          max_message_length: 500,
          reply_webhook_url: 'https://receiver.example/replies',
        },
      });
      assert.equal(response.status, 200, response.text);
      const changed = exactly(channelResponseSchema, response.body);
      assert.deepEqual(
        {
          agent_id: changed.agent_id,
          delay: changed.reply_delay_seconds,
          voice: changed.voice_replies,
          connected: changed.assistant_connected,
          max: changed.max_message_length,
          url: changed.reply_webhook_url,
        },
        {
          agent_id: other.id,
          delay: 12,
          voice: 'always',
          connected: false,
          max: 500,
          url: 'https://receiver.example/replies',
        },
      );
      assert.equal(changed.page_id, channel.page_id);
      assert.equal(changed.token_version, 1);
      const stored = await stores.channels.get(channel.id);
      assert.equal(stored?.reply_delay_seconds, 12);

      const patch = (body: unknown, id = channel.id) => call(base, 'PATCH', `/v1/channels/${id}`, { body });
      assertFieldError(await patch({ api_token: 'a-new-token-0123456789' }), 'api_token', 'is not a known field');
      assertUnknownAgent(await patch({ agent_id: 'agt_nobody' }));
      assertFieldError(await patch({ reply_delay_seconds: 1000 }), 'reply_delay_seconds', 'must be between 0 and 300');
      assertFieldError(await patch({}), '(body)', 'must set at least one field');
      assert.equal((await patch({ reply_delay_seconds: 1 }, 'chn_missing')).status, 404);
      assert.equal((await sendMessage(base, channel.page_id, channel.api_token)).status, 200, 'the token still works');
    });

    test('patch to a page_id already used answers 409 and changes nothing', async () => {
      const first = await newChannel();
      const second = await newChannel();
      const response = await call(base, 'PATCH', `/v1/channels/${second.id}`, {
        body: { page_id: first.page_id, reply_delay_seconds: 7 },
      });
      assert.equal(response.status, 409, response.text);
      assert.equal(response.body.error?.code, 'conflict');
      const stored = await stores.channels.get(second.id);
      assert.equal(stored?.page_id, second.page_id);
      assert.equal(stored?.reply_delay_seconds, 0);
      const same = await call(base, 'PATCH', `/v1/channels/${second.id}`, { body: { page_id: second.page_id } });
      assert.equal(same.status, 200, 'keeping its own page_id is no conflict');
    });

    test('a page_id change applies at once in this process: the old page 401, the new one accepted', async () => {
      const channel = await newChannel();
      const newPage = `${channel.page_id}-renamed`;
      // Warm the cache: the channel under its page, and "no channel" under the new page.
      assert.equal((await sendMessage(base, channel.page_id, channel.api_token)).status, 200);
      assert.equal((await sendMessage(base, newPage, channel.api_token)).status, 401);
      assert.equal(
        (await call(base, 'PATCH', `/v1/channels/${channel.id}`, { body: { page_id: newPage } })).status,
        200,
      );
      assert.equal((await sendMessage(base, channel.page_id, channel.api_token)).status, 401);
      assert.equal((await sendMessage(base, newPage, channel.api_token)).status, 200);
      assert.equal(app.starter.started.at(-1)?.pageId, newPage);
    });

    test('a channel created after its page was seen works at once (the cached miss is dropped)', async () => {
      const agent = await newAgent();
      const token = 'pre-chosen-token-abcdefgh';
      assert.equal((await sendMessage(base, 'late-page', token)).status, 401);
      await newChannel({ agent_id: agent.id, page_id: 'late-page', api_token: token });
      assert.equal((await sendMessage(base, 'late-page', token)).status, 200);
    });

    test('rotate-token: new token once, old token 401 at once, new one accepted, version bumped', async () => {
      const channel = await newChannel();
      assert.equal(
        (await sendMessage(base, channel.page_id, channel.api_token)).status,
        200,
        'cache warmed with the old token',
      );
      const response = await call(base, 'POST', `/v1/channels/${channel.id}/rotate-token`);
      assert.equal(response.status, 200, response.text);
      const rotated = exactly(channelWithTokenResponseSchema, response.body);
      assert.notEqual(rotated.api_token, channel.api_token);
      assert.match(rotated.api_token, /^crt_/);
      assert.equal(rotated.token_version, 2);
      assert.equal(rotated.api_token_last4, rotated.api_token.slice(-4));

      const old = await sendMessage(base, channel.page_id, channel.api_token);
      assert.equal(old.status, 401, old.text);
      const fresh = await sendMessage(base, channel.page_id, rotated.api_token);
      assert.equal(fresh.status, 200, fresh.text);
      assert.equal(app.starter.started.at(-1)?.tokenVersion, 2, 'the workflow gets the version to re-check');

      const get = await call(base, 'GET', `/v1/channels/${channel.id}`);
      assert.ok(!get.text.includes(rotated.api_token));
      assert.equal(exactly(channelResponseSchema, get.body).token_version, 2);
    });

    test('rotate-token with a given token; validation; unknown id 404; not JSON 415', async () => {
      const channel = await newChannel();
      const given = 'rotated-by-hand-0123456789';
      const response = await call(base, 'POST', `/v1/channels/${channel.id}/rotate-token`, {
        body: { api_token: given },
      });
      assert.equal(response.status, 200, response.text);
      assert.equal(exactly(channelWithTokenResponseSchema, response.body).api_token, given);
      assert.equal((await sendMessage(base, channel.page_id, given)).status, 200);
      assert.equal((await sendMessage(base, channel.page_id, channel.api_token)).status, 401);

      const rotate = (options: Parameters<typeof call>[3], id = channel.id) =>
        call(base, 'POST', `/v1/channels/${id}/rotate-token`, options);
      assertFieldError(
        await rotate({ body: { api_token: 'too-short' } }),
        'api_token',
        'must be at least 16 characters',
      );
      assertFieldError(await rotate({ body: { token: given } }), 'token', 'is not a known field');
      assert.equal((await rotate({}, 'chn_missing')).status, 404);
      assert.equal((await rotate({ rawBody: 'x', contentType: 'text/plain' })).status, 415);
      assert.equal((await stores.channels.get(channel.id))?.token_version, 2, 'failed rotations changed nothing');
    });

    test('rotate-signing-secret: a new secret once; the previous one keeps signing during the grace period', async () => {
      const channel = await newChannel();
      const before = Date.now();
      const response = await call(base, 'POST', `/v1/channels/${channel.id}/rotate-signing-secret`);
      assert.equal(response.status, 200, response.text);
      const rotated = exactly(channelWithSigningSecretResponseSchema, response.body);
      assert.match(rotated.signing_secret, /^whsec_/);
      assert.notEqual(rotated.signing_secret, channel.signing_secret);
      const validUntil = Date.parse(rotated.previous_secrets_valid_until);
      assert.ok(
        validUntil >= before + 3_600_000 && validUntil <= Date.now() + 3_600_000,
        rotated.previous_secrets_valid_until,
      );
      assert.deepEqual(await stores.signingSecrets.active(channel.id), [
        rotated.signing_secret,
        channel.signing_secret,
      ]);
      assert.deepEqual(await stores.signingSecrets.active(channel.id, new Date(validUntil + 1)), [
        rotated.signing_secret,
      ]);
      assert.ok(!(await call(base, 'GET', `/v1/channels/${channel.id}`)).text.includes(rotated.signing_secret));
      assert.equal(
        (await sendMessage(base, channel.page_id, channel.api_token)).status,
        200,
        'the API token is unchanged',
      );
      assert.equal((await call(base, 'POST', '/v1/channels/chn_missing/rotate-signing-secret')).status, 404);
    });

    test('a channel paused by a 410 shows it', async () => {
      const channel = await newChannel();
      await stores.channels.update(channel.id, { delivery_paused: true, paused_reason: 'receiver answered 410 Gone' });
      const shown = exactly(channelResponseSchema, (await call(base, 'GET', `/v1/channels/${channel.id}`)).body);
      assert.deepEqual([shown.delivery_paused, shown.paused_reason], [true, 'receiver answered 410 Gone']);
    });

    test('delete: the token stops working at once, the signing secrets go; then 404', async () => {
      const channel = await newChannel();
      assert.equal((await sendMessage(base, channel.page_id, channel.api_token)).status, 200);
      const response = await call(base, 'DELETE', `/v1/channels/${channel.id}`);
      assert.equal(response.status, 204);
      assert.deepEqual(await stores.signingSecrets.active(channel.id), []);
      assert.equal((await sendMessage(base, channel.page_id, channel.api_token)).status, 401);
      assert.equal((await call(base, 'GET', `/v1/channels/${channel.id}`)).status, 404);
      assert.equal((await call(base, 'DELETE', `/v1/channels/${channel.id}`)).status, 404);
      assert.ok(await stores.agents.get(channel.agent_id), 'the agent stays');
    });

    test('list: paginated, filtered by agent', async () => {
      const agent = await newAgent();
      const mine = [];
      for (let i = 0; i < 3; i++) mine.push(await newChannel({ agent_id: agent.id }));
      const first = exactly(
        channelListResponseSchema,
        (await call(base, 'GET', `/v1/channels?agent_id=${agent.id}&limit=2`)).body,
      );
      assert.equal(first.data.length, 2);
      assert.notEqual(first.next_after, null);
      const second = exactly(
        channelListResponseSchema,
        (await call(base, 'GET', `/v1/channels?agent_id=${agent.id}&limit=2&after=${first.next_after}`)).body,
      );
      assert.equal(second.data.length, 1);
      assert.equal(second.next_after, null);
      assert.deepEqual(
        [...first.data, ...second.data].map((channel) => channel.id),
        mine.map((channel) => channel.id).sort(),
      );
      const none = exactly(
        channelListResponseSchema,
        (await call(base, 'GET', '/v1/channels?agent_id=agt_nobody')).body,
      );
      assert.deepEqual(none, { data: [], next_after: null });
      assert.equal((await call(base, 'GET', '/v1/channels?limit=500')).status, 400);
    });

    test('another API process sees a rotation within its cache TTL; this one at once', async () => {
      // A second process: its own cache, on a clock the test moves.
      let clock = 1_000_000;
      const otherAuth = createChannelAuthenticator(stores.channels, { ttlMs: 1_000, now: () => clock });
      const channel = await newChannel();
      assert.ok(
        await otherAuth.authenticate(channel.page_id, channel.api_token),
        'the other process caches the channel',
      );
      const rotated = exactly(
        channelWithTokenResponseSchema,
        (await call(base, 'POST', `/v1/channels/${channel.id}/rotate-token`)).body,
      );
      assert.equal((await sendMessage(base, channel.page_id, channel.api_token)).status, 401, 'this process: at once');
      const stale = await otherAuth.authenticate(channel.page_id, channel.api_token);
      assert.equal(
        stale?.token_version,
        1,
        'the other process still has version 1 (the workflow refuses it: version 2 is current)',
      );
      clock += 1_001;
      assert.equal(
        await otherAuth.authenticate(channel.page_id, channel.api_token),
        undefined,
        'after the TTL: refused',
      );
      assert.equal((await otherAuth.authenticate(channel.page_id, rotated.api_token))?.token_version, 2);
    });
  });
});
