import type {
  AgentResponse,
  ChannelResponse,
  ChannelWithSigningSecretResponse,
  ChannelWithTokenResponse,
  CreatedChannelResponse,
  ReencryptSecretsResponse,
} from '../api/contracts/admin.js';
import type {
  MessageStatusResponse,
  MessageSummary,
  redeliverResponseSchema,
  resumeResponseSchema,
} from '../api/contracts/message.js';
import type { ErasureResponse } from '../api/contracts/erasure.js';
import type { z } from 'zod';
import type { ChatHistoryResponse, ChatSummary } from '../api/contracts/dashboard.js';
import type { ChatControlResponse } from '../api/contracts/handoff.js';
import {
  endpointCommand,
  field,
  fieldOptions,
  flagOfField,
  listCommand,
  resourceCommands,
  numberValue,
  resourcePath,
  str,
  stringValue,
  UsageError,
  type Command,
  type Field,
} from './command-builders.js';
import {
  agentTable,
  channelTable,
  chatTable,
  firstMessageCurl,
  formatAgent,
  formatChannel,
  formatChatHistory,
  formatMessage,
  messageTable,
  reencryptReport,
  erasureReport,
} from './output.js';

/** Every `chatrelay` command, described: resources with their fields and verbs, and single endpoints. */

const agentFields: Field[] = [
  field.string('name', 'name', 'a name for people', 'NAME'),
  field.text(
    'system_prompt',
    'system-prompt',
    'the system prompt ("" for none)',
    'TEXT',
    'read the system prompt from a file (- for standard input)',
  ),
  field.string('model', 'model', 'chat model name', 'MODEL'),
  field.number('temperature', 'temperature', 'sampling temperature, 0 to 2', 'NUMBER'),
  field.number('max_history_messages', 'max-history-messages', 'earlier messages the model sees, 0 to 200', 'N'),
  field.toggle(
    'vision',
    ['vision', 'send image attachments to the model as images'],
    ['no-vision', 'send image attachments as links'],
  ),
  field.string('transcription_model', 'transcription-model', 'speech-to-text model', 'MODEL'),
  field.string('tts_model', 'tts-model', 'text-to-speech model', 'MODEL'),
  field.string('tts_voice', 'tts-voice', 'text-to-speech voice', 'VOICE'),
  field.string('voice_prefix', 'voice-prefix', 'put before transcribed voice messages', 'TEXT'),
  field.string('fallback_reply', 'fallback-reply', 'sent when the model cannot answer', 'TEXT'),
  field.number(
    'interim_after_seconds',
    'interim-after',
    'send the interim text when the model takes longer, 0 (off) to 120',
    'SECONDS',
  ),
  field.string('interim_text', 'interim-text', 'the "one moment" part sent when the model is slow', 'TEXT'),
  field.string(
    'handoff_text',
    'handoff-text',
    'sent when the model hands the chat to a person ("" for no handoff)',
    'TEXT',
  ),
];

const channelFields: Field[] = [
  field.string('agent_id', 'agent', 'the agent that answers the channel', 'AGENT_ID'),
  field.string('page_id', 'page-id', 'the Page ID the platform sends', 'PAGE_ID'),
  field.string('reply_webhook_url', 'reply-url', 'the Reply Webhook URL replies are POSTed to', 'URL'),
  field.toggle(
    'assistant_connected',
    ['connected', 'the assistant answers (default)'],
    ['disconnected', 'messages are recorded but not answered'],
  ),
  field.number('reply_delay_seconds', 'delay', 'seconds before a reply is delivered, 0 to 300', 'SECONDS'),
  field.string('voice_replies', 'voice-replies', 'off | always | when_user_sent_voice', 'WHEN'),
  field.number('max_message_length', 'max-message-length', 'longest reply part, 100 to 10000 characters', 'N'),
  field.string('events_url', 'events-url', 'where operational events are POSTed ("" for none)', 'URL'),
  field.number(
    'typing_ms_per_char',
    'typing-ms-per-char',
    'pause per character before each part after the first, 0 (off) to 1000',
    'MS',
  ),
  field.number('typing_max_seconds', 'typing-max-seconds', 'longest pause before a part, 1 to 60', 'SECONDS'),
  field.number(
    'coalesce_window_seconds',
    'coalesce-window',
    'messages of one user this many seconds apart get one reply, 0 (off) to 60',
    'SECONDS',
  ),
  field.toggle(
    'supersede_stale_replies',
    ['supersede-stale-replies', 'drop a reply not yet sent when the user writes again'],
    ['keep-stale-replies', 'send every reply (default)'],
  ),
];

const apiToken = field.string(
  'api_token',
  'api-token',
  'use this API token (16+ characters) instead of a generated one',
  'TOKEN',
);
const fromPart = field.number(
  'from_part',
  'from-part',
  'first part to send again, from 1 (default: the first part not delivered)',
  'N',
);

const agentCommands = resourceCommands<AgentResponse>({
  group: 'agents',
  noun: 'agent',
  collection: 'agents',
  argument: 'AGENT_ID',
  fields: agentFields,
  show: formatAgent,
  table: agentTable,
  create: {
    summary: 'Create an agent (--name and --system-prompt are required)',
    required: [['name'], ['system-prompt', 'system-prompt-file']],
  },
  list: { summary: 'List agents' },
  get: { summary: 'Show an agent' },
  update: { summary: 'Change an agent (only the options given)' },
  delete: { summary: 'Delete an agent (refused while channels use it)' },
});

const channelCommands = resourceCommands<ChannelResponse>({
  group: 'channels',
  noun: 'channel',
  collection: 'channels',
  argument: 'CHANNEL_ID',
  fields: channelFields,
  show: formatChannel,
  table: channelTable,
  create: {
    summary:
      'Create a channel (--agent, --page-id and --reply-url are required); prints its API token and signing secret once',
    required: [['agent'], ['page-id'], ['reply-url']],
    extra: [apiToken],
    print: (item, ctx) => {
      const { api_token: token, signing_secret: signingSecret, ...shown } = item as CreatedChannelResponse;
      return [
        `Created channel ${shown.id} for page ${JSON.stringify(shown.page_id)}.`,
        '',
        'Shown this once, store them now:',
        `  API token (give it to the client platform):        ${token}`,
        `  signing secret (give it to the reply receiver):    ${signingSecret}`,
        '',
        formatChannel(shown),
        '',
        'Send a first message:',
        '',
        firstMessageCurl(ctx.client.baseUrl, shown.page_id, token),
      ].join('\n');
    },
  },
  list: {
    summary: 'List channels (API tokens are never shown)',
    filters: [field.string('agent_id', 'agent', 'only the channels of this agent', 'AGENT_ID')],
  },
  get: { summary: 'Show a channel' },
  update: { summary: 'Change a channel (only the options given; the token changes with rotate-token)' },
  delete: { summary: 'Delete a channel (its token stops working; its chats and messages are deleted after)' },
});

const channelActions: Command[] = [
  endpointCommand<ChannelWithTokenResponse>({
    group: 'channels',
    name: 'rotate-token',
    summary: "Replace a channel's API token; the old one stops working",
    argument: 'CHANNEL_ID',
    method: 'POST',
    path: (id) => resourcePath('channels', id, '/rotate-token'),
    fields: [apiToken],
    print: (channel) =>
      [
        `New API token for channel ${channel.id} (page ${JSON.stringify(channel.page_id)}, token version ${channel.token_version}), shown this once:`,
        `  ${channel.api_token}`,
        '',
        'The old token no longer works: give the new one to the client platform now.',
      ].join('\n'),
  }),
  endpointCommand<ChannelWithSigningSecretResponse>({
    group: 'channels',
    name: 'rotate-signing-secret',
    summary: "Replace the secret that signs a channel's reply POSTs; the old one keeps signing for a grace period",
    argument: 'CHANNEL_ID',
    method: 'POST',
    path: (id) => resourcePath('channels', id, '/rotate-signing-secret'),
    print: (channel) =>
      [
        `New signing secret for channel ${channel.id} (page ${JSON.stringify(channel.page_id)}), shown this once:`,
        `  ${channel.signing_secret}`,
        '',
        `Replies are signed with both the new and the previous secret until ${channel.previous_secrets_valid_until}:`,
        'give the new one to the reply receiver before then.',
      ].join('\n'),
  }),
  endpointCommand<ChannelResponse>({
    group: 'channels',
    name: 'pause',
    summary: "Pause delivery of a channel's replies; messages are still answered and their replies wait, in order",
    argument: 'CHANNEL_ID',
    method: 'POST',
    path: (id) => resourcePath('channels', id, '/pause'),
    print: (channel) =>
      `Paused delivery of channel ${channel.id} (page ${JSON.stringify(channel.page_id)}): replies wait until \`chatrelay channels resume ${channel.id}\`.`,
  }),
  endpointCommand<z.infer<typeof resumeResponseSchema>>({
    group: 'channels',
    name: 'resume',
    summary: 'Resume a channel paused by a 410 Gone; the replies that waited are delivered in order',
    argument: 'CHANNEL_ID',
    method: 'POST',
    path: (id) => resourcePath('channels', id, '/resume'),
    print: (result) =>
      `Resumed channel ${result.channel_id}: ${result.resumed_messages} waiting message(s) deliver now, each in its chat's order.`,
  }),
];

const messageCommands: Command[] = [
  listCommand<MessageSummary>({
    group: 'messages',
    summary: "List a channel's messages with their status, newest first",
    argument: 'CHANNEL_ID',
    path: (id) => resourcePath('channels', id, '/messages'),
    paging: {
      cursor: 'before',
      next: 'next_before',
      cursorDescription: 'only messages received before this time (the next_before of the previous page)',
    },
    table: messageTable,
  }),
  endpointCommand<MessageStatusResponse>({
    group: 'messages',
    name: 'get',
    summary: 'Show where a message is: its stage, reply parts and every delivery attempt',
    argument: 'MESSAGE_ID',
    method: 'GET',
    path: (id) => resourcePath('messages', id),
    print: formatMessage,
  }),
  endpointCommand<z.infer<typeof redeliverResponseSchema>>({
    group: 'messages',
    name: 'redeliver',
    summary: "Send a message's stored reply parts again, to the channel's current Reply Webhook URL",
    argument: 'MESSAGE_ID',
    method: 'POST',
    path: (id) => resourcePath('messages', id, '/redeliver'),
    fields: [fromPart],
    print: (result) =>
      [
        `Redelivering message ${result.message_id}: parts ${result.from_part} to ${result.part_count} (workflow ${result.workflow_id}).`,
        `Follow it: chatrelay messages get ${result.message_id}`,
      ].join('\n'),
  }),
];

/** `chats pause` and `chats resume` (human handoff): POST /v1/channels/{id}/chats/{chat_id}/{action}. */
function chatControlCommand(action: 'pause' | 'resume', summary: string): Command {
  return {
    group: 'chats',
    name: action,
    summary,
    argument: 'CHAT_ID',
    options: { channel: str('the channel the chat belongs to (required)', 'CHANNEL_ID') },
    async run(ctx) {
      const channelId = stringValue(ctx.values, 'channel');
      if (channelId === undefined) throw new UsageError('--channel is required');
      const result = (await ctx.client.request<ChatControlResponse>(
        'POST',
        resourcePath('channels', channelId, `/chats/${encodeURIComponent(ctx.id)}/${action}`),
      ))!;
      if (ctx.json) return ctx.out(JSON.stringify(result, null, 2));
      const state = result.assistant_paused
        ? 'paused: its messages are stored and not answered until `chatrelay chats resume`'
        : 'answering again';
      ctx.out(
        result.applied
          ? `The assistant of chat ${result.chat_id} is ${state}.`
          : `The assistant of chat ${result.chat_id} will be ${state} once the messages ahead of it in the chat are answered (workflow ${result.workflow_id}).`,
      );
    },
  };
}

const chatHistoryLimit = field.number('limit', 'limit', 'latest messages to show, 1 to 200 (default 50)', 'N');

const chatCommands: Command[] = [
  listCommand<ChatSummary>({
    group: 'chats',
    summary: "List a channel's chats (its end users), most recently active first",
    argument: 'CHANNEL_ID',
    path: (id) => resourcePath('channels', id, '/chats'),
    paging: {
      cursor: 'before',
      next: 'next_before',
      cursorDescription: 'only chats last active before this time (the next_before of the previous page)',
    },
    table: chatTable,
  }),
  {
    // A chat is addressed within its channel: GET /v1/channels/{id}/chats/{chat_id}.
    group: 'chats',
    name: 'show',
    summary: "Show one chat's history: each user message and the assistant's reply parts",
    argument: 'CHAT_ID',
    options: {
      channel: str('the channel the chat belongs to (required)', 'CHANNEL_ID'),
      ...fieldOptions([chatHistoryLimit]),
    },
    fields: [chatHistoryLimit],
    async run(ctx) {
      const channelId = stringValue(ctx.values, 'channel');
      if (channelId === undefined) throw new UsageError('--channel is required');
      const limit = numberValue(ctx.values, 'limit');
      const query = limit === undefined ? '' : `?limit=${limit}`;
      const history = (await ctx.client.request<ChatHistoryResponse>(
        'GET',
        resourcePath('channels', channelId, `/chats/${encodeURIComponent(ctx.id)}${query}`),
      ))!;
      ctx.out(ctx.json ? JSON.stringify(history, null, 2) : formatChatHistory(history));
    },
  },
  chatControlCommand(
    'pause',
    "Pause a chat's assistant so a person can take over: its messages are stored, not answered",
  ),
  chatControlCommand('resume', "Resume a chat's assistant: its messages are answered again"),
];

const userCommands: Command[] = [
  endpointCommand<ErasureResponse>({
    group: 'users',
    name: 'erase',
    summary:
      "Erase one end user's data: their chat on a page and every message of it, with all records (safe to repeat; 409 while a message is still being answered)",
    method: 'POST',
    path: () => '/v1/erasures',
    fields: [
      field.string('page_id', 'page-id', "the channel's Page ID, as in the end user's messages", 'PAGE_ID'),
      field.string('client_id', 'client-id', "the end user's id on the client platform", 'CLIENT_ID'),
    ],
    required: [['page-id'], ['client-id']],
    print: erasureReport,
  }),
];

const secretCommands: Command[] = [
  endpointCommand<ReencryptSecretsResponse>({
    group: 'secrets',
    name: 'reencrypt',
    summary: "Re-encrypt every signing secret under the API's current SECRETS_ENCRYPTION_KEY (step 3 of a key change)",
    method: 'POST',
    path: () => '/v1/secrets/reencrypt',
    print: reencryptReport,
  }),
];

export const commands: Command[] = [
  ...agentCommands,
  ...channelCommands,
  ...channelActions,
  ...messageCommands,
  ...chatCommands,
  ...secretCommands,
  ...userCommands,
];

/** Which flag sets which API field, so that API field errors can name the flag the user typed. */
export const flagOfApiField: Record<string, string> = Object.fromEntries(
  commands.flatMap((command) => command.fields ?? []).map((item): [string, string] => [item.api, flagOfField(item)]),
);
