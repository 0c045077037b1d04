import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { waitFor } from '../../src/lib/wait.js';
import { PNG_1X1 as PNG } from '../helpers/fixtures.js';
import { postMessage, startStack, type Stack } from '../helpers/stack.js';
import { captureAndCheck, launchChromium, widths, type AxeViolation } from './browser.js';

/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) on the real stack:
 * API, worker, Temporal dev server, MongoDB-compatible server, fake model API, real receiver.
 * One operator's day, in order: each step needs the one before.
 */
describe('dashboard in Chromium, on the real stack', () => {
  let s: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const failedRequests: string[] = [];
  /** Every URL the browser requested. */
  const browserRequests: string[] = [];
  /** An end user's avatar host: the user agent of every request it got. */
  const avatarHost = { server: undefined as Server | undefined, origin: '', userAgents: [] as string[] };
  let tryItChatId = '';
  const violations: AxeViolation[] = [];
  const reply = { url: '', path: '' };
  const state = { token: '', channelId: '', messageId: '' };

  const dashboard = () => `${s.baseUrl}/dashboard/`;
  const text = async (selector: string) => (await page.locator(selector).allInnerTexts()).join('\n');
  /** Polls the page until `selector`'s text matches, within a deadline. */
  const waitForText = (selector: string, pattern: RegExp, what: string) =>
    waitFor(async () => pattern.test(await text(selector)), { timeoutMs: 30_000, intervalMs: 100, what });
  const adminGet = async (path: string) => {
    const response = await fetch(`${s.baseUrl}${path}`, {
      headers: { authorization: `Bearer ${s.config.ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200, path);
    return (await response.json()) as Record<string, unknown>;
  };
  /** A tab of the channel page (the page may link to the same place elsewhere). */
  const tab = (name: string) => page.getByRole('navigation', { name: 'Channel' }).getByRole('link', { name });
  const check = async (name: string) => violations.push(...(await captureAndCheck(page, name)));

  before(async () => {
    s = await startStack();
    avatarHost.server = createServer((req, res) => {
      avatarHost.userAgents.push(req.headers['user-agent'] ?? '');
      res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
    });
    await new Promise<void>((resolve) => avatarHost.server?.listen(0, '127.0.0.1', resolve));
    avatarHost.origin = `http://127.0.0.1:${(avatarHost.server.address() as AddressInfo).port}`;
    Object.assign(reply, s.receiver.endpoint());
    browser = await launchChromium();
    context = await browser.newContext({ viewport: widths.desktop });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.baseUrl });
    page = await context.newPage();
    // A CSP violation or a script error shows up here; none is expected on any page.
    // (Failed requests are logged as console errors too: those are judged below, by URL.)
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        pageErrors.push(message.text());
    });
    page.on('response', (response) => {
      if (response.status() >= 400) failedRequests.push(`${response.status()} ${new URL(response.url()).pathname}`);
    });
    page.on('request', (request) => browserRequests.push(request.url()));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept());
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await s?.close();
    avatarHost.server?.closeAllConnections();
    await new Promise<void>((resolve) => (avatarHost.server ? avatarHost.server.close(() => resolve()) : resolve()));
  });

  test('is served under /dashboard with a strict Content-Security-Policy', async () => {
    const response = await fetch(dashboard());
    assert.equal(response.status, 200);
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await response.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
  });

  test('sign in: a wrong token is refused with a clear message, the admin token opens the overview', async () => {
    await page.goto(dashboard());
    await check('sign-in');
    await page.getByLabel('Admin token').fill('not-the-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitForText('[role=alert]', /admin token was refused/, 'the refusal');
    // By keyboard alone: the field keeps focus order, Enter submits.
    await page.getByLabel('Admin token').clear();
    await page.getByLabel('Admin token').focus();
    await page.keyboard.type(s.config.ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    // Kept for the tab only: session storage, no cookie.
    assert.deepEqual(await context.cookies(), []);
    await check('overview-empty');
  });

  test('create an agent', async () => {
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('button', { name: 'New agent' }).click();
    await page.getByLabel('Name').fill('Support');
    await page.getByLabel('System prompt').fill('You are the support assistant. Be brief.');
    await check('agent-form');
    await page.getByRole('button', { name: 'Create agent' }).click();
    await waitForText('.list', /Support/, 'the agent in the list');
    const agents = (await adminGet('/v1/agents')).data as { name: string; system_prompt: string }[];
    assert.deepEqual(
      agents.map((agent) => [agent.name, agent.system_prompt]),
      [['Support', 'You are the support assistant. Be brief.']],
    );
    await check('agents');
  });

  test('connect a channel with the reply delay slider at 2 s, and copy its token', async () => {
    await page.getByRole('link', { name: 'Channels' }).click();
    await page.getByRole('link', { name: 'Connect a channel' }).click();
    await page.getByLabel('Unique page ID').fill('browser-page');
    await page.getByLabel('Reply Webhook URL').fill(reply.url);
    await page.getByLabel(/Events URL/).fill(`${reply.url}/events`);
    assert.equal(await page.getByLabel('Connect assistant to this channel').isChecked(), true);
    // The slider by keyboard: two steps right of 0.
    await page.getByRole('slider', { name: /Reply delay/ }).focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await waitForText('output', /^2 s$/, 'the slider value shown');
    await check('connect-channel');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('heading', { name: 'Channel connected' }).waitFor();
    state.token = await page.getByTestId('api-token').innerText();
    assert.match(state.token, /^crt_/);
    assert.match(await page.getByTestId('signing-secret').innerText(), /^whsec_/);
    assert.match(await text('pre'), new RegExp(`Authorization: Bearer ${state.token}`));
    await page.getByRole('button', { name: 'Copy API token' }).click();
    await waitForText('.secret', /Copied/, 'the copy confirmation');
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), state.token);
    await check('channel-connected');
    const channels = (await adminGet('/v1/channels')).data as {
      id: string;
      reply_delay_seconds: number;
      events_url: string;
    }[];
    assert.equal(channels.length, 1);
    assert.equal(channels[0]?.reply_delay_seconds, 2);
    assert.equal(channels[0]?.events_url, `${reply.url}/events`);
    state.channelId = channels[0]?.id ?? '';
  });

  test('"Try it" sends a message that the receiver gets no sooner than the 2 s delay later', async () => {
    await page.getByRole('link', { name: 'Open the channel' }).click();
    await tab('Try it').click();
    await page.getByLabel('Message', { exact: true }).fill('Hello from the browser');
    await page.getByRole('button', { name: 'Send test message' }).click();
    const [delivered] = await s.receiver.waitForDelivered(1, { path: reply.path });
    assert.equal(delivered?.fields.text, 'Echo: Hello from the browser');
    state.messageId = String(delivered?.headers['x-chatrelay-message-id']);
    const chats = (await adminGet(`/v1/channels/${state.channelId}/chats`)).data as { id: string }[];
    tryItChatId = chats[0]?.id ?? '';
    await waitForText('[data-testid=test-reply]', /delivered/, 'the reply shown as delivered');
    await waitForText('[data-testid=test-reply] .parts', /Echo: Hello from the browser/, 'the reply part shown');
    const status = await adminGet(`/v1/messages/${state.messageId}`);
    const attempts = status.attempts as { at: string }[];
    const waited = Date.parse(attempts[0]?.at ?? '') - Date.parse(String(status.received_at));
    assert.ok(waited >= 2_000, `delivered ${waited} ms after it was received`);
    await check('try-it');
  });

  test('open its conversation', async () => {
    await page.getByRole('link', { name: 'Open the conversation' }).click();
    await page.getByRole('heading', { name: 'Dashboard test user' }).waitFor();
    await waitForText('.conversation .bubble.user', /Hello from the browser/, 'the user turn');
    await waitForText('.conversation .bubble.assistant', /Echo: Hello from the browser/, 'the assistant turn');
    await check('conversation');
    // Human handoff: a person takes the chat over, then gives it back to the assistant.
    await page.getByRole('button', { name: 'Pause assistant (a person takes over)' }).click();
    await waitForText('.handoff', /A person has this chat: .* \(by an admin\)/, 'the chat shown as paused');
    await check('conversation-paused');
    await page.getByRole('button', { name: 'Resume assistant' }).click();
    await waitForText('.handoff', /The assistant answers this chat/, 'the chat shown as resumed');
    await page.getByRole('link', { name: '← Conversations' }).click();
    await waitForText('.list', /Dashboard test user/, 'the chat in the list');
    await check('conversations');
  });

  test('redeliver it and see the second attempt', async () => {
    await tab('Messages').click();
    const row = page.locator(`[data-message-id="${state.messageId}"]`);
    await row.getByRole('button').first().click();
    await waitForText('[data-testid=attempts] tbody', /200/, 'the first attempt');
    assert.equal(await page.locator('[data-testid=attempts] tbody tr').count(), 1);
    await check('messages');
    await page.getByRole('button', { name: 'Redeliver' }).click();
    await s.receiver.waitForDelivered(2, { path: reply.path });
    await waitFor(async () => (await page.locator('[data-testid=attempts] tbody tr').count()) === 2, {
      what: 'the second attempt listed',
    });
    assert.match(await text('[data-testid=attempts] tbody'), /redelivery 1/);
    const posts = s.receiver.delivered(reply.path);
    assert.equal(posts[1]?.headers['webhook-id'], posts[0]?.headers['webhook-id'], 'the same webhook-id');
  });

  test('rotate the token: the old one is refused, the new one works', async () => {
    await tab('Settings').click();
    await page.getByRole('button', { name: 'Rotate token' }).click();
    await waitForText('[role=status]', /new API token/, 'the new token shown');
    const rotated = await page.getByTestId('api-token').innerText();
    assert.notEqual(rotated, state.token);
    const message = { client_id: 'u-rotate', page_id: 'browser-page', platform: 'CustomApp', text: 'after rotation' };
    assert.equal((await postMessage(s.baseUrl, state.token, message)).status, 401);
    assert.equal((await postMessage(s.baseUrl, rotated, message)).status, 200);
    await s.receiver.waitForDelivered(3, { path: reply.path });
    state.token = rotated;
    await check('channel-settings');
  });

  test('pause delivery: replies wait; resume: they arrive', async () => {
    await page.getByRole('button', { name: 'Pause delivery' }).click();
    await page.getByText('delivery paused', { exact: true }).waitFor();
    const message = { client_id: 'u-pause', page_id: 'browser-page', platform: 'CustomApp', text: 'while paused' };
    const accepted = await postMessage(s.baseUrl, state.token, message);
    assert.equal(accepted.status, 200);
    await waitFor(async () => (await adminGet(`/v1/messages/${String(accepted.body.message_id)}`)).stage === 'paused', {
      what: 'the reply to wait, paused',
    });
    assert.equal(s.receiver.delivered(reply.path).length, 3, 'nothing delivered while paused');
    await check('channel-paused');
    await page.getByRole('button', { name: 'Resume delivery' }).click();
    const posts = await s.receiver.waitForDelivered(4, { path: reply.path });
    assert.equal(posts[3]?.fields.text, 'Echo: while paused');
    await page.getByRole('button', { name: 'Pause delivery' }).waitFor();
  });

  test('the overview counts the hour', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await waitForText('.stats', /Delivered\s*3/, 'three messages delivered');
    await check('overview');
  });

  test("an end user's avatar is shown through the API: the browser never requests its URL", async () => {
    const message = {
      client_id: 'u-avatar',
      client_name: 'Avatar user',
      client_avatar: `${avatarHost.origin}/me.png`,
      page_id: 'browser-page',
      platform: 'CustomApp',
      text: 'with an avatar',
    };
    assert.equal((await postMessage(s.baseUrl, state.token, message)).status, 200);
    // The chat (and its avatar URL) is recorded with the reply.
    await s.receiver.waitForDelivered(5, { path: reply.path });
    await page.goto(`${dashboard()}#/channels/${state.channelId}/chats`);
    const avatar = page.locator('li.card', { hasText: 'Avatar user' }).locator('img.avatar');
    await avatar.waitFor();
    // The row's <img> has loaded its 1×1 image.
    const loaded = `[...document.querySelectorAll('li.card')].some((row) => row.textContent.includes('Avatar user') && row.querySelector('img.avatar')?.complete && row.querySelector('img.avatar').naturalWidth === 1)`;
    await waitFor(async () => (await page.evaluate(loaded)) === true, { what: 'the avatar image loaded' });
    assert.match((await avatar.getAttribute('src')) ?? '', /^blob:/);
    assert.deepEqual(
      browserRequests.filter((url) => url.startsWith(avatarHost.origin)),
      [],
      "the browser requested the avatar's own URL",
    );
    assert.ok(avatarHost.userAgents.length > 0, 'the API fetched the avatar');
    assert.deepEqual(new Set(avatarHost.userAgents), new Set(['chatrelay-safe-fetch']), 'only the API fetched it');
    await check('conversations-avatar');
  });

  test('no page had a serious or critical accessibility violation, a script error or a CSP violation', () => {
    assert.deepEqual(violations, []);
    assert.deepEqual(pageErrors, []);
    // Expected: the wrong token at sign-in; and "Try it" asking for its message and chat before the
    // worker has recorded them (the API only starts the workflow; the page shows "sent" meanwhile).
    const expected = new Set([
      '401 /v1/agents',
      `404 /v1/messages/${state.messageId}`,
      `404 /v1/channels/${state.channelId}/chats/${tryItChatId}`,
    ]);
    assert.deepEqual(
      failedRequests.filter((request) => !expected.has(request)),
      [],
    );
    assert.ok(failedRequests.includes('401 /v1/agents'), 'the wrong token was refused by the API');
  });
});
