import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type {
  AgentResponse,
  ChannelResponse,
  ChannelWithSigningSecretResponse,
  ChannelWithTokenResponse,
  CreatedChannelResponse,
  ReencryptSecretsResponse,
} from '../domain/admin-schemas.js';
import type { ChatHistoryResponse, ChatListResponse } from '../domain/dashboard-schemas.js';
import { ApiError, ConnectionError, createAdminClient, type AdminClient } from './api-client.js';
import {
  agentTable,
  channelTable,
  chatTable,
  firstMessageCurl,
  formatAgent,
  formatChannel,
  formatChatHistory,
} from './output.js';

/**
 * The `chatrelay` command line: agents and channels administration over the admin API.
 * Exit codes: 0 success, 1 the API refused or could not be reached, 2 the command line is wrong.
 */

export const DEFAULT_URL = 'http://127.0.0.1:8080';
const packageRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface CliEnvironment {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads standard input (for `--system-prompt-file -`). */
  readStdin(): string;
}

class UsageError extends Error {
  override name = 'UsageError';
}

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string];
const str = (description: string, valueName = 'VALUE') => ({ type: 'string' as const, description, valueName });
const flag = (description: string) => ({ type: 'boolean' as const, description });

const globalOptions = {
  url: str(`API base URL (env CHATRELAY_URL; default ${DEFAULT_URL})`, 'URL'),
  'admin-token': str('admin token (env ADMIN_TOKEN; else .data/admin-token, which the local stack writes)', 'TOKEN'),
  json: flag('print the API response as JSON, for scripts'),
  help: { ...flag('show help'), short: 'h' },
};

const agentFieldOptions = {
  name: str('a name for people', 'NAME'),
  'system-prompt': str('the system prompt ("" for none)', 'TEXT'),
  'system-prompt-file': str('read the system prompt from a file (- for standard input)', 'PATH'),
  model: str('chat model name', 'MODEL'),
  temperature: str('sampling temperature, 0 to 2', 'NUMBER'),
  'max-history-messages': str('earlier messages the model sees, 0 to 200', 'N'),
  vision: flag('send image attachments to the model as images'),
  'no-vision': flag('send image attachments as links'),
  'transcription-model': str('speech-to-text model', 'MODEL'),
  'tts-model': str('text-to-speech model', 'MODEL'),
  'tts-voice': str('text-to-speech voice', 'VOICE'),
  'voice-prefix': str('put before transcribed voice messages', 'TEXT'),
  'fallback-reply': str('sent when the model cannot answer', 'TEXT'),
};

const channelFieldOptions = {
  agent: str('the agent that answers the channel', 'AGENT_ID'),
  'page-id': str('the Page ID the platform sends', 'PAGE_ID'),
  'reply-url': str('the Reply Webhook URL replies are POSTed to', 'URL'),
  connected: flag('the assistant answers (default)'),
  disconnected: flag('messages are recorded but not answered'),
  delay: str('seconds before a reply is delivered, 0 to 300', 'SECONDS'),
  'voice-replies': str('off | always | when_user_sent_voice', 'WHEN'),
  'max-message-length': str('longest reply part, 100 to 10000 characters', 'N'),
};

const apiTokenOption = { 'api-token': str('use this API token (16+ characters) instead of a generated one', 'TOKEN') };
const listOptions = {
  limit: str('items per page, 1 to 100 (default 20)', 'N'),
  after: str('start after this id (the next_after of the previous page)', 'ID'),
  all: flag('follow every page'),
};

interface Command {
  group: 'agents' | 'channels' | 'chats' | 'secrets';
  name: string;
  summary: string;
  /** Positional argument, if any. */
  argument?: string;
  options: Record<string, OptionSpec & { description: string; valueName?: string }>;
  run(ctx: Context): Promise<void>;
}

interface Context {
  client: AdminClient;
  values: Record<string, string | boolean | undefined>;
  id: string;
  json: boolean;
  out(text: string): void;
  io: CliEnvironment;
}

// Which flag sets which API field, so that API field errors can name the flag the user typed.
const flagOfField: Record<string, string> = {
  name: '--name',
  system_prompt: '--system-prompt',
  model: '--model',
  temperature: '--temperature',
  max_history_messages: '--max-history-messages',
  vision: '--vision/--no-vision',
  transcription_model: '--transcription-model',
  tts_model: '--tts-model',
  tts_voice: '--tts-voice',
  voice_prefix: '--voice-prefix',
  fallback_reply: '--fallback-reply',
  agent_id: '--agent',
  page_id: '--page-id',
  api_token: '--api-token',
  reply_webhook_url: '--reply-url',
  assistant_connected: '--connected/--disconnected',
  reply_delay_seconds: '--delay',
  voice_replies: '--voice-replies',
  max_message_length: '--max-message-length',
  limit: '--limit',
  after: '--after',
};

function stringValue(values: Context['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function numberValue(values: Context['values'], name: string): number | undefined {
  const value = stringValue(values, name);
  if (value === undefined) return undefined;
  const number = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(number)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(value)}`);
  return number;
}

function exclusive(values: Context['values'], yes: string, no: string): boolean | undefined {
  if (values[yes] === true && values[no] === true) throw new UsageError(`--${yes} and --${no} cannot be used together`);
  if (values[yes] === true) return true;
  if (values[no] === true) return false;
  return undefined;
}

/** Only the fields whose flag was given. */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function agentFields(ctx: Context): Record<string, unknown> {
  const { values } = ctx;
  let systemPrompt = stringValue(values, 'system-prompt');
  const promptFile = stringValue(values, 'system-prompt-file');
  if (promptFile !== undefined) {
    if (systemPrompt !== undefined)
      throw new UsageError('--system-prompt and --system-prompt-file cannot be used together');
    try {
      systemPrompt = promptFile === '-' ? ctx.io.readStdin() : readFileSync(resolve(ctx.io.cwd, promptFile), 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --system-prompt-file ${promptFile}: ${(error as Error).message}`);
    }
  }
  return defined({
    name: stringValue(values, 'name'),
    system_prompt: systemPrompt,
    model: stringValue(values, 'model'),
    temperature: numberValue(values, 'temperature'),
    max_history_messages: numberValue(values, 'max-history-messages'),
    vision: exclusive(values, 'vision', 'no-vision'),
    transcription_model: stringValue(values, 'transcription-model'),
    tts_model: stringValue(values, 'tts-model'),
    tts_voice: stringValue(values, 'tts-voice'),
    voice_prefix: stringValue(values, 'voice-prefix'),
    fallback_reply: stringValue(values, 'fallback-reply'),
  });
}

function channelFields(ctx: Context): Record<string, unknown> {
  const { values } = ctx;
  return defined({
    agent_id: stringValue(values, 'agent'),
    page_id: stringValue(values, 'page-id'),
    reply_webhook_url: stringValue(values, 'reply-url'),
    assistant_connected: exclusive(values, 'connected', 'disconnected'),
    reply_delay_seconds: numberValue(values, 'delay'),
    voice_replies: stringValue(values, 'voice-replies'),
    max_message_length: numberValue(values, 'max-message-length'),
  });
}

function requireFlags(values: Context['values'], ...names: string[][]): void {
  for (const alternatives of names) {
    if (alternatives.every((name) => values[name] === undefined)) {
      throw new UsageError(`${alternatives.map((name) => `--${name}`).join(' or ')} is required`);
    }
  }
}

function somethingToChange(fields: Record<string, unknown>, what: string): void {
  if (Object.keys(fields).length === 0) throw new UsageError(`nothing to change: give at least one ${what} option`);
}

const path = (collection: string, id: string, suffix = '') => `/v1/${collection}/${encodeURIComponent(id)}${suffix}`;

async function listAll<T>(
  ctx: Context,
  collection: string,
  extra: Record<string, string | undefined> = {},
): Promise<{ data: T[]; next_after: string | null }> {
  const limit = numberValue(ctx.values, 'limit');
  let after = stringValue(ctx.values, 'after');
  const data: T[] = [];
  for (;;) {
    const params = new URLSearchParams(
      defined({ limit: limit === undefined ? undefined : String(limit), after, ...extra }) as Record<string, string>,
    );
    const query = params.size > 0 ? `?${params.toString()}` : '';
    const page = (await ctx.client.request<{ data: T[]; next_after: string | null }>(
      'GET',
      `/v1/${collection}${query}`,
    )) ?? { data: [], next_after: null };
    data.push(...page.data);
    if (ctx.values.all !== true || page.next_after === null) return { data, next_after: page.next_after };
    after = page.next_after;
  }
}

function printJson(ctx: Context, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}

function moreHint(nextAfter: string | null): string {
  return nextAfter === null ? '' : `\nMore: add --after ${nextAfter} (or --all).`;
}

const commands: Command[] = [
  {
    group: 'agents',
    name: 'create',
    summary: 'Create an agent (--name and --system-prompt are required)',
    options: agentFieldOptions,
    async run(ctx) {
      requireFlags(ctx.values, ['name'], ['system-prompt', 'system-prompt-file']);
      const agent = (await ctx.client.request<AgentResponse>('POST', '/v1/agents', agentFields(ctx)))!;
      if (ctx.json) return printJson(ctx, agent);
      ctx.out(`Created agent ${agent.id}.\n\n${formatAgent(agent)}`);
    },
  },
  {
    group: 'agents',
    name: 'list',
    summary: 'List agents',
    options: listOptions,
    async run(ctx) {
      const page = await listAll<AgentResponse>(ctx, 'agents');
      if (ctx.json) return printJson(ctx, page);
      ctx.out(`${agentTable(page.data)}${moreHint(page.next_after)}`);
    },
  },
  {
    group: 'agents',
    name: 'get',
    summary: 'Show an agent',
    argument: 'AGENT_ID',
    options: {},
    async run(ctx) {
      const agent = (await ctx.client.request<AgentResponse>('GET', path('agents', ctx.id)))!;
      ctx.out(ctx.json ? JSON.stringify(agent, null, 2) : formatAgent(agent));
    },
  },
  {
    group: 'agents',
    name: 'update',
    summary: 'Change an agent (only the options given)',
    argument: 'AGENT_ID',
    options: agentFieldOptions,
    async run(ctx) {
      const fields = agentFields(ctx);
      somethingToChange(fields, 'agent');
      const agent = (await ctx.client.request<AgentResponse>('PATCH', path('agents', ctx.id), fields))!;
      if (ctx.json) return printJson(ctx, agent);
      ctx.out(`Updated agent ${agent.id}.\n\n${formatAgent(agent)}`);
    },
  },
  {
    group: 'agents',
    name: 'delete',
    summary: 'Delete an agent (refused while channels use it)',
    argument: 'AGENT_ID',
    options: {},
    async run(ctx) {
      await ctx.client.request('DELETE', path('agents', ctx.id));
      ctx.out(ctx.json ? JSON.stringify({ id: ctx.id, deleted: true }) : `Deleted agent ${ctx.id}.`);
    },
  },
  {
    group: 'channels',
    name: 'create',
    summary:
      'Create a channel (--agent, --page-id and --reply-url are required); prints its API token and signing secret once',
    options: { ...channelFieldOptions, ...apiTokenOption },
    async run(ctx) {
      requireFlags(ctx.values, ['agent'], ['page-id'], ['reply-url']);
      const body = { ...channelFields(ctx), ...defined({ api_token: stringValue(ctx.values, 'api-token') }) };
      const channel = (await ctx.client.request<CreatedChannelResponse>('POST', '/v1/channels', body))!;
      if (ctx.json) return printJson(ctx, channel);
      const { api_token: apiToken, signing_secret: signingSecret, ...shown } = channel;
      ctx.out(
        [
          `Created channel ${channel.id} for page ${JSON.stringify(channel.page_id)}.`,
          '',
          'Shown this once, store them now:',
          `  API token (give it to the client platform):        ${apiToken}`,
          `  signing secret (give it to the reply receiver):    ${signingSecret}`,
          '',
          formatChannel(shown),
          '',
          'Send a first message:',
          '',
          firstMessageCurl(ctx.client.baseUrl, channel.page_id, apiToken),
        ].join('\n'),
      );
    },
  },
  {
    group: 'channels',
    name: 'list',
    summary: 'List channels (API tokens are never shown)',
    options: { ...listOptions, agent: str('only the channels of this agent', 'AGENT_ID') },
    async run(ctx) {
      const page = await listAll<ChannelResponse>(ctx, 'channels', { agent_id: stringValue(ctx.values, 'agent') });
      if (ctx.json) return printJson(ctx, page);
      ctx.out(`${channelTable(page.data)}${moreHint(page.next_after)}`);
    },
  },
  {
    group: 'channels',
    name: 'get',
    summary: 'Show a channel',
    argument: 'CHANNEL_ID',
    options: {},
    async run(ctx) {
      const channel = (await ctx.client.request<ChannelResponse>('GET', path('channels', ctx.id)))!;
      ctx.out(ctx.json ? JSON.stringify(channel, null, 2) : formatChannel(channel));
    },
  },
  {
    group: 'channels',
    name: 'update',
    summary: 'Change a channel (only the options given; the token changes with rotate-token)',
    argument: 'CHANNEL_ID',
    options: channelFieldOptions,
    async run(ctx) {
      const fields = channelFields(ctx);
      somethingToChange(fields, 'channel');
      const channel = (await ctx.client.request<ChannelResponse>('PATCH', path('channels', ctx.id), fields))!;
      if (ctx.json) return printJson(ctx, channel);
      ctx.out(`Updated channel ${channel.id}.\n\n${formatChannel(channel)}`);
    },
  },
  {
    group: 'channels',
    name: 'delete',
    summary: 'Delete a channel (its token stops working)',
    argument: 'CHANNEL_ID',
    options: {},
    async run(ctx) {
      await ctx.client.request('DELETE', path('channels', ctx.id));
      ctx.out(ctx.json ? JSON.stringify({ id: ctx.id, deleted: true }) : `Deleted channel ${ctx.id}.`);
    },
  },
  {
    group: 'channels',
    name: 'rotate-token',
    summary: "Replace a channel's API token; the old one stops working",
    argument: 'CHANNEL_ID',
    options: apiTokenOption,
    async run(ctx) {
      const body = defined({ api_token: stringValue(ctx.values, 'api-token') });
      const channel = (await ctx.client.request<ChannelWithTokenResponse>(
        'POST',
        path('channels', ctx.id, '/rotate-token'),
        body,
      ))!;
      if (ctx.json) return printJson(ctx, channel);
      ctx.out(
        [
          `New API token for channel ${channel.id} (page ${JSON.stringify(channel.page_id)}, token version ${channel.token_version}), shown this once:`,
          `  ${channel.api_token}`,
          '',
          'The old token no longer works: give the new one to the client platform now.',
        ].join('\n'),
      );
    },
  },
  {
    group: 'channels',
    name: 'rotate-signing-secret',
    summary: "Replace the secret that signs a channel's reply POSTs; the old one keeps signing for a grace period",
    argument: 'CHANNEL_ID',
    options: {},
    async run(ctx) {
      const channel = (await ctx.client.request<ChannelWithSigningSecretResponse>(
        'POST',
        path('channels', ctx.id, '/rotate-signing-secret'),
      ))!;
      if (ctx.json) return printJson(ctx, channel);
      ctx.out(
        [
          `New signing secret for channel ${channel.id} (page ${JSON.stringify(channel.page_id)}), shown this once:`,
          `  ${channel.signing_secret}`,
          '',
          `Replies are signed with both the new and the previous secret until ${channel.previous_secrets_valid_until}:`,
          'give the new one to the reply receiver before then.',
        ].join('\n'),
      );
    },
  },
  {
    group: 'channels',
    name: 'pause',
    summary: "Pause delivery of a channel's replies; messages are still answered and their replies wait, in order",
    argument: 'CHANNEL_ID',
    options: {},
    async run(ctx) {
      const channel = (await ctx.client.request<ChannelResponse>('POST', path('channels', ctx.id, '/pause')))!;
      if (ctx.json) return printJson(ctx, channel);
      ctx.out(
        `Paused delivery of channel ${channel.id} (page ${JSON.stringify(channel.page_id)}): replies wait until it is resumed (POST /v1/channels/${channel.id}/resume).`,
      );
    },
  },
  {
    group: 'chats',
    name: 'list',
    summary: "List a channel's chats (its end users), most recently active first",
    argument: 'CHANNEL_ID',
    options: { limit: str('chats to show, 1 to 100 (default 20)', 'N') },
    async run(ctx) {
      const limit = numberValue(ctx.values, 'limit');
      const query = limit === undefined ? '' : `?limit=${limit}`;
      const page = (await ctx.client.request<ChatListResponse>('GET', path('channels', ctx.id, `/chats${query}`)))!;
      if (ctx.json) return printJson(ctx, page);
      ctx.out(
        chatTable(page.data) +
          (page.next_before ? '\n\nMore chats: raise --limit, or page with the API (before).' : ''),
      );
    },
  },
  {
    group: 'chats',
    name: 'show',
    summary: "Show one chat's history: each user message and the assistant's reply parts",
    argument: 'CHAT_ID',
    options: {
      channel: str('the channel the chat belongs to (required)', 'CHANNEL_ID'),
      limit: str('latest messages to show, 1 to 200 (default 50)', 'N'),
    },
    async run(ctx) {
      requireFlags(ctx.values, ['channel']);
      const limit = numberValue(ctx.values, 'limit');
      const suffix = `/chats/${encodeURIComponent(ctx.id)}${limit === undefined ? '' : `?limit=${limit}`}`;
      const channelId = stringValue(ctx.values, 'channel') ?? '';
      const history = (await ctx.client.request<ChatHistoryResponse>('GET', path('channels', channelId, suffix)))!;
      if (ctx.json) return printJson(ctx, history);
      ctx.out(formatChatHistory(history));
    },
  },
  {
    group: 'secrets',
    name: 'reencrypt',
    summary: "Re-encrypt every signing secret under the API's current SECRETS_ENCRYPTION_KEY (step 3 of a key change)",
    options: {},
    async run(ctx) {
      const result = (await ctx.client.request<ReencryptSecretsResponse>('POST', '/v1/secrets/reencrypt'))!;
      if (ctx.json) return printJson(ctx, result);
      const { signing_secrets: secrets, api_tokens: tokens } = result;
      const lines = [
        `Signing secrets: ${secrets.reencrypted} re-encrypted, ${secrets.already_current} already under the current key, ${secrets.unreadable} unreadable.`,
      ];
      if (secrets.unreadable > 0)
        lines.push(
          "  Unreadable secrets need a key that is not configured: add it to SECRETS_ENCRYPTION_OLD_KEYS and run again, or rotate those channels' signing secrets.",
        );
      const list = (ids: string[]) =>
        ids.slice(0, 20).join(', ') + (ids.length > 20 ? `, … (${ids.length - 20} more; --json lists all)` : '');
      if (tokens.under_old_key.length > 0)
        lines.push(
          `API tokens hashed under an old key (keep it in SECRETS_ENCRYPTION_OLD_KEYS until they are rotated): ${list(tokens.under_old_key)}`,
        );
      if (tokens.under_unknown_key.length > 0)
        lines.push(
          `API tokens hashed under a key no longer configured (they no longer work; rotate them): ${list(tokens.under_unknown_key)}`,
        );
      if (tokens.plain_sha256.length > 0)
        lines.push(
          `API tokens stored as plain SHA-256 (they work; rotate them for the keyed hash): ${list(tokens.plain_sha256)}`,
        );
      const done =
        secrets.unreadable === 0 && tokens.under_old_key.length === 0 && tokens.under_unknown_key.length === 0;
      lines.push(
        done
          ? 'Nothing needs the old keys any more: SECRETS_ENCRYPTION_OLD_KEYS can be emptied.'
          : 'Keep SECRETS_ENCRYPTION_OLD_KEYS for now.',
      );
      ctx.out(lines.join('\n'));
    },
  },
];

function optionLines(options: Command['options']): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const left = `--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`;
    return [left, spec.description] as const;
  });
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, description]) => `  ${left.padEnd(width)}  ${description}`);
}

function commandUsage(command: Command): string {
  const synopsis = `chatrelay ${command.group} ${command.name}${command.argument ? ` <${command.argument}>` : ''}${Object.keys(command.options).length > 0 ? ' [options]' : ''}`;
  const lines = [`Usage: ${synopsis}`, '', command.summary + '.'];
  if (Object.keys(command.options).length > 0) lines.push('', 'Options:', ...optionLines(command.options));
  lines.push('', 'Global options:', ...optionLines(globalOptions));
  return lines.join('\n');
}

export function mainUsage(): string {
  const width = Math.max(
    ...commands.map(
      (command) => `${command.group} ${command.name}${command.argument ? ` <${command.argument}>` : ''}`.length,
    ),
  );
  return [
    'Usage: chatrelay <agents|channels|chats|secrets> <command> [arguments] [options]',
    '',
    'Administers chatrelay agents, channels and stored secrets through the admin API.',
    '',
    'Commands:',
    ...commands.map(
      (command) =>
        `  ${`${command.group} ${command.name}${command.argument ? ` <${command.argument}>` : ''}`.padEnd(width)}  ${command.summary}`,
    ),
    '',
    'Global options:',
    ...optionLines(globalOptions),
    '',
    'Run `chatrelay <group> <command> --help` for the options of a command.',
    'Exit codes: 0 success, 1 the API refused or could not be reached, 2 wrong usage.',
  ].join('\n');
}

/** Every option any command knows, so that options may come before or after the command words. */
function allOptions(): NonNullable<ParseArgsConfig['options']> {
  const all: NonNullable<ParseArgsConfig['options']> = {};
  const groups: Array<Record<string, OptionSpec>> = [globalOptions, ...commands.map((command) => command.options)];
  for (const options of groups) {
    for (const [name, spec] of Object.entries(options))
      all[name] = { type: spec.type, ...('short' in spec ? { short: spec.short } : {}) };
  }
  return all;
}

function resolveAdminToken(given: string | undefined, io: CliEnvironment): string {
  const token = given ?? (io.env.ADMIN_TOKEN || undefined);
  if (token !== undefined) return token;
  const dataDirs = io.env.STACK_DATA_DIR
    ? [resolve(io.cwd, io.env.STACK_DATA_DIR)]
    : [join(io.cwd, '.data'), join(packageRoot, '.data')];
  for (const dir of new Set(dataDirs)) {
    const file = join(dir, 'admin-token');
    if (existsSync(file)) {
      const value = readFileSync(file, 'utf8').trim();
      if (value !== '') return value;
    }
  }
  throw new UsageError(
    'no admin token: pass --admin-token, set ADMIN_TOKEN, or start the local stack (it writes .data/admin-token)',
  );
}

function resolveUrl(given: string | undefined, io: CliEnvironment): string {
  const value = given ?? (io.env.CHATRELAY_URL || DEFAULT_URL);
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, '');
}

function printApiError(error: ApiError, json: boolean, io: CliEnvironment): void {
  if (json) {
    io.stderr(JSON.stringify(error.body, null, 2));
    return;
  }
  const { code, message, request_id: requestId, details } = error.body.error;
  io.stderr(`error: ${message} (HTTP ${error.status} ${code}${requestId ? `, request ${requestId}` : ''})`);
  for (const detail of details ?? []) {
    const flagName = flagOfField[detail.path];
    io.stderr(`  ${detail.path}${flagName ? ` (${flagName})` : ''}: ${detail.message}`);
  }
}

/** Runs one command line; returns the process exit code. */
export async function runCli(argv: string[], io: CliEnvironment): Promise<number> {
  let json = argv.includes('--json');
  let hint = 'Run `chatrelay --help` for usage.';
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: allOptions(), allowPositionals: true, strict: true, tokens: true });
    } catch (error) {
      throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
    }
    const { positionals, tokens } = parsed;
    const values = parsed.values as Context['values'];
    json = values.json === true;
    const [group, name, ...rest] = positionals;
    const groups = ['agents', 'channels', 'chats', 'secrets'];
    if (group === undefined || (values.help === true && name === undefined && groups.includes(group))) {
      if (values.help === true) {
        io.stdout(mainUsage());
        return 0;
      }
      io.stderr(mainUsage());
      return 2;
    }
    if (!groups.includes(group))
      throw new UsageError(`unknown command group ${JSON.stringify(group)}: use agents, channels, chats or secrets`);
    const command = commands.find((candidate) => candidate.group === group && candidate.name === name);
    if (!command) {
      const known = commands
        .filter((candidate) => candidate.group === group)
        .map((candidate) => candidate.name)
        .join(', ');
      throw new UsageError(
        name === undefined
          ? `"${group}" needs a command: ${known}`
          : `unknown command "${group} ${name}" (known: ${known})`,
      );
    }
    hint = `Run \`chatrelay ${group} ${name} --help\` for its options.`;
    if (values.help === true) {
      io.stdout(commandUsage(command));
      return 0;
    }
    for (const token of tokens) {
      if (token.kind === 'option' && !(token.name in globalOptions) && !(token.name in command.options)) {
        throw new UsageError(`--${token.name} is not an option of "${group} ${name}"`);
      }
    }
    if (command.argument !== undefined && rest.length === 0) throw new UsageError(`<${command.argument}> is required`);
    const expected = command.argument === undefined ? 0 : 1;
    if (rest.length > expected) throw new UsageError(`unexpected argument ${JSON.stringify(rest[expected])}`);

    const client = createAdminClient({
      baseUrl: resolveUrl(typeof values.url === 'string' ? values.url : undefined, io),
      adminToken: resolveAdminToken(typeof values['admin-token'] === 'string' ? values['admin-token'] : undefined, io),
    });
    await command.run({ client, values, id: rest[0] ?? '', json, out: (text) => io.stdout(text), io });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\n${hint}`);
      return 2;
    }
    if (error instanceof ApiError) {
      printApiError(error, json, io);
      return 1;
    }
    if (error instanceof ConnectionError) {
      io.stderr(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
