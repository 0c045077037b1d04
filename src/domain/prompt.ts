import type { ChatCompletionContentPart, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { HistoryEntry } from './history.js';
import { isImageUrl } from './media.js';
import { applyVoicePrefix } from './voice.js';

/** The parts of a stored message that make up what the user said. */
export interface UserMessageContent {
  inbound: { text?: string; audio?: string };
  transcript?: string;
}

/** The text the history and the model get for the user's message. */
export function userContent(message: UserMessageContent, voicePrefix: string): string {
  const inbound = message.inbound;
  if (message.transcript !== undefined) return applyVoicePrefix(message.transcript, inbound.text, voicePrefix);
  if (inbound.text !== undefined) return inbound.text;
  return `${voicePrefix}(not transcribed) ${inbound.audio ?? ''}`.trim();
}

/** How the model is told about an image it is not given because the URL policy refused its address. */
export const REFUSED_IMAGE_NOTE = '(image not shown: its address is not allowed)';

/**
 * A history entry as the model sees it: attachments as image inputs (when allowed) or as links.
 * An image in `refusedImages` is never an image input (the model server would fetch it for us):
 * it is listed as a link with REFUSED_IMAGE_NOTE, so the model knows one was sent.
 */
function toModelMessage(
  entry: HistoryEntry,
  imagesAsInput: boolean,
  refusedImages: ReadonlySet<string> = new Set(),
): ChatCompletionMessageParam {
  if (entry.role === 'assistant') return { role: 'assistant', content: entry.content };
  if (entry.attachments.length === 0) return { role: 'user', content: entry.content };
  const images = imagesAsInput ? entry.attachments.filter((url) => isImageUrl(url) && !refusedImages.has(url)) : [];
  const links = entry.attachments
    .filter((url) => !images.includes(url))
    .map((url) => (imagesAsInput && refusedImages.has(url) ? `${url} ${REFUSED_IMAGE_NOTE}` : url));
  const text =
    links.length > 0 ? `${entry.content}\n\nAttachments:\n${links.map((url) => `- ${url}`).join('\n')}` : entry.content;
  if (images.length === 0) return { role: 'user', content: text };
  const parts: ChatCompletionContentPart[] = [
    { type: 'text', text },
    ...images.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
  ];
  return { role: 'user', content: parts };
}

/**
 * The prompt's default budget in characters (about 30 000 tokens at the usual 4 characters a token):
 * within the context of today's common models, with room for the reply. PROMPT_MAX_CHARS changes it.
 */
export const DEFAULT_PROMPT_MAX_CHARS = 120_000;

/** However small the budget, the current message keeps at least this much of its text. */
export const MIN_CURRENT_MESSAGE_CHARS = 1_000;

/** Appended to a current message cut to fit the budget, so the model knows it did not get all of it. */
export const shortenedNote = (omitted: number): string =>
  `\n\n[message shortened to fit the prompt: ${omitted} characters left out]`;

export interface PromptOptions {
  /** Image attachments of the current message the model must not fetch (see toModelMessage). */
  refusedImages?: ReadonlySet<string>;
  /** The prompt's budget in characters (DEFAULT_PROMPT_MAX_CHARS when absent). */
  maxChars?: number;
}

/**
 * The model's input: the agent's system prompt, the recent history it may see, then the new message,
 * within a budget of characters, because a prompt past the model's context is refused for good (the chat
 * would get the fallback reply from then on). The system prompt and the current message are never
 * dropped; the oldest history goes first. A current message that alone leaves no room is cut, with a
 * note saying so, to what the system prompt leaves (but never below MIN_CURRENT_MESSAGE_CHARS).
 */
export function buildPrompt(
  agent: { system_prompt: string; max_history_messages: number; vision: boolean },
  recent: HistoryEntry[],
  user: HistoryEntry,
  options: PromptOptions = {},
): ChatCompletionMessageParam[] {
  const budget = options.maxChars ?? DEFAULT_PROMPT_MAX_CHARS;
  const system: ChatCompletionMessageParam[] =
    agent.system_prompt.trim().length > 0 ? [{ role: 'system', content: agent.system_prompt }] : [];
  let left = budget - agent.system_prompt.length;

  const current = toModelMessage(user, agent.vision, options.refusedImages);
  const currentRoom = Math.max(left, MIN_CURRENT_MESSAGE_CHARS);
  const fitted = messageChars(current) <= currentRoom ? current : shortenCurrent(user, currentRoom, agent, options);
  left -= messageChars(fitted);

  const window = agent.max_history_messages > 0 ? recent.slice(-agent.max_history_messages) : [];
  const earlier: ChatCompletionMessageParam[] = [];
  // Newest first, so the history dropped is the oldest; stop at the first entry that does not fit,
  // so what the model sees is always an unbroken stretch of the conversation up to now.
  for (let index = window.length - 1; index >= 0; index--) {
    const entry = window[index];
    if (entry === undefined) break;
    const message = toModelMessage(entry, false);
    const size = messageChars(message);
    if (size > left) break;
    left -= size;
    earlier.unshift(message);
  }
  return [...system, ...earlier, fitted];
}

/** The current message with its text cut so that the whole message (note and attachments too) fits `room`. */
function shortenCurrent(
  user: HistoryEntry,
  room: number,
  agent: { vision: boolean },
  options: PromptOptions,
): ChatCompletionMessageParam {
  const whole = messageChars(toModelMessage(user, agent.vision, options.refusedImages));
  const overBy = whole - room;
  // The note's own length depends on the count it gives: take the longest it can be.
  const cut = Math.min(user.content.length, overBy + shortenedNote(user.content.length).length);
  const kept = user.content.slice(0, Math.max(0, user.content.length - cut));
  const content = kept + shortenedNote(user.content.length - kept.length);
  return toModelMessage({ ...user, content }, agent.vision, options.refusedImages);
}

/** A message's size for the budget: its text, and the URL of each image input. */
export function messageChars(message: ChatCompletionMessageParam): number {
  const content = message.content;
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let size = 0;
  for (const part of content) {
    if (part.type === 'text') size += part.text.length;
    else if (part.type === 'image_url') size += part.image_url.url.length;
  }
  return size;
}

/** The total size of a prompt for the budget. */
export function promptChars(messages: readonly ChatCompletionMessageParam[]): number {
  return messages.reduce((sum, message) => sum + messageChars(message), 0);
}
