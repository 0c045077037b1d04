import type { Agent } from '../domain/models.js';
import { randomId } from '../lib/secrets.js';
import type { AgentDoc, Collections } from './collections.js';

export type NewAgent = Omit<Agent, 'id' | 'created_at' | 'updated_at'>;
export type AgentPatch = Partial<NewAgent>;

const toAgent = ({ _id, ...rest }: AgentDoc): Agent => ({ id: _id, ...rest });

export function createAgentStore(c: Collections) {
  return {
    async create(input: NewAgent, now = new Date()): Promise<Agent> {
      const doc: AgentDoc = { _id: `agt_${randomId(12)}`, ...input, created_at: now, updated_at: now };
      await c.agents.insertOne(doc);
      return toAgent(doc);
    },
    async get(id: string): Promise<Agent | undefined> {
      const doc = await c.agents.findOne({ _id: id });
      return doc ? toAgent(doc) : undefined;
    },
    async list(options: { limit: number; after?: string }): Promise<Agent[]> {
      const filter = options.after ? { _id: { $gt: options.after } } : {};
      const docs = await c.agents.find(filter).sort({ _id: 1 }).limit(options.limit).toArray();
      return docs.map(toAgent);
    },
    async update(id: string, patch: AgentPatch, now = new Date()): Promise<Agent | undefined> {
      const doc = await c.agents.findOneAndUpdate(
        { _id: id },
        { $set: { ...patch, updated_at: now } },
        { returnDocument: 'after' },
      );
      return doc ? toAgent(doc) : undefined;
    },
    async delete(id: string): Promise<boolean> {
      const result = await c.agents.deleteOne({ _id: id });
      return result.deletedCount === 1;
    },
  };
}

export type AgentStore = ReturnType<typeof createAgentStore>;
