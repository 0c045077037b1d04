import {
  agentDefaults,
  channelDefaults,
  type Agent,
  type Channel,
  type InboundEnvelope,
  type MessageWorkflowInput,
} from '../../src/domain/models.js';
import { chatIdFor } from '../../src/stores/chats.js';
import { generateApiToken, randomId } from '../../src/lib/secrets.js';
import type { Stores } from '../../src/stores/index.js';
import type { NewMessage } from '../../src/stores/messages.js';
import type { ActivitySettings } from '../../src/activities/deps.js';

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

/** A channel (with its agent) whose replies go to a fresh endpoint of `receiver`, and that endpoint. */
export async function channelReplyingTo(
  stores: Pick<Stores, 'agents' | 'channels' | 'signingSecrets'>,
  receiver: { endpoint(): { url: string; path: string } },
  channel: Partial<Omit<Channel, 'id'>> = {},
): Promise<Awaited<ReturnType<typeof createChannelWithAgent>> & { endpoint: { url: string; path: string } }> {
  const endpoint = receiver.endpoint();
  return { ...(await createChannelWithAgent(stores, { replyUrl: endpoint.url, channel })), endpoint };
}

/** An agent as the store hands it out, with defaults; for tests whose stores are fakes. */
export function agentRecord(patch: Partial<Agent> = {}): Agent {
  counter += 1;
  const now = new Date();
  return {
    ...agentDefaults,
    id: `agt_test${counter}`,
    name: `agent ${counter}`,
    system_prompt: 'You are a helpful test assistant.',
    created_at: now,
    updated_at: now,
    ...patch,
  };
}

/** A channel of `agentId` as the store hands it out, with defaults; for tests whose stores are fakes. */
export function channelRecord(agentId: string, patch: Partial<Channel> = {}): Channel {
  counter += 1;
  const now = new Date();
  return {
    ...channelDefaults,
    id: `chn_test${counter}`,
    agent_id: agentId,
    page_id: `page-${counter}-${randomId(4)}`,
    token_hash: 'not-a-real-hash',
    token_last4: 'abcd',
    token_version: 1,
    reply_webhook_url: 'http://127.0.0.1:9/replies',
    created_at: now,
    updated_at: now,
    ...patch,
  };
}

/** What the API would hand a message workflow for `message` posted to `channel`. */
export function envelopeFor(channel: Channel, message: Partial<InboundEnvelope['message']> = {}): InboundEnvelope {
  const clientId = message.client_id ?? `client-${randomId(4)}`;
  return {
    messageId: `msg_${randomId(12)}`,
    chatId: chatIdFor(channel.id, clientId),
    channelId: channel.id,
    pageId: channel.page_id,
    tokenVersion: channel.token_version,
    receivedAt: new Date().toISOString(),
    message: { platform: 'TestApp', text: 'Hello there', ...message, client_id: clientId },
  };
}

/** The message record admission writes for `envelope` (accepted, at place 1 of its chat's line). */
export function messageRecordFor(envelope: InboundEnvelope, channel: Channel): NewMessage {
  return {
    _id: envelope.messageId,
    workflow_id: `wf-${envelope.messageId}`,
    channel_id: channel.id,
    page_id: channel.page_id,
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

/** Worker settings for tests: receivers and voice notes on loopback allowed, no caching (tests change channels and deliver right after). */
export function testActivitySettings(overrides: Partial<ActivitySettings> = {}): ActivitySettings {
  return {
    publicBaseUrl: 'http://127.0.0.1:9',
    retryScheduleSeconds: [5, 300, 1800, 7200, 18000, 36000, 36000],
    deliveryTimeoutMs: 5_000,
    channelCacheTtlMs: 0,
    audioFetch: {
      allowPrivate: true,
      allowHosts: [],
      maxBytes: 1_000_000,
      connectTimeoutMs: 2_000,
      totalTimeoutMs: 5_000,
      maxRedirects: 3,
    },
    deliveryPolicy: { allowPrivate: true, allowHosts: [] },
    ...overrides,
  };
}

/**
 * What the message workflow starts with for `message` posted to `channel`: its envelope, at place
 * `lineSeq` of its chat's line, its model step local (MODEL_STEP's default).
 */
export function workflowInputFor(
  channel: Channel,
  message: Partial<InboundEnvelope['message']> = {},
  lineSeq = 3,
): MessageWorkflowInput {
  return { ...envelopeFor(channel, message), lineSeq, modelStep: 'local' };
}

/** A 1×1 PNG, for an image a test serves. */
export const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
