import {
  agentDefaults,
  channelDefaults,
  type Agent,
  type Channel,
  type InboundEnvelope,
} from '../../src/domain/models.js';
import { chatIdFor } from '../../src/stores/chats.js';
import { generateApiToken, randomId } from '../../src/lib/secrets.js';
import type { Stores } from '../../src/stores/index.js';
import type { NewMessage } from '../../src/stores/messages.js';

let counter = 0;

/** An agent and a channel pointing at `replyUrl`, created through the stores; returns the plain token too. */
export async function createChannelWithAgent(
  stores: Pick<Stores, 'agents' | 'channels' | 'signingSecrets'>,
  options: { replyUrl: string; agent?: Partial<Agent>; channel?: Partial<Omit<Channel, 'id'>> },
): Promise<{ agent: Agent; channel: Channel; token: string; signingSecret: string }> {
  counter += 1;
  const agent = await stores.agents.create({
    ...agentDefaults,
    name: `agent ${counter}`,
    system_prompt: 'You are a helpful test assistant.',
    ...options.agent,
  });
  const token = generateApiToken();
  const channel = await stores.channels.create({
    ...channelDefaults,
    agent_id: agent.id,
    page_id: `page-${counter}-${Math.random().toString(36).slice(2, 8)}`,
    reply_webhook_url: options.replyUrl,
    api_token: token,
    ...options.channel,
  });
  const signingSecret = await stores.signingSecrets.create(channel.id);
  return { agent, channel, token, signingSecret };
}

/** What the API would hand a message workflow for `message` posted to `channel`. */
export function envelopeFor(channel: Channel, message: Partial<InboundEnvelope['message']> = {}): InboundEnvelope {
  const clientId = message.client_id ?? `client-${randomId(4)}`;
  return {
    messageId: `msg_${randomId(12)}`,
    chatId: chatIdFor(channel.page_id, clientId),
    channelId: channel.id,
    pageId: channel.page_id,
    tokenVersion: channel.token_version,
    receivedAt: new Date().toISOString(),
    message: { platform: 'TestApp', text: 'Hello there', ...message, client_id: clientId },
  };
}

/** The record admission stores for `envelope` (status processing, first in its chat's line). */
export function messageRecordFor(envelope: InboundEnvelope): NewMessage {
  return {
    _id: envelope.messageId,
    workflow_id: `message-${envelope.messageId}`,
    channel_id: envelope.channelId,
    page_id: envelope.pageId,
    client_id: envelope.message.client_id,
    chat_id: envelope.chatId,
    platform: envelope.message.platform,
    status: 'processing',
    stage: 'accepted',
    inbound: envelope.message,
    received_at: new Date(envelope.receivedAt),
    line_seq: 1,
  };
}
