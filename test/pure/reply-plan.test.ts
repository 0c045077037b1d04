/**
 * The reply's plan (src/domain/reply-plan.ts), the one place that decides what happens after the
 * answer step: named cases with their steps spelled out, then every combination of the settings
 * and of the reply against the rules, then what the answer step takes of a plan and what it leaves
 * the workflow (never a step lost, never one taken twice).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { VoiceReplies } from '../../src/domain/models.js';
import {
  answerStepShare,
  deliveriesOf,
  pacesReply,
  replyPlan,
  speaks,
  writingPlan,
  type ReplySettings,
  type ReplyStep,
  type WrittenReply,
} from '../../src/domain/reply-plan.js';

const typing = { msPerChar: 50, maxSeconds: 2 };
const interim = { afterSeconds: 3, text: 'One moment…' };
const settingsWith = (patch: Partial<ReplySettings> = {}): ReplySettings => ({
  replyDelaySeconds: 0,
  voiceReplies: 'off',
  ...patch,
});
const modelReply = (partLengths: number[], patch: Partial<WrittenReply> = {}): WrittenReply => ({
  partCount: partLengths.length,
  partLengths,
  fallback: false,
  handoff: false,
  ...patch,
});
const fallbackReply = (partCount: number): WrittenReply => ({ partCount, fallback: true, handoff: false });

/** A plan in short: one word a step. */
const brief = (steps: readonly ReplyStep[]): string[] =>
  steps.map((step) => {
    switch (step.kind) {
      case 'speak':
      case 'drop_if_stale':
        return step.kind;
      case 'wait_reply_delay':
        return `delay ${step.ms}`;
      case 'typing_pause':
        return `pause ${step.ms} before ${step.part}`;
      case 'deliver':
        return `deliver ${step.part}`;
    }
  });

describe('the reply plan: named cases', () => {
  const cases: Array<{
    what: string;
    settings: ReplySettings;
    reply: WrittenReply;
    userSentVoice?: boolean;
    steps: string[];
    answerStep: { dropIfStale: boolean; parts: number };
  }> = [
    {
      what: 'the common case: one part, nothing in the way, all in the answer step',
      settings: settingsWith(),
      reply: modelReply([12]),
      steps: ['deliver 0'],
      answerStep: { dropIfStale: false, parts: 1 },
    },
    {
      what: 'three parts, not paced: every first attempt in the answer step',
      settings: settingsWith(),
      reply: modelReply([10, 20, 30]),
      steps: ['deliver 0', 'deliver 1', 'deliver 2'],
      answerStep: { dropIfStale: false, parts: 3 },
    },
    {
      what: 'paced parts: the first in the answer step, each later one after its pause (length × ms, capped)',
      settings: settingsWith({ typing }),
      reply: modelReply([10, 20, 500]),
      steps: ['deliver 0', 'pause 1000 before 1', 'deliver 1', 'pause 2000 before 2', 'deliver 2'],
      answerStep: { dropIfStale: false, parts: 1 },
    },
    {
      what: 'paced parts with an empty part: its pause is 0, and still the workflow’s',
      settings: settingsWith({ typing }),
      reply: modelReply([10, 0]),
      steps: ['deliver 0', 'pause 0 before 1', 'deliver 1'],
      answerStep: { dropIfStale: false, parts: 1 },
    },
    {
      what: 'a one-part reply on a pacing channel: nothing to pace',
      settings: settingsWith({ typing }),
      reply: modelReply([400]),
      steps: ['deliver 0'],
      answerStep: { dropIfStale: false, parts: 1 },
    },
    {
      what: 'the reply delay: a timer first, so every step is the workflow’s',
      settings: settingsWith({ replyDelaySeconds: 30 }),
      reply: modelReply([10, 20]),
      steps: ['delay 30000', 'deliver 0', 'deliver 1'],
      answerStep: { dropIfStale: false, parts: 0 },
    },
    {
      what: 'speech always: spoken first, every step the workflow’s',
      settings: settingsWith({ voiceReplies: 'always' }),
      reply: modelReply([10]),
      steps: ['speak', 'deliver 0'],
      answerStep: { dropIfStale: false, parts: 0 },
    },
    {
      what: 'speech when the user sent voice, and they typed: not spoken',
      settings: settingsWith({ voiceReplies: 'when_user_sent_voice' }),
      reply: modelReply([10]),
      steps: ['deliver 0'],
      answerStep: { dropIfStale: false, parts: 1 },
    },
    {
      what: 'speech when the user sent voice, and they did: spoken',
      settings: settingsWith({ voiceReplies: 'when_user_sent_voice' }),
      reply: modelReply([10]),
      userSentVoice: true,
      steps: ['speak', 'deliver 0'],
      answerStep: { dropIfStale: false, parts: 0 },
    },
    {
      what: 'stale replies dropped: the check just before the first part, in the answer step',
      settings: settingsWith({ supersedeStaleReplies: true }),
      reply: modelReply([10, 20]),
      steps: ['drop_if_stale', 'deliver 0', 'deliver 1'],
      answerStep: { dropIfStale: true, parts: 2 },
    },
    {
      what: 'stale replies dropped, after speech and the delay: the workflow checks, just before the first part',
      settings: settingsWith({ supersedeStaleReplies: true, voiceReplies: 'always', replyDelaySeconds: 5 }),
      reply: modelReply([10]),
      steps: ['speak', 'delay 5000', 'drop_if_stale', 'deliver 0'],
      answerStep: { dropIfStale: false, parts: 0 },
    },
    {
      what: 'a handoff reply is never stale (it tells the user a person is coming)',
      settings: settingsWith({ supersedeStaleReplies: true, replyDelaySeconds: 5 }),
      reply: modelReply([10], { handoff: true }),
      steps: ['delay 5000', 'deliver 0'],
      answerStep: { dropIfStale: false, parts: 0 },
    },
    {
      what: 'the fallback reply: spoken, delayed and checked as any, never paced',
      settings: settingsWith({
        typing,
        voiceReplies: 'always',
        replyDelaySeconds: 5,
        supersedeStaleReplies: true,
      }),
      reply: fallbackReply(2),
      steps: ['speak', 'delay 5000', 'drop_if_stale', 'deliver 0', 'deliver 1'],
      answerStep: { dropIfStale: false, parts: 0 },
    },
    {
      what: 'a "one moment" part changes where the reply is written, not what follows it',
      settings: settingsWith({ interim, typing }),
      reply: modelReply([10, 20]),
      steps: ['deliver 0', 'pause 1000 before 1', 'deliver 1'],
      answerStep: { dropIfStale: false, parts: 1 },
    },
    {
      what: 'everything at once',
      settings: settingsWith({
        typing,
        interim,
        voiceReplies: 'when_user_sent_voice',
        replyDelaySeconds: 2,
        supersedeStaleReplies: true,
      }),
      reply: modelReply([30, 5]),
      userSentVoice: true,
      steps: ['speak', 'delay 2000', 'drop_if_stale', 'deliver 0', 'pause 250 before 1', 'deliver 1'],
      answerStep: { dropIfStale: false, parts: 0 },
    },
  ];
  for (const { what, settings, reply, userSentVoice = false, steps, answerStep } of cases) {
    test(what, () => {
      const plan = replyPlan({ settings, reply, userSentVoice });
      assert.deepEqual(brief(plan), steps);
      assert.deepEqual(answerStepShare(plan), answerStep);
    });
  }

  test('how the reply is written: in the answer step unless the agent has a "one moment" part; lengths when paced', () => {
    assert.deepEqual(writingPlan(settingsWith()), { partLengths: false });
    assert.deepEqual(writingPlan(settingsWith({ typing })), { partLengths: true });
    assert.deepEqual(writingPlan(settingsWith({ interim })), { interim, partLengths: false });
    assert.deepEqual(writingPlan(settingsWith({ interim, typing })), { interim, partLengths: true });
  });
});

/** Every combination of the settings and of the reply the plan reads. */
function everyCombination() {
  const combinations = [];
  for (const voiceReplies of ['off', 'always', 'when_user_sent_voice'] as VoiceReplies[])
    for (const userSentVoice of [false, true])
      for (const replyDelaySeconds of [0, 30])
        for (const stale of [false, true])
          for (const paced of [false, true])
            for (const withInterim of [false, true])
              for (const partLengths of [[40], [40, 0, 70], [500, 10]])
                for (const kind of ['model', 'fallback', 'handoff'] as const) {
                  const settings = settingsWith({
                    voiceReplies,
                    replyDelaySeconds,
                    ...(stale ? { supersedeStaleReplies: true as const } : {}),
                    ...(paced ? { typing } : {}),
                    ...(withInterim ? { interim } : {}),
                  });
                  const reply =
                    kind === 'fallback'
                      ? fallbackReply(partLengths.length)
                      : modelReply(partLengths, { handoff: kind === 'handoff' });
                  combinations.push({ settings, reply, userSentVoice, name: JSON.stringify({ settings, reply }) });
                }
  return combinations;
}

describe('the reply plan: every combination of the settings and the reply', () => {
  const combinations = everyCombination();

  test(`${combinations.length} combinations: each step there exactly when its rule says, in the plan's order`, () => {
    for (const { settings, reply, userSentVoice, name } of combinations) {
      const plan = replyPlan({ settings, reply, userSentVoice });
      const spoken =
        settings.voiceReplies === 'always' || (settings.voiceReplies === 'when_user_sent_voice' && userSentVoice);
      const stale = settings.supersedeStaleReplies === true && !reply.handoff;
      const paced = settings.typing !== undefined && !reply.fallback && reply.partCount > 1;
      const expected: string[] = [
        ...(spoken ? ['speak'] : []),
        ...(settings.replyDelaySeconds > 0 ? [`delay ${settings.replyDelaySeconds * 1000}`] : []),
        ...(stale ? ['drop_if_stale'] : []),
      ];
      for (let part = 0; part < reply.partCount; part++) {
        if (paced && part > 0) {
          const ms = Math.min((reply.partLengths?.[part] ?? 0) * typing.msPerChar, typing.maxSeconds * 1000);
          expected.push(`pause ${ms} before ${part}`);
        }
        expected.push(`deliver ${part}`);
      }
      assert.deepEqual(brief(plan), expected, name);
      assert.equal(speaks(settings, userSentVoice), spoken, name);
      assert.equal(pacesReply(plan), paced, name);
      // The interim decides where the reply is written, and nothing after.
      const { interim: _interim, ...withoutInterim } = settings;
      assert.deepEqual(plan, replyPlan({ settings: withoutInterim, reply, userSentVoice }), name);
    }
  });

  test('the answer step takes the stale check and the first attempts up to the first speech, delay or pause; nothing when one comes first', () => {
    for (const { settings, reply, userSentVoice, name } of combinations) {
      const plan = replyPlan({ settings, reply, userSentVoice });
      const share = answerStepShare(plan);
      const workflowFirst = plan[0]?.kind === 'speak' || plan[0]?.kind === 'wait_reply_delay';
      if (workflowFirst) {
        assert.deepEqual(share, { dropIfStale: false, parts: 0 }, name);
        continue;
      }
      assert.equal(share.dropIfStale, plan[0]?.kind === 'drop_if_stale', name);
      assert.equal(share.parts, pacesReply(plan) ? 1 : reply.partCount, name);
      // Its share is exactly the plan's first steps.
      const taken = plan.slice(0, (share.dropIfStale ? 1 : 0) + share.parts);
      assert.ok(
        taken.every((step) => step.kind === 'drop_if_stale' || step.kind === 'deliver'),
        name,
      );
    }
  });

  test('what the workflow is left after the answer step delivered k parts: the rest of the plan, nothing lost or repeated', () => {
    for (const { settings, reply, userSentVoice, name } of combinations) {
      const plan = replyPlan({ settings, reply, userSentVoice });
      const share = answerStepShare(plan);
      if (share.parts === 0) {
        // Nothing was the answer step's: every step is the workflow's.
        assert.deepEqual(replyPlan({ settings, reply, userSentVoice, done: { answerStepDelivered: 0 } }), plan, name);
        continue;
      }
      for (let delivered = 0; delivered <= share.parts; delivered++) {
        const rest = replyPlan({ settings, reply, userSentVoice, done: { answerStepDelivered: delivered } });
        const taken = (share.dropIfStale ? 1 : 0) + delivered;
        assert.deepEqual(rest, plan.slice(taken), `${name}, ${delivered} delivered`);
        // The stale check is never the workflow's once the answer step took its share.
        if (share.parts > 0) assert.ok(!rest.some((step) => step.kind === 'drop_if_stale'), name);
        // Its first step, when there is one, is the first part not delivered or the pause before it.
        const next = rest[0];
        if (next !== undefined)
          assert.equal(next.kind === 'deliver' || next.kind === 'typing_pause' ? next.part : -1, delivered, name);
        else assert.equal(delivered, reply.partCount, name);
      }
    }
  });

  test('the deliveries the workflow’s delivery loop takes: from the first part left, each pause by part index', () => {
    for (const { settings, reply, userSentVoice, name } of combinations) {
      const plan = replyPlan({ settings, reply, userSentVoice });
      const deliveries = deliveriesOf(plan, reply.partCount);
      assert.equal(deliveries?.fromPart, 0, name);
      const pauses = plan.flatMap((step) => (step.kind === 'typing_pause' ? [step] : []));
      if (pauses.length === 0) assert.equal(deliveries?.pausesMs, undefined, name);
      else
        assert.deepEqual(
          deliveries?.pausesMs,
          Array.from({ length: reply.partCount }, (_, part) => pauses.find((pause) => pause.part === part)?.ms ?? 0),
          name,
        );
      const afterFirst = replyPlan({ settings, reply, userSentVoice, done: { answerStepDelivered: 1 } });
      if (answerStepShare(plan).parts > 0) {
        const left = deliveriesOf(afterFirst, reply.partCount);
        assert.equal(left?.fromPart, reply.partCount > 1 ? 1 : undefined, name);
      }
    }
    assert.equal(deliveriesOf([], 0), undefined, 'nothing to deliver');
  });
});

describe('the reply plan: any part lengths and typing speeds', () => {
  test('the pauses are typingPausesMs’s, the answer step and the workflow split the plan without a gap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 5000 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 30 }),
        fc.boolean(),
        fc.nat({ max: 8 }),
        (partLengths, msPerChar, maxSeconds, stale, deliveredWish) => {
          const settings = settingsWith({
            typing: { msPerChar, maxSeconds },
            ...(stale ? { supersedeStaleReplies: true as const } : {}),
          });
          const reply = modelReply(partLengths);
          const plan = replyPlan({ settings, reply, userSentVoice: false });
          for (const step of plan)
            if (step.kind === 'typing_pause')
              assert.equal(step.ms, Math.min(partLengths[step.part]! * msPerChar, maxSeconds * 1000));
          const share = answerStepShare(plan);
          const delivered = Math.min(deliveredWish, share.parts);
          const rest = replyPlan({ settings, reply, userSentVoice: false, done: { answerStepDelivered: delivered } });
          const taken = plan.slice(0, plan.length - rest.length);
          assert.deepEqual([...taken, ...rest], plan);
          assert.equal(taken.filter((step) => step.kind === 'deliver').length, delivered);
        },
      ),
    );
  });
});
