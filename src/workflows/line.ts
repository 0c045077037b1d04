import { condition, setHandler } from '@temporalio/workflow';
import { checkChatTurn } from './activities.js';
import { lineTurnSignal } from './definitions.js';

/**
 * How long a waiting message trusts its predecessor to wake it before it looks for itself, and
 * how that grows. The first look comes just after a place abandoned by an API that died between
 * its claim and its start counts as abandoned (30 s, see src/coordination/chat-line.ts); later
 * ones are rare, since a running predecessor always signals when it ends.
 */
const CHECK_INTERVALS = ['35 seconds', '2 minutes', '10 minutes', '1 hour'] as const;

/** This workflow's place in its chat's line (see src/coordination/chat-line.ts). */
export function chatLineTurn(chatId: string, lineSeq: number) {
  let granted = false;
  setHandler(lineTurnSignal, () => {
    granted = true;
  });
  return {
    /** Admission found the turn already there. */
    grant(): void {
      granted = true;
    },
    /** Waits until every earlier message of the chat has finished. */
    async wait(): Promise<void> {
      for (let check = 0; !granted; check++) {
        const interval = CHECK_INTERVALS[Math.min(check, CHECK_INTERVALS.length - 1)]!;
        if (await condition(() => granted, interval)) return;
        if ((await checkChatTurn({ chatId, lineSeq })).granted) granted = true;
      }
    },
  };
}
