import type { ChatSummary, ChatTurn } from './contracts/dashboard.js';
import { mediaUrl } from '../domain/ids.js';
import type { ChatDoc } from '../stores/collections.js';
import { chatOfChannel } from '../stores/chats.js';
import type { Stores } from '../stores/index.js';
import { notFound } from './errors.js';

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);
const LAST_MESSAGE_CHARACTERS = 200;

export interface ConversationDeps {
  stores: Pick<Stores, 'channels' | 'chats' | 'messages' | 'dashboard'>;
  publicBaseUrl: string;
}

function toChatSummary(chat: ChatDoc): ChatSummary {
  const last = chat.recent?.at(-1);
  return {
    id: chat._id,
    client_id: chat.client_id,
    client_name: chat.client_name ?? null,
    client_avatar: chat.client_avatar ?? null,
    platform: chat.platform,
    first_seen_at: chat.first_seen_at.toISOString(),
    last_seen_at: iso(chat.last_seen_at),
    last_message: last ? { role: last.role, text: last.content.slice(0, LAST_MESSAGE_CHARACTERS) } : null,
    assistant_paused: chat.handoff ? { since: chat.handoff.since.toISOString(), by: chat.handoff.by } : null,
  };
}

/** A channel's chats and one chat's history, put together from the chat and message records. */
export function createConversations(deps: ConversationDeps) {
  const { stores } = deps;

  async function requireChannel(channelId: string) {
    const channel = await stores.channels.get(channelId);
    if (!channel) throw notFound('Channel');
    return channel;
  }

  return {
    async list(channelId: string, options: { limit: number; before?: string }) {
      const channel = await requireChannel(channelId);
      const chats = await stores.dashboard.chatsOfChannel(channel.id, {
        limit: options.limit + 1,
        ...(options.before ? { before: new Date(options.before) } : {}),
      });
      const page = chats.slice(0, options.limit);
      const more = chats.length > options.limit;
      return { data: page.map(toChatSummary), next_before: more ? iso(page.at(-1)?.last_seen_at) : null };
    },

    async history(channelId: string, chatId: string, limit: number) {
      const channel = await requireChannel(channelId);
      const chat = await stores.chats.get(chatId);
      if (!chat || !chatOfChannel(chat, channel.id)) throw notFound('Chat');
      const messages = await stores.dashboard.messagesOfChat(channel.id, chat._id, limit);
      const turns = await Promise.all(
        messages.reverse().map(async (message): Promise<ChatTurn> => {
          const [outcome, transcript, parts] = await Promise.all([
            stores.messages.outcome(message._id),
            message.inbound.audio !== undefined ? stores.messages.transcript(message) : undefined,
            stores.messages.parts(message),
          ]);
          return {
            message_id: message._id,
            received_at: message.received_at.toISOString(),
            status: outcome?.status ?? 'processing',
            user: {
              text: message.inbound.text ?? null,
              audio: message.inbound.audio ?? null,
              transcript: transcript ?? null,
              attachments: message.inbound.attachments ?? [],
            },
            assistant: parts.map((part) => ({
              part: part.index + 1,
              text: part.text,
              images: part.images ?? [],
              file: part.file ?? null,
              audio_url: part.audio_blob_id ? mediaUrl(deps.publicBaseUrl, part.audio_blob_id) : null,
              delivered_at: iso(part.delivered_at),
            })),
          };
        }),
      );
      return { chat: toChatSummary(chat), turns };
    },
  };
}

export type Conversations = ReturnType<typeof createConversations>;
