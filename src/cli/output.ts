import type { ChatHistoryResponse, ChatSummary } from '../api/contracts/dashboard.js';
import type { ErasureResponse } from '../api/contracts/erasure.js';
import type { AgentResponse, ChannelResponse, ReencryptSecretsResponse } from '../api/contracts/admin.js';
import type { MessageStatusResponse, MessageSummary } from '../api/contracts/message.js';

/** Human-readable output of the CLI. Pure: strings in, strings out. */

/** `key  value` lines, keys padded to one column. */
export function keyValues(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n');
}

/** A plain text table: a header row, then one row per item; empty tables say so. */
export function table(headers: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return empty;
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');
const oneLine = (value: string, max: number) => {
  const flat = value.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};
/** Strings shown as JSON literals when blank or padded, so that '' and ' ' are visible. */
const visible = (value: string) => (value === '' || value.trim() !== value ? JSON.stringify(value) : value);

export function formatAgent(agent: AgentResponse): string {
  const rows: [string, string][] = [
    ['id', agent.id],
    ['name', agent.name],
    ['model', agent.model],
    ['temperature', String(agent.temperature)],
    ['max_history_messages', String(agent.max_history_messages)],
    ['vision', yesNo(agent.vision)],
    ['transcription_model', agent.transcription_model],
    ['tts_model', agent.tts_model],
    ['tts_voice', agent.tts_voice],
    ['voice_prefix', visible(agent.voice_prefix)],
    ['fallback_reply', visible(agent.fallback_reply)],
    [
      'interim',
      agent.interim_after_seconds > 0 ? `after ${agent.interim_after_seconds}s: ${visible(agent.interim_text)}` : 'off',
    ],
    ['handoff_text', visible(agent.handoff_text)],
    ['created_at', agent.created_at],
    ['updated_at', agent.updated_at],
  ];
  const prompt = agent.system_prompt === '' ? '  (none)' : agent.system_prompt.replace(/^/gm, '  ');
  return `${keyValues(rows)}\nsystem_prompt:\n${prompt}`;
}

export function formatChannel(channel: ChannelResponse): string {
  return keyValues([
    ['id', channel.id],
    ['page_id', channel.page_id],
    ['agent_id', channel.agent_id],
    ['reply_webhook_url', channel.reply_webhook_url],
    ['assistant_connected', yesNo(channel.assistant_connected)],
    ['reply_delay_seconds', String(channel.reply_delay_seconds)],
    ['voice_replies', channel.voice_replies],
    ['max_message_length', String(channel.max_message_length)],
    ['events_url', channel.events_url === '' ? '(none)' : channel.events_url],
    [
      'typing',
      channel.typing_ms_per_char > 0
        ? `${channel.typing_ms_per_char} ms per character, at most ${channel.typing_max_seconds}s before a part`
        : 'off',
    ],
    ['coalesce_window_seconds', String(channel.coalesce_window_seconds)],
    ['supersede_stale_replies', yesNo(channel.supersede_stale_replies)],
    [
      'delivery_paused',
      channel.delivery_paused
        ? `yes: ${channel.paused_reason ?? 'no reason given'} (resume: POST /v1/channels/${channel.id}/resume)`
        : 'no',
    ],
    [
      'api_token',
      `…${channel.api_token_last4} (version ${channel.token_version}; the token itself is shown only when created or rotated)`,
    ],
    ['created_at', channel.created_at],
    ['updated_at', channel.updated_at],
  ]);
}

export function agentTable(agents: AgentResponse[]): string {
  return table(
    ['ID', 'NAME', 'MODEL', 'SYSTEM PROMPT'],
    agents.map((agent) => [agent.id, oneLine(agent.name, 40), agent.model, oneLine(agent.system_prompt, 50)]),
    'No agents.',
  );
}

export function channelTable(channels: ChannelResponse[]): string {
  return table(
    ['ID', 'PAGE ID', 'AGENT', 'CONNECTED', 'DELAY', 'VOICE', 'TOKEN', 'REPLY URL'],
    channels.map((channel) => [
      channel.id,
      oneLine(channel.page_id, 40),
      channel.agent_id,
      channel.delivery_paused ? 'paused' : yesNo(channel.assistant_connected),
      `${channel.reply_delay_seconds}s`,
      channel.voice_replies,
      `…${channel.api_token_last4}`,
      channel.reply_webhook_url,
    ]),
    'No channels.',
  );
}

/** Where a message is, in words: "delivering part 2 of 3", "retry_pending (next at …)". */
function stageOf(message: MessageStatusResponse): string {
  if (message.stage === 'delivering' && message.current_part !== null)
    return `delivering part ${message.current_part} of ${message.part_count ?? '?'}`;
  if (message.stage === 'retry_pending' && message.next_retry_at !== null)
    return `retry_pending (part ${message.current_part ?? '?'}, next attempt at ${message.next_retry_at})`;
  return message.stage;
}

const orNone = (value: string | null) => value ?? '-';

export function formatMessage(message: MessageStatusResponse): string {
  const summary = keyValues([
    ['id', message.id],
    ['channel_id', message.channel_id],
    ['page_id', message.page_id],
    ['client_id', message.client_id],
    ['status', message.status],
    ['stage', stageOf(message)],
    ['parts_delivered', `${message.parts_delivered} of ${message.part_count ?? 0}`],
    ['last_error', orNone(message.last_error)],
    ['reason', orNone(message.reason)],
    ['answered_by', orNone(message.answered_by)],
    ['received_at', message.received_at],
    ['updated_at', message.updated_at],
    ['completed_at', orNone(message.completed_at)],
  ]);
  const parts = table(
    ['PART', 'DELIVERY ID', 'CHARACTERS', 'MEDIA', 'DELIVERED AT'],
    message.parts.map((part) => [
      String(part.part),
      part.delivery_id,
      String(part.characters),
      String(part.images.length + (part.file === null ? 0 : 1) + (part.audio_url === null ? 0 : 1)),
      orNone(part.delivered_at),
    ]),
    '  (no reply parts)',
  );
  const attempts = table(
    ['PART', 'ATTEMPT', 'AT', 'RESULT', 'HTTP', 'MS', 'ERROR'],
    message.attempts.map((attempt) => [
      String(attempt.part),
      `${attempt.attempt}${attempt.redelivery === undefined ? '' : ` (redelivery ${attempt.redelivery})`}`,
      attempt.at,
      attempt.result,
      attempt.http_status === undefined ? '-' : String(attempt.http_status),
      String(Math.round(attempt.duration_ms)),
      attempt.error ?? '',
    ]),
    '  (no delivery attempts)',
  );
  return `${summary}\n\nParts:\n${parts}\n\nDelivery attempts:\n${attempts}`;
}

export function messageTable(messages: MessageSummary[]): string {
  return table(
    ['ID', 'CLIENT', 'STATUS', 'STAGE', 'PARTS', 'RECEIVED', 'REASON'],
    messages.map((message) => [
      message.id,
      oneLine(message.client_id, 30),
      message.status,
      message.stage,
      `${message.parts_delivered}/${message.part_count ?? 0}`,
      message.received_at,
      message.answered_by !== null ? `answered by ${message.answered_by}` : oneLine(message.reason ?? '', 60),
    ]),
    'No messages.',
  );
}

/** What `secrets reencrypt` did, and whether the old keys are still needed. */
export function reencryptReport(result: ReencryptSecretsResponse): string {
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
  const done = secrets.unreadable === 0 && tokens.under_old_key.length === 0 && tokens.under_unknown_key.length === 0;
  lines.push(
    done
      ? 'Nothing needs the old keys any more: SECRETS_ENCRYPTION_OLD_KEYS can be emptied.'
      : 'Keep SECRETS_ENCRYPTION_OLD_KEYS for now.',
  );
  return lines.join('\n');
}

/** A word quoted for POSIX shells. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The curl command that sends a first message to a channel, ready to paste. */
export function firstMessageCurl(baseUrl: string, pageId: string, apiToken: string): string {
  const body = JSON.stringify({ client_id: 'test-user', page_id: pageId, platform: 'CustomApp', text: 'Hello!' });
  return [
    `curl -sS -X POST ${shellQuote(`${baseUrl}/webhook/mychatbot`)} \\`,
    `  -H ${shellQuote(`Authorization: Bearer ${apiToken}`)} \\`,
    `  -H ${shellQuote('Content-Type: application/json')} \\`,
    `  -d ${shellQuote(body)}`,
  ].join('\n');
}

export function chatTable(chats: ChatSummary[]): string {
  return table(
    ['ID', 'CLIENT', 'NAME', 'PLATFORM', 'LAST SEEN', 'LAST MESSAGE'],
    chats.map((chat) => [
      chat.id,
      chat.client_id,
      chat.client_name ?? '',
      chat.platform,
      chat.last_seen_at ?? '',
      chat.last_message ? `${chat.last_message.role}: ${oneLine(chat.last_message.text, 60)}` : '',
    ]),
    'No chats.',
  );
}

/** A chat's history, oldest first: each user message, then the reply's parts. */
export function formatChatHistory(history: ChatHistoryResponse): string {
  const { chat, turns } = history;
  const lines = [`Chat ${chat.id}: ${chat.client_name ?? chat.client_id} (${chat.client_id}) on ${chat.platform}`];
  if (chat.assistant_paused)
    lines.push(
      `Assistant paused since ${chat.assistant_paused.since} (by ${chat.assistant_paused.by}): a person has the chat.`,
    );
  if (turns.length === 0) lines.push('', 'No messages.');
  for (const turn of turns) {
    lines.push('', `[${turn.received_at}] user (${turn.message_id}, ${turn.status}):`);
    if (turn.user.text !== null) lines.push(`  ${turn.user.text}`);
    if (turn.user.audio !== null)
      lines.push(`  voice: ${turn.user.audio}`, `  transcript: ${turn.user.transcript ?? '—'}`);
    for (const url of turn.user.attachments) lines.push(`  attachment: ${url}`);
    for (const part of turn.assistant) {
      lines.push(`  assistant, part ${part.part}${part.delivered_at ? `, delivered ${part.delivered_at}` : ''}:`);
      lines.push(`    ${part.text}`);
      for (const url of [
        ...part.images,
        ...(part.file ? [part.file] : []),
        ...(part.audio_url ? [part.audio_url] : []),
      ])
        lines.push(`    ${url}`);
    }
  }
  return lines.join('\n');
}

/** What an erasure deleted: the total, then each collection that lost documents. */
export function erasureReport(result: ErasureResponse): string {
  const counted = Object.entries(result.erased).filter(([, count]) => count > 0);
  const total = counted.reduce((sum, [, count]) => sum + count, 0);
  if (result.chat_id === null) return 'No chat of that end user is stored under that page id: nothing to erase.';
  if (total === 0) return `Nothing stored for chat ${result.chat_id}: nothing to erase.`;
  return [
    `Erased chat ${result.chat_id}: ${total} documents.`,
    ...counted.map(([collection, count]) => `  ${collection}: ${count}`),
  ].join('\n');
}
