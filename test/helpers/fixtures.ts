import { agentDefaults, channelDefaults, type Agent, type Channel } from '../../src/domain/models.js';
import { generateApiToken } from '../../src/lib/secrets.js';
import type { Stores } from '../../src/stores/index.js';

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
