/**
 * In-memory stand-ins for what the activities are given (src/activities/deps.ts), for the fast
 * activity tests: no MongoDB, no model server. Each is typed to the interface it stands in for;
 * a method no fake implements throws, naming itself, so a test never passes on an unfaked call.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Info } from '@temporalio/activity';
import { appendRecent, trimWindow } from '../../src/domain/history.js';
import { outcomeId } from '../../src/domain/ids.js';
import type { Agent, Channel, FinalStatus } from '../../src/domain/models.js';
import { agentRecord, channelRecord, testActivitySettings } from '../helpers/fixtures.js';
import type { ActivityDeps, ActivityReporter } from '../../src/activities/deps.js';
import type { ModelClient } from '../../src/activities/model.js';
import type { TurnState } from '../../src/chat-line/line.js';
import { createLogger } from '../../src/lib/logger.js';
import type { ChatDoc, DeliveryAttemptDoc, MessageDoc, OutcomeDoc, ReplyDoc } from '../../src/stores/collections.js';
import type { NewMessage } from '../../src/stores/messages.js';

/** `impl` as a full `T`: a member `impl` leaves out throws when called, naming it. */
export function partialFake<T extends object>(name: string, impl: Partial<T>): T {
  return new Proxy(impl, {
    get(target, property, receiver) {
      if (property in target) return Reflect.get(target, property, receiver) as unknown;
      if (typeof property === 'symbol' || property === 'then') return undefined;
      return () => {
        throw new Error(`${name}.${property} is not faked: the activity called something this test did not expect`);
      };
    },
  }) as T;
}

type Stores = ActivityDeps['stores'];

/** A model that answers "Echo: " and the last message's text. */
export const echoModel: Pick<ModelClient, 'complete'> = {
  complete: (request) => {
    const content = request.messages.at(-1)?.content;
    return Promise.resolve(`Echo: ${typeof content === 'string' ? content : ''}`);
  },
};

let attempts = 0;
/** Everything the fake stores hold, open to the tests to arrange and to inspect. */
export class FakeWorld {
  readonly agents = new Map<string, Agent>();
  readonly channels = new Map<string, Channel>();
  readonly secrets = new Map<string, string[]>();
  readonly messages = new Map<string, MessageDoc>();
  readonly transcripts = new Map<string, string>();
  readonly replies = new Map<string, ReplyDoc>();
  readonly speech = new Map<string, string>();
  readonly attempts: DeliveryAttemptDoc[] = [];
  readonly outcomes = new Map<string, OutcomeDoc>();
  readonly chats = new Map<string, ChatDoc>();
  readonly parked: Array<{ workflowId: string; channelId: string; messageId: string }> = [];
  /** Places released in the chats' lines, as `${chatId}#${seq}`. */
  readonly released: string[] = [];
  /** What `line.turn` answers; a test sets it to make a message wait. */
  turn: TurnState = { granted: true };
  readonly finished: FinalStatus[] = [];
  readonly deliveryResults: string[] = [];

  addAgent(patch: Partial<Agent> = {}): Agent {
    const agent = agentRecord(patch);
    this.agents.set(agent.id, agent);
    return agent;
  }

  /** A channel of a new agent (or `agent`), with one signing secret unless `signed: false`. */
  addChannel(
    options: { agent?: Agent; channel?: Partial<Channel>; replyUrl?: string; signed?: boolean } = {},
  ): Channel {
    const agent = options.agent ?? this.addAgent();
    const channel = channelRecord(agent.id, {
      ...(options.replyUrl !== undefined ? { reply_webhook_url: options.replyUrl } : {}),
      ...options.channel,
    });
    this.channels.set(channel.id, channel);
    if (options.signed ?? true) this.secrets.set(channel.id, [`whsec_${Buffer.from(channel.id).toString('base64')}`]);
    return channel;
  }

  /** The stores the activities read and write, over this world. */
  stores(): Stores {
    return {
      agents: partialFake<Stores['agents']>('stores.agents', {
        get: (id) => Promise.resolve(this.agents.get(id)),
      }),
      channels: partialFake<Stores['channels']>('stores.channels', {
        get: (id) => Promise.resolve(this.channels.get(id)),
        update: (id, patch) => {
          const channel = this.channels.get(id);
          if (!channel) return Promise.resolve(undefined);
          const updated: Channel = { ...channel, ...patch, updated_at: new Date() };
          this.channels.set(id, updated);
          return Promise.resolve(updated);
        },
      }),
      signingSecrets: partialFake<Stores['signingSecrets']>('stores.signingSecrets', {
        active: (channelId) => Promise.resolve(this.secrets.get(channelId) ?? []),
      }),
      chats: partialFake<Stores['chats']>('stores.chats', {
        get: (id) => Promise.resolve(this.chats.get(id) ?? null),
        recordTurn: (id, chat, sighting, entries, windowEntries) => {
          const { recent, added } = appendRecent(chat?.recent ?? [], entries);
          this.chats.set(id, {
            ...(chat ?? { _id: id, first_seen_at: sighting.seenAt }),
            channel_id: sighting.channelId,
            page_id: sighting.pageId,
            client_id: sighting.clientId,
            platform: sighting.platform,
            recent: trimWindow(recent, windowEntries),
            history_seq: (chat?.history_seq ?? 0) + added,
            last_seen_at: sighting.seenAt,
          });
          return Promise.resolve();
        },
      }),
      messages: partialFake<Stores['messages']>('stores.messages', {
        insert: (message: NewMessage) => {
          const fresh = !this.messages.has(message._id);
          if (fresh) this.messages.set(message._id, { ...message, created_at: new Date(), updated_at: new Date() });
          return Promise.resolve(fresh);
        },
        get: (id) => Promise.resolve(this.messages.get(id) ?? null),
        transcript: (message) => Promise.resolve(this.transcripts.get(message._id)),
        saveReply: (messageId, parts, reason) => {
          if (!this.replies.has(messageId))
            this.replies.set(messageId, {
              _id: messageId,
              parts,
              ...(reason !== undefined ? { reason } : {}),
              at: new Date(),
            });
          return Promise.resolve();
        },
        reply: (messageId) => Promise.resolve(this.replies.get(messageId) ?? null),
        speech: (messageId, partIndex) => Promise.resolve(this.speech.get(`${messageId}:${partIndex}`)),
        recordAttempt: (messageId, attempt) => {
          this.attempts.push({ _id: `att_${(attempts += 1)}`, message_id: messageId, ...attempt });
          return Promise.resolve();
        },
        attempt: (key) =>
          Promise.resolve(
            this.attempts.find(
              (a) =>
                a.message_id === key.messageId &&
                a.part_index === key.partIndex &&
                a.attempt === key.attempt &&
                a.redelivery === key.redelivery,
            ) ?? null,
          ),
        saveOutcome: (messageId, outcome) => {
          const id = outcomeId(messageId, outcome.redelivery);
          const fresh = !this.outcomes.has(id);
          if (fresh)
            this.outcomes.set(id, {
              _id: id,
              message_id: messageId,
              status: outcome.status,
              ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
              parts_delivered: outcome.partsDelivered,
              at: new Date(),
            });
          return Promise.resolve(fresh);
        },
        outcome: (messageId, redelivery) =>
          Promise.resolve(this.outcomes.get(outcomeId(messageId, redelivery)) ?? null),
        parkDelivery: (workflowId, channelId, messageId) => {
          this.parked.push({ workflowId, channelId, messageId });
          return Promise.resolve();
        },
      }),
      lines: partialFake<Stores['lines']>('stores.lines', {}),
      blobs: partialFake<Stores['blobs']>('stores.blobs', {}),
      erasure: partialFake<Stores['erasure']>('stores.erasure', {}),
    };
  }

  /** Activity dependencies over this world: the fake stores, `model`, a line answering `turn`. */
  deps(options: { model?: Partial<ModelClient>; settings?: Partial<ActivityDeps['settings']> } = {}): ActivityDeps {
    const report: ActivityReporter = {
      deliveryAttempt: (result) => this.deliveryResults.push(result),
      messageFinished: (status) => this.finished.push(status),
    };
    return {
      stores: this.stores(),
      model: partialFake<ModelClient>('model', options.model ?? {}),
      line: partialFake<ActivityDeps['line']>('line', {
        turn: () => Promise.resolve(this.turn),
        end: (chatId, seq) => {
          this.released.push(`${chatId}#${seq}`);
          return Promise.resolve('finished' as const);
        },
      }),
      logger: createLogger({ level: 'silent', name: 'activity-test' }),
      report,
      settings: testActivitySettings({ retryScheduleSeconds: [5, 60], deliveryTimeoutMs: 2_000, ...options.settings }),
    };
  }
}

const quietSdkLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** A mock activity context: this attempt (default 1) of an activity of workflow `workflowId`. */
function activityEnvironment(info: { attempt?: number; workflowId?: string }): MockActivityEnvironment {
  const partial: Partial<Info> = {
    attempt: info.attempt ?? 1,
    ...(info.workflowId !== undefined ? { workflowExecution: { workflowId: info.workflowId, runId: 'run-1' } } : {}),
  };
  // The SDK's own log lines (a failed step is logged) stay out of the test output.
  return new MockActivityEnvironment(partial, { logger: quietSdkLogger });
}

/** Runs `step` in a mock activity context: this attempt (default 1) of an activity of workflow `workflowId`. */
export function runActivity<R>(
  step: () => Promise<R>,
  info: { attempt?: number; workflowId?: string } = {},
): Promise<R> {
  return activityEnvironment(info).run(step);
}

/**
 * Starts `step` as runActivity does, with a way to cancel it while it runs, as the SDK cancels a
 * local activity past its start-to-close timeout.
 */
export function startActivity<R>(
  step: () => Promise<R>,
  info: { attempt?: number; workflowId?: string } = {},
): { result: Promise<R>; cancel: () => void } {
  const environment = activityEnvironment(info);
  return { result: environment.run(step), cancel: () => environment.cancel('TIMED_OUT') };
}
