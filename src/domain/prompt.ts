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

/** A history entry as the model sees it: attachments as image inputs (when allowed) or as links. */
export function toModelMessage(entry: HistoryEntry, imagesAsInput: boolean): ChatCompletionMessageParam {
  if (entry.role === 'assistant') return { role: 'assistant', content: entry.content };
  if (entry.attachments.length === 0) return { role: 'user', content: entry.content };
  const images = imagesAsInput ? entry.attachments.filter(isImageUrl) : [];
  const links = entry.attachments.filter((url) => !images.includes(url));
  const text =
    links.length > 0 ? `${entry.content}\n\nAttachments:\n${links.map((url) => `- ${url}`).join('\n')}` : entry.content;
  if (images.length === 0) return { role: 'user', content: text };
  const parts: ChatCompletionContentPart[] = [
    { type: 'text', text },
    ...images.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
  ];
  return { role: 'user', content: parts };
}

/** The model's input: the agent's system prompt, the recent history it may see, then the new message. */
export function buildPrompt(
  agent: { system_prompt: string; max_history_messages: number; vision: boolean },
  recent: HistoryEntry[],
  user: HistoryEntry,
): ChatCompletionMessageParam[] {
  const earlier = agent.max_history_messages > 0 ? recent.slice(-agent.max_history_messages) : [];
  const messages: ChatCompletionMessageParam[] = [];
  if (agent.system_prompt.trim().length > 0) messages.push({ role: 'system', content: agent.system_prompt });
  for (const entry of earlier) messages.push(toModelMessage(entry, false));
  messages.push(toModelMessage(user, agent.vision));
  return messages;
}
