import { condition, makeContinueAsNewFunc, setHandler, workflowInfo, type Workflow } from '@temporalio/workflow';
import { checkChatTurn } from '../workflows/activity-proxies.js';
import { lineTurnSignal } from '../workflows/definitions.js';

/**
 * How long a waiting message trusts its predecessor to wake it before it looks for itself, and
 * how that grows. The first look comes just after a place abandoned by an API that died between
 * its claim and its start counts as abandoned (30 s, see src/chat-line/line.ts); later
 * ones are rare, since a running predecessor always signals when it ends.
 */
const CHECK_INTERVALS = ['35 seconds', '2 minutes', '10 minutes', '1 hour'] as const;

/**
 * Checks of a long wait before the workflow continues as new: for its turn in the chat's line, and
 * for its paused channel (hourly, src/workflows/delivery.ts); with hourly checks about two days,
 * some 250 history events. A wait behind a paused channel has no end, and a history must not grow
 * without one (Temporal's limit is 51 200 events).
 *
 * Read at every check. Each workflow execution has modules of its own in the sandbox, so a workflow
 * interceptor can lower these for one execution: the tests' does, for executions started with its
 * header (test/helpers/long-wait-checks.ts), so a long wait passes in minutes of virtual time.
 * Nothing in production changes them, and no workflow input carries them.
 */
export const checksBeforeContinue = { turn: 48, pausedChannel: 48 };

/** How a workflow goes on waiting in a fresh run. */
export interface LongWait {
  /** Continues the workflow as new with what it needs to go on; never returns. */
  continueAsNew: () => Promise<never>;
}

/**
 * Whether a loop that has gone round `rounds` times should continue as new: past `limit`, when
 * Temporal suggests it (the history is large), or when a new version of the worker deployment is
 * current (Worker Versioning, docs/upgrades.md). A wait with no end (a paused channel, a chat's
 * line behind it) would otherwise keep the version it started on, pinned, from ever draining: its
 * fresh run starts on the current version instead (continueWithMemo), with nothing to replay. Not
 * in a run's first round, so that a run that cannot move (an operator pinned it to its version)
 * continues as new at most once a wait interval, never in a loop.
 */
export function timeToContinue(rounds: number, limit: number): boolean {
  const info = workflowInfo();
  return (
    rounds >= limit || info.continueAsNewSuggested || (rounds > 0 && info.targetWorkerDeploymentVersionChanged === true)
  );
}

/**
 * Continue-as-new of the running workflow with its memo, which carries its place in the line (read by
 * src/chat-line/temporal.ts to tell a live owner from a stuck one).
 */
export function continueWithMemo<W extends Workflow>(...args: Parameters<W>): Promise<never> {
  // Search attributes (chat, channel, stage) go along too, so the fresh run is found as the old one was.
  const { memo, typedSearchAttributes } = workflowInfo();
  return makeContinueAsNewFunc<W>({
    ...(memo ? { memo } : {}),
    typedSearchAttributes,
    // The fresh run starts on the deployment's current version, not pinned to this run's (Worker
    // Versioning's upgrade on continue-as-new): it reads only its input, which every version accepts.
    initialVersioningBehavior: 'AUTO_UPGRADE',
  })(...args);
}

/**
 * This workflow's place in its chat's line (see src/chat-line/line.ts). The turn is known
 * held only from a read of the stored line (a step's, or checkChatTurn's); a `lineTurn` signal is
 * a hint to read again, never a grant: it may be late, repeated, or sent for a place that ended
 * while an earlier one still runs.
 */
export function chatLineTurn(chatId: string, lineSeq: number, longWait?: LongWait) {
  let held = false;
  let hinted = false;
  // Looks so far in this run (a long wait continues as new after enough of them), and how many of
  // them came due without a hint (each waits longer than the one before).
  let rounds = 0;
  let dueLooks = 0;
  setHandler(lineTurnSignal, () => {
    hinted = true;
  });

  /** Until a hint arrives or the next look is due: which it was. */
  async function nextLook(): Promise<'hint' | 'due'> {
    if (longWait && timeToContinue(rounds, checksBeforeContinue.turn)) await longWait.continueAsNew();
    rounds += 1;
    const interval = CHECK_INTERVALS[Math.min(dueLooks, CHECK_INTERVALS.length - 1)]!;
    const hint = await condition(() => hinted, interval);
    hinted = false;
    if (!hint) dueLooks += 1;
    return hint ? 'hint' : 'due';
  }

  /** Reads the stored line; a look that came due also voids a place before this one that nobody works on. */
  async function look(why: 'hint' | 'due'): Promise<void> {
    if ((await checkChatTurn({ chatId, lineSeq, inspect: why === 'due' })).granted) held = true;
  }

  return {
    /** A step read the stored line and found the turn (admission, or a step that ran in it). */
    grant(): void {
      held = true;
    },
    /** Whether the turn is known held; when it is not, whoever ends the place reads the line to tell. */
    get held(): boolean {
      return held;
    },
    /** Waits until every earlier place of the chat has ended. */
    async wait(): Promise<void> {
      while (!held) await look(await nextLook());
    },
    /**
     * For a step that reads the turn itself (a text message's answer step): waits until it is
     * worth taking again, after a hint, or after a due look that found the turn (or voided a stuck
     * place on the way).
     */
    async untilWorthAsking(): Promise<void> {
      for (;;) {
        const why = await nextLook();
        if (why === 'hint') return;
        await look(why);
        if (held) return;
      }
    },
  };
}
