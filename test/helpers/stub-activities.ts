/**
 * The activities of the message workflow as plain stubs, for workflow tests that run every branch
 * on the time-skipping server without MongoDB or a model: each stub answers as the test scripts it
 * (by default, the happy path of a one-part text reply) and every call is recorded, in order.
 */
import { Context } from '@temporalio/activity';
import type { Activities } from '../../src/activities/index.js';
import type { ChannelSnapshot } from '../../src/domain/models.js';

export type ActivityName = keyof Activities;
export interface StubCall {
  name: ActivityName;
  input: unknown;
}

/** A stub answering `results` one call after the other, the last one for every call after. */
export function inSequence<T>(...results: [T, ...T[]]): () => Promise<T> {
  let call = 0;
  return () => Promise.resolve(results[Math.min(call++, results.length - 1)] as T);
}

/** The settings admission would take from a channel with nothing special about it. */
export function stubSnapshot(patch: Partial<ChannelSnapshot> = {}): ChannelSnapshot {
  return {
    channelId: 'chn_stub',
    agentId: 'agt_stub',
    pageId: 'page-stub',
    replyWebhookUrl: 'http://127.0.0.1:9/replies',
    replyDelaySeconds: 0,
    voiceReplies: 'off',
    maxMessageLength: 2000,
    voicePrefix: '[Voice message] ',
    retryScheduleSeconds: [5, 300, 1800],
    ...patch,
  };
}

export interface StubbedActivities {
  activities: Activities;
  calls: StubCall[];
  /** The inputs of every call to `name`, in order. */
  inputsOf<N extends ActivityName>(name: N): Array<Parameters<Activities[N]>[0]>;
  /** The names of the activities called, in order. */
  names(): ActivityName[];
}

/** Stubs for every activity: `overrides` replace the defaults (a happy path); all calls are recorded. */
export function stubActivities(overrides: Partial<Activities> = {}, snapshot = stubSnapshot()): StubbedActivities {
  const defaults: Activities = {
    answerMessage: () =>
      Promise.resolve({ kind: 'answered', snapshot, partCount: 1, delivery: { delivered: 1, finished: true } }),
    admitMessage: () => Promise.resolve({ outcome: 'accepted', snapshot, turn: true }),
    transcribeVoiceMessage: () => Promise.resolve({ characters: 12 }),
    composeReply: () => Promise.resolve({ partCount: 1 }),
    composeFallbackReply: () => Promise.resolve({ partCount: 1 }),
    recordUnansweredMessage: () => Promise.resolve(),
    speakReply: () => Promise.resolve({ spoken: 1 }),
    sendReplyPart: () => Promise.resolve({ outcome: 'delivered', status: 200 }),
    checkChannelPaused: () => Promise.resolve(false),
    checkChatTurn: () => Promise.resolve({ granted: true }),
    closeMessage: () => Promise.resolve(),
    retentionBatch: () => Promise.reject(new Error('retention is not part of a message')),
    applyChatControl: () => Promise.reject(new Error("a chat's pause is not part of a message")),
    answerInBurst: () =>
      Promise.resolve({ kind: 'answered', snapshot, partCount: 1, delivery: { delivered: 1, finished: true } }),
    dropStaleReply: () => Promise.resolve({}),
  };
  const calls: StubCall[] = [];
  const chosen: Record<string, (input: unknown) => Promise<unknown>> = { ...defaults, ...overrides } as Record<
    string,
    (input: unknown) => Promise<unknown>
  >;
  const recorded = Object.fromEntries(
    Object.entries(chosen).map(([name, stub]) => [
      name,
      (input: unknown) => {
        calls.push({ name: name as ActivityName, input });
        return stub(input);
      },
    ]),
  ) as unknown as Activities;
  return {
    activities: recorded,
    calls,
    inputsOf: <N extends ActivityName>(name: N) =>
      calls.filter((call) => call.name === name).map((call) => call.input as Parameters<Activities[N]>[0]),
    names: () => calls.map((call) => call.name),
  };
}

/**
 * Activities for one worker shared by many workflows, each with stubs of its own: every call goes
 * to the stubs `stubsOf` gives for the calling workflow's id.
 */
export function activitiesByWorkflow(stubsOf: (workflowId: string) => StubbedActivities): Activities {
  const names = Object.keys(stubActivities().activities) as ActivityName[];
  return Object.fromEntries(
    names.map((name) => [
      name,
      (input: unknown) => {
        const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
        const stubs = stubsOf(workflowId).activities as unknown as Record<string, (input: unknown) => Promise<unknown>>;
        return stubs[name]!(input);
      },
    ]),
  ) as unknown as Activities;
}
