import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  agentListResponseSchema,
  agentResponseSchema,
  channelListResponseSchema,
  channelResponseSchema,
  channelWithSigningSecretResponseSchema,
  channelWithTokenResponseSchema,
  createdChannelResponseSchema,
  reencryptSecretsResponseSchema,
} from '../../src/api/contracts/admin.js';
import { freePort } from '../../src/lib/ports.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { ADMIN_TOKEN, sendMessage, startAdminApp, type AdminApp } from '../helpers/admin-app.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';
import { parseJson, run } from '../helpers/run-cli.js';

describe('chatrelay CLI against a real listening API', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let app: AdminApp;
  let env: NodeJS.ProcessEnv;
  const tempDirs: string[] = [];
  const cli = (...args: string[]) => run(args, { env });

  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
    app = await startAdminApp(stores);
    env = { PATH: process.env.PATH, HOME: process.env.HOME, CHATRELAY_URL: app.base, ADMIN_TOKEN };
  });
  after(async () => {
    await app?.close();
    await mongo?.close();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatrelay-cli-'));
    tempDirs.push(dir);
    return dir;
  };

  test('help: exit 0 and every command listed; bare invocation is a usage error', async () => {
    const help = await cli('--help');
    assert.equal(help.code, 0);
    const commands = ['agents create', 'agents list', 'agents get', 'agents update', 'agents delete'];
    commands.push(
      'channels create',
      'channels list',
      'channels get',
      'channels update',
      'channels delete',
      'channels rotate-token',
      'channels rotate-signing-secret',
      'channels resume',
      'messages list',
      'messages get',
      'messages redeliver',
      'secrets reencrypt',
    );
    for (const command of commands) {
      assert.ok(help.stdout.includes(command), command);
    }
    const commandHelp = await cli('channels', 'create', '--help');
    assert.equal(commandHelp.code, 0);
    for (const option of [
      '--agent',
      '--page-id',
      '--reply-url',
      '--delay',
      '--voice-replies',
      '--connected',
      '--disconnected',
      '--api-token',
      '--max-message-length',
    ]) {
      assert.ok(commandHelp.stdout.includes(option), option);
    }
    const redeliverHelp = await cli('messages', 'redeliver', '--help');
    assert.equal(redeliverHelp.code, 0);
    assert.match(redeliverHelp.stdout, /Usage: chatrelay messages redeliver <MESSAGE_ID> \[options\]/);
    assert.match(redeliverHelp.stdout, /--from-part N/);
    const bare = await cli();
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /Usage: chatrelay/);
  });

  test('secrets reencrypt: re-encrypts through the API and says whether the old keys are still needed', async () => {
    const done = await cli('secrets', 'reencrypt');
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /^Signing secrets: 0 re-encrypted, \d+ already under the current key, 0 unreadable\.$/m);
    assert.match(done.stdout, /SECRETS_ENCRYPTION_OLD_KEYS can be emptied/);
    const asJson = parseJson(reencryptSecretsResponseSchema, await cli('secrets', 'reencrypt', '--json'));
    assert.equal(asJson.signing_secrets.reencrypted, 0);
    assert.equal(
      (await run(['secrets', 'reencrypt'], { env: { ...env, ADMIN_TOKEN: 'wrong-admin-token-0123' } })).code,
      1,
    );
  });

  test('usage errors exit 2 with a message, before calling the API', async () => {
    const cases: [string[], RegExp][] = [
      [['robots', 'list'], /unknown command group "robots"/],
      [['agents', 'launch'], /unknown command "agents launch"/],
      [['agents'], /"agents" needs a command/],
      [['agents', 'list', '--bogus'], /Unknown option '--bogus'/],
      [
        ['agents', 'create', '--name', 'x', '--system-prompt', 'y', '--page-id', 'p'],
        /--page-id is not an option of "agents create"/,
      ],
      [['agents', 'create', '--system-prompt', 'y'], /--name is required/],
      [['agents', 'create', '--name', 'x'], /--system-prompt or --system-prompt-file is required/],
      [
        ['agents', 'create', '--name', 'x', '--system-prompt', 'y', '--temperature', 'warm'],
        /--temperature must be a number/,
      ],
      [
        ['agents', 'create', '--name', 'x', '--system-prompt', 'y', '--vision', '--no-vision'],
        /--vision and --no-vision cannot be used together/,
      ],
      [
        ['agents', 'create', '--name', 'x', '--system-prompt', 'y', '--system-prompt-file', 'p.txt'],
        /cannot be used together/,
      ],
      [
        ['agents', 'create', '--name', 'x', '--system-prompt-file', '/nonexistent/prompt.txt'],
        /cannot read --system-prompt-file/,
      ],
      [['agents', 'get'], /<AGENT_ID> is required/],
      [['agents', 'get', 'a', 'b'], /unexpected argument "b"/],
      [['agents', 'update', 'agt_x'], /nothing to change/],
      [['channels', 'create', '--agent', 'a', '--page-id', 'p'], /--reply-url is required/],
      [['channels', 'update', 'chn_x', '--delay', 'soon'], /--delay must be a number/],
      [['channels', 'update', 'chn_x', '--connected', '--disconnected'], /cannot be used together/],
      [['channels', 'list', '--url', 'ftp://example.com'], /--url must be an http\(s\) URL/],
      [['channels', 'resume'], /<CHANNEL_ID> is required/],
      [['messages', 'list'], /<CHANNEL_ID> is required/],
      [['messages', 'list', 'chn_x', '--after', 'x'], /--after is not an option of "messages list"/],
      [['messages', 'get', 'msg_x', '--from-part', '2'], /--from-part is not an option of "messages get"/],
      [['messages', 'redeliver', 'msg_x', '--from-part', 'second'], /--from-part must be a number/],
      [['messages', 'delete', 'msg_x'], /unknown command "messages delete" \(known: list, get, redeliver\)/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(...args)));
    results.forEach((result, index) => {
      const [args, pattern] = cases[index]!;
      assert.equal(result.code, 2, `${args.join(' ')}: exit ${result.code}\n${result.stdout}${result.stderr}`);
      assert.match(result.stderr, pattern, args.join(' '));
      assert.equal(result.stdout, '', 'nothing on stdout');
    });
    assert.deepEqual(await stores.agents.list({ limit: 10 }), [], 'no usage error reached the API');
  });

  test('agents create / get / update / list / delete, human and --json', async () => {
    const created = await cli(
      'agents',
      'create',
      '--name',
      'Support bot',
      '--system-prompt',
      'You help.',
      '--model',
      'gpt-4.1-mini',
      '--temperature',
      '0.3',
      '--max-history-messages',
      '8',
      '--vision',
    );
    assert.equal(created.code, 0, created.stderr);
    const id = /Created agent (agt_\S+)\./.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);
    assert.match(created.stdout, /model\s+gpt-4\.1-mini/);
    assert.match(created.stdout, /system_prompt:\n {2}You help\./);
    const stored = await stores.agents.get(id);
    assert.deepEqual(
      {
        model: stored?.model,
        temperature: stored?.temperature,
        history: stored?.max_history_messages,
        vision: stored?.vision,
      },
      { model: 'gpt-4.1-mini', temperature: 0.3, history: 8, vision: true },
    );

    const promptDir = tempDir();
    writeFileSync(join(promptDir, 'prompt.txt'), 'Line one.\nLine two.\n');
    const fromFile = parseJson(
      agentResponseSchema,
      await run(['agents', 'create', '--json', '--name', 'From file', '--system-prompt-file', 'prompt.txt'], {
        env,
        cwd: promptDir,
      }),
    );
    assert.equal(fromFile.system_prompt, 'Line one.\nLine two.\n');
    const fromStdin = parseJson(
      agentResponseSchema,
      await run(['agents', 'create', '--json', '--name', 'From stdin', '--system-prompt-file', '-'], {
        env,
        input: 'Piped prompt.',
      }),
    );
    assert.equal(fromStdin.system_prompt, 'Piped prompt.');

    const got = await cli('agents', 'get', id);
    assert.equal(got.code, 0);
    assert.match(got.stdout, new RegExp(`id\\s+${id}`));
    assert.match(got.stdout, /temperature\s+0\.3/);
    assert.equal(parseJson(agentResponseSchema, await cli('agents', 'get', id, '--json')).name, 'Support bot');

    const updated = parseJson(
      agentResponseSchema,
      await cli('agents', 'update', id, '--temperature', '1.2', '--no-vision', '--fallback-reply', '', '--json'),
    );
    assert.deepEqual(
      [updated.temperature, updated.vision, updated.fallback_reply, updated.name],
      [1.2, false, '', 'Support bot'],
    );
    const updatedHuman = await cli('agents', 'update', id, '--name', 'Support bot 2');
    assert.equal(updatedHuman.code, 0);
    assert.match(updatedHuman.stdout, new RegExp(`Updated agent ${id}`));
    assert.match(updatedHuman.stdout, /fallback_reply\s+""/);

    const list = await cli('agents', 'list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^ID\s+NAME\s+MODEL/);
    for (const name of ['Support bot 2', 'From file', 'From stdin']) assert.ok(list.stdout.includes(name), name);
    const firstPage = await cli('agents', 'list', '--limit', '1');
    assert.match(firstPage.stdout, /More: add --after agt_\S+ \(or --all\)/);
    const all = parseJson(agentListResponseSchema, await cli('agents', 'list', '--limit', '1', '--all', '--json'));
    assert.equal(all.data.length, 3);
    assert.equal(all.next_after, null);
    const page = parseJson(agentListResponseSchema, await cli('agents', 'list', '--limit', '2', '--json'));
    assert.equal(page.data.length, 2);
    assert.equal(page.next_after, page.data[1]?.id);
    const rest = parseJson(
      agentListResponseSchema,
      await cli('agents', 'list', '--after', page.next_after ?? '', '--json'),
    );
    assert.deepEqual(
      [...page.data, ...rest.data].map((agent) => agent.id),
      all.data.map((agent) => agent.id),
    );

    const deleted = await cli('agents', 'delete', fromStdin.id);
    assert.equal(deleted.code, 0);
    assert.equal(deleted.stdout.trim(), `Deleted agent ${fromStdin.id}.`);
    assert.deepEqual(JSON.parse((await cli('agents', 'delete', fromFile.id, '--json')).stdout), {
      id: fromFile.id,
      deleted: true,
    });
    assert.equal(await stores.agents.get(fromFile.id), undefined);
  });

  test('API errors exit 1 and print the message and field errors with the flag to fix', async () => {
    const invalid = await cli(
      'agents',
      'create',
      '--name',
      'x',
      '--system-prompt',
      'y',
      '--temperature',
      '5',
      '--max-history-messages',
      '1.5',
    );
    assert.equal(invalid.code, 1);
    assert.match(
      invalid.stderr,
      /error: The request body is invalid; see details\. \(HTTP 400 invalid_request, request \S+\)/,
    );
    assert.match(invalid.stderr, /temperature \(--temperature\): must be between 0 and 2/);
    assert.match(invalid.stderr, /max_history_messages \(--max-history-messages\): must be a whole number/);

    const missing = await cli('agents', 'get', 'agt_missing');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Agent agt_missing not found\. \(HTTP 404 not_found/);

    const asJson = await cli('agents', 'get', 'agt_missing', '--json');
    assert.equal(asJson.code, 1);
    assert.equal((JSON.parse(asJson.stderr) as { error: { code: string } }).error.code, 'not_found');

    const wrongToken = await run(['agents', 'list'], { env: { ...env, ADMIN_TOKEN: 'not-the-admin-token' } });
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stderr, /admin token.*HTTP 401 unauthorized/);

    const unreachable = await run(['agents', 'list'], {
      env: { ...env, CHATRELAY_URL: `http://127.0.0.1:${await freePort()}` },
    });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the chatrelay API at http:\/\/127\.0\.0\.1:\d+/);
  });

  test('channels create prints the token once and a curl command that sends a first message', async () => {
    const agent = parseJson(
      agentResponseSchema,
      await cli('agents', 'create', '--json', '--name', 'Channel agent', '--system-prompt', 'Hi.'),
    );
    const created = await cli(
      'channels',
      'create',
      '--agent',
      agent.id,
      '--page-id',
      "shop's page",
      '--reply-url',
      'http://127.0.0.1:9/replies',
      '--delay',
      '3',
      '--voice-replies',
      'when_user_sent_voice',
    );
    assert.equal(created.code, 0, created.stderr);
    const token = /API token \(give it to the client platform\): +(\S+)/.exec(created.stdout)?.[1];
    assert.ok(token?.startsWith('crt_'), created.stdout);
    const signingSecret = /signing secret \(give it to the reply receiver\): +(\S+)/.exec(created.stdout)?.[1];
    assert.ok(signingSecret?.startsWith('whsec_'), created.stdout);
    const channelId = /Created channel (chn_\S+) for page/.exec(created.stdout)?.[1];
    assert.ok(channelId);
    assert.match(created.stdout, /reply_delay_seconds\s+3/);
    assert.match(created.stdout, /voice_replies\s+when_user_sent_voice/);

    const curl = created.stdout.slice(created.stdout.indexOf('curl '));
    assert.ok(curl.startsWith(`curl -sS -X POST ${app.base}/webhook/mychatbot`), curl);
    const before = app.starter.started.length;
    const sent = await run(['-c', curl], { command: ['bash'], env });
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal((JSON.parse(sent.stdout) as { status: string }).status, 'accepted', sent.stdout);
    assert.equal(app.starter.started.length, before + 1);
    assert.equal(app.starter.started.at(-1)?.pageId, "shop's page");
    assert.equal(app.starter.started.at(-1)?.channelId, channelId);
    assert.deepEqual(await stores.signingSecrets.active(channelId), [signingSecret]);

    const given = parseJson(
      createdChannelResponseSchema,
      await cli(
        'channels',
        'create',
        '--json',
        '--agent',
        agent.id,
        '--page-id',
        'second-page',
        '--reply-url',
        'https://example.com/r',
        '--api-token',
        'a-chosen-token-123456',
        '--disconnected',
        '--max-message-length',
        '500',
      ),
    );
    assert.deepEqual(
      [given.api_token, given.assistant_connected, given.max_message_length],
      ['a-chosen-token-123456', false, 500],
    );

    const duplicate = await cli(
      'channels',
      'create',
      '--agent',
      agent.id,
      '--page-id',
      'second-page',
      '--reply-url',
      'https://example.com/r',
    );
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /page_id "second-page" is already used.*HTTP 409 conflict/);

    const badAgent = await cli(
      'channels',
      'create',
      '--agent',
      'agt_nobody',
      '--page-id',
      'third-page',
      '--reply-url',
      'https://example.com/r',
      '--api-token',
      'short',
    );
    assert.equal(badAgent.code, 1);
    assert.match(badAgent.stderr, /api_token \(--api-token\): must be at least 16 characters/);
    const unknownAgent = await cli(
      'channels',
      'create',
      '--agent',
      'agt_nobody',
      '--page-id',
      'third-page',
      '--reply-url',
      'https://example.com/r',
    );
    assert.match(unknownAgent.stderr, /agent_id \(--agent\): no agent has the id "agt_nobody"/);
  });

  test('channels list / get / update / rotate-token / delete; the token is never shown again', async () => {
    const agent = parseJson(
      agentResponseSchema,
      await cli('agents', 'create', '--json', '--name', 'Rotation agent', '--system-prompt', 'Hi.'),
    );
    const channel = parseJson(
      createdChannelResponseSchema,
      await cli(
        'channels',
        'create',
        '--json',
        '--agent',
        agent.id,
        '--page-id',
        'rotating',
        '--reply-url',
        'http://127.0.0.1:9/r',
      ),
    );

    const list = await cli('channels', 'list', '--agent', agent.id);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^ID\s+PAGE ID\s+AGENT/);
    assert.ok(list.stdout.includes('rotating') && list.stdout.includes(`…${channel.api_token_last4}`));
    const listed = parseJson(channelListResponseSchema, await cli('channels', 'list', '--agent', agent.id, '--json'));
    assert.deepEqual(
      listed.data.map((item) => item.id),
      [channel.id],
    );
    const got = await cli('channels', 'get', channel.id);
    assert.equal(got.code, 0);
    assert.match(got.stdout, /page_id\s+rotating/);
    const everything = [
      list,
      got,
      await cli('channels', 'list', '--json'),
      await cli('channels', 'get', channel.id, '--json'),
    ];
    for (const result of everything) {
      assert.ok(!result.stdout.includes(channel.api_token), 'the token is not shown again');
      assert.ok(!result.stdout.includes(channel.signing_secret), 'the signing secret is not shown again');
    }

    const updated = parseJson(
      channelResponseSchema,
      await cli(
        'channels',
        'update',
        channel.id,
        '--delay',
        '5',
        '--disconnected',
        '--voice-replies',
        'always',
        '--json',
      ),
    );
    assert.deepEqual(
      [updated.reply_delay_seconds, updated.assistant_connected, updated.voice_replies],
      [5, false, 'always'],
    );
    const reconnected = await cli(
      'channels',
      'update',
      channel.id,
      '--connected',
      '--reply-url',
      'https://example.com/new',
    );
    assert.equal(reconnected.code, 0);
    assert.match(reconnected.stdout, /assistant_connected\s+yes/);
    assert.match(reconnected.stdout, /reply_webhook_url\s+https:\/\/example\.com\/new/);
    const invalid = await cli('channels', 'update', channel.id, '--voice-replies', 'sometimes');
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /voice_replies \(--voice-replies\): must be one of off, always, when_user_sent_voice/);

    assert.equal((await sendMessage(app.base, 'rotating', channel.api_token)).status, 200);
    const rotated = await cli('channels', 'rotate-token', channel.id);
    assert.equal(rotated.code, 0, rotated.stderr);
    const newToken = /shown this once:\n {2}(\S+)/.exec(rotated.stdout)?.[1];
    assert.ok(newToken && newToken !== channel.api_token, rotated.stdout);
    assert.match(rotated.stdout, /token version 2/);
    assert.equal((await sendMessage(app.base, 'rotating', channel.api_token)).status, 401, 'old token refused at once');
    assert.equal((await sendMessage(app.base, 'rotating', newToken)).status, 200);
    const chosen = parseJson(
      channelWithTokenResponseSchema,
      await cli('channels', 'rotate-token', channel.id, '--api-token', 'hand-picked-token-0001', '--json'),
    );
    assert.deepEqual([chosen.api_token, chosen.token_version], ['hand-picked-token-0001', 3]);
    assert.equal((await sendMessage(app.base, 'rotating', 'hand-picked-token-0001')).status, 200);

    const newSecret = await cli('channels', 'rotate-signing-secret', channel.id);
    assert.equal(newSecret.code, 0, newSecret.stderr);
    const secret = /shown this once:\n {2}(whsec_\S+)/.exec(newSecret.stdout)?.[1];
    assert.ok(secret && secret !== channel.signing_secret, newSecret.stdout);
    assert.match(newSecret.stdout, /signed with both the new and the previous secret until \d{4}-/);
    assert.deepEqual(await stores.signingSecrets.active(channel.id), [secret, channel.signing_secret]);
    const asJson = parseJson(
      channelWithSigningSecretResponseSchema,
      await cli('channels', 'rotate-signing-secret', channel.id, '--json'),
    );
    assert.equal((await stores.signingSecrets.active(channel.id))[0], asJson.signing_secret);
    assert.equal((await cli('channels', 'rotate-signing-secret', 'chn_missing')).code, 1);

    const inUse = await cli('agents', 'delete', agent.id);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /used by 1 channel.*HTTP 409 conflict/);
    const deleted = await cli('channels', 'delete', channel.id);
    assert.equal(deleted.code, 0);
    assert.equal(deleted.stdout.trim(), `Deleted channel ${channel.id}.`);
    assert.equal((await sendMessage(app.base, 'rotating', 'hand-picked-token-0001')).status, 401);
    assert.equal((await cli('channels', 'get', channel.id)).code, 1);
    assert.equal((await cli('agents', 'delete', agent.id)).code, 0);
  });

  test('the admin token: --admin-token, else ADMIN_TOKEN, else .data/admin-token; none is a usage error', async () => {
    const { ADMIN_TOKEN: _token, ...withoutToken } = env;
    const flag = await run(['agents', 'list', '--json', '--admin-token', ADMIN_TOKEN], {
      env: { ...withoutToken, STACK_DATA_DIR: tempDir() },
    });
    assert.equal(flag.code, 0, flag.stderr);

    const project = tempDir();
    mkdirSync(join(project, '.data'));
    writeFileSync(join(project, '.data', 'admin-token'), `${ADMIN_TOKEN}\n`);
    const fromFile = await run(['agents', 'list', '--json'], { env: withoutToken, cwd: project });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    agentListResponseSchema.parse(JSON.parse(fromFile.stdout));

    const stackDir = tempDir();
    writeFileSync(join(stackDir, 'admin-token'), ADMIN_TOKEN);
    const fromStackDir = await run(['agents', 'list', '--json'], {
      env: { ...withoutToken, STACK_DATA_DIR: stackDir },
      cwd: tempDir(),
    });
    assert.equal(fromStackDir.code, 0, fromStackDir.stderr);

    const none = await run(['agents', 'list'], { env: { ...withoutToken, STACK_DATA_DIR: tempDir() } });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no admin token: pass --admin-token, set ADMIN_TOKEN/);

    const flagWins = await run(['agents', 'list', '--admin-token', 'wrong-admin-token-000'], { env });
    assert.equal(flagWins.code, 1, '--admin-token is used over ADMIN_TOKEN');
  });

  test('--url overrides CHATRELAY_URL, and npm run cli runs the same CLI', async () => {
    const viaFlag = await run(['agents', 'list', '--json', '--url', `${app.base}/`], {
      env: { ...env, CHATRELAY_URL: 'http://127.0.0.1:9' },
    });
    assert.equal(viaFlag.code, 0, viaFlag.stderr);
    const viaNpm = await run(['run', '--silent', 'cli', '--', 'agents', 'list', '--json'], { command: ['npm'], env });
    assert.equal(viaNpm.code, 0, viaNpm.stderr);
    assert.deepEqual(JSON.parse(viaNpm.stdout), JSON.parse(viaFlag.stdout));
  });
});
