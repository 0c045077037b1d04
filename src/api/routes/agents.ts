/** The agents of the admin API: their route table, answers and handlers (mounted by admin.ts). */
import {
  agentListResponseSchema,
  agentResponseSchema,
  createAgentSchema,
  listAgentsQuerySchema,
  updateAgentSchema,
  type AgentResponse,
} from '../contracts/admin.js';
import { agentDefaults, type Agent } from '../../domain/models.js';
import { conflict, notFound } from '../errors.js';
import type { HandlersFor, RouteSpec } from '../route-spec.js';
import { definedOnly, page, type AdminDeps } from './admin-deps.js';

export const agentRoutes = [
  {
    method: 'get',
    path: '/v1/agents',
    operationId: 'listAgents',
    tag: 'Agents',
    summary: 'List agents',
    query: listAgentsQuerySchema,
    success: { status: 200, description: 'A page of agents, ordered by id.', schema: agentListResponseSchema },
    errors: [400, 401],
  },
  {
    method: 'post',
    path: '/v1/agents',
    operationId: 'createAgent',
    tag: 'Agents',
    summary: 'Create an agent',
    body: createAgentSchema,
    success: { status: 201, description: 'The agent.', schema: agentResponseSchema },
    errors: [400, 401, 413, 415],
  },
  {
    method: 'get',
    path: '/v1/agents/:id',
    operationId: 'getAgent',
    tag: 'Agents',
    summary: 'Get an agent',
    success: { status: 200, description: 'The agent.', schema: agentResponseSchema },
    errors: [401, 404],
  },
  {
    method: 'patch',
    path: '/v1/agents/:id',
    operationId: 'updateAgent',
    tag: 'Agents',
    summary: 'Change an agent',
    description: 'Messages already being answered keep the settings they started with.',
    body: updateAgentSchema,
    success: { status: 200, description: 'The agent as changed.', schema: agentResponseSchema },
    errors: [400, 401, 404, 413, 415],
  },
  {
    method: 'delete',
    path: '/v1/agents/:id',
    operationId: 'deleteAgent',
    tag: 'Agents',
    summary: 'Delete an agent',
    description: 'Refused with 409 while channels use the agent: delete them or move them to another agent first.',
    success: { status: 204, description: 'Deleted.' },
    errors: [401, 404, 409],
  },
] as const satisfies readonly RouteSpec[];

export const toAgentResponse = ({ created_at, updated_at, ...agent }: Agent): AgentResponse => ({
  ...agent,
  // Agents created before the "one moment" part have neither field: they read as the defaults (off).
  interim_after_seconds: agent.interim_after_seconds ?? agentDefaults.interim_after_seconds,
  interim_text: agent.interim_text ?? agentDefaults.interim_text,
  handoff_text: agent.handoff_text ?? agentDefaults.handoff_text,
  created_at: created_at.toISOString(),
  updated_at: updated_at.toISOString(),
});

export function agentHandlers(deps: AdminDeps): HandlersFor<typeof agentRoutes> {
  const { agents, channels, logger } = deps;
  return {
    async listAgents({ query }) {
      const { items, next_after } = page(
        await agents.list({ limit: query.limit + 1, after: query.after }),
        query.limit,
      );
      return { status: 200, body: { data: items.map(toAgentResponse), next_after } };
    },
    async createAgent({ body, requestId }) {
      const agent = await agents.create(body);
      logger.info({ requestId, agentId: agent.id }, 'admin: agent created');
      return { status: 201, body: toAgentResponse(agent) };
    },
    async getAgent({ params }) {
      const agent = await agents.get(params.id ?? '');
      if (!agent) throw notFound(`Agent ${params.id}`);
      return { status: 200, body: toAgentResponse(agent) };
    },
    async updateAgent({ params, body, requestId }) {
      const agent = await agents.update(params.id ?? '', definedOnly(body));
      if (!agent) throw notFound(`Agent ${params.id}`);
      logger.info({ requestId, agentId: agent.id, fields: Object.keys(body) }, 'admin: agent changed');
      return { status: 200, body: toAgentResponse(agent) };
    },
    async deleteAgent({ params, requestId }) {
      const agentId = params.id ?? '';
      if (!(await agents.get(agentId))) throw notFound(`Agent ${agentId}`);
      const users = await channels.countByAgent(agentId);
      if (users > 0) {
        throw conflict(
          `Agent ${agentId} is used by ${users} channel${users === 1 ? '' : 's'}; delete ${users === 1 ? 'it' : 'them'} or move ${users === 1 ? 'it' : 'them'} to another agent first.`,
        );
      }
      if (!(await agents.delete(agentId))) throw notFound(`Agent ${agentId}`);
      logger.info({ requestId, agentId }, 'admin: agent deleted');
      return { status: 204 };
    },
  };
}
