import { defineSignal } from '@temporalio/workflow';

// Version 1 (a sequencer workflow per chat handing out turns by signal). Frozen: these workflows
// only finish what was in flight at the upgrade and replay the archived histories.
export { progressQuery, resumeDeliverySignal, type MessageProgress } from '../definitions.js';

/** A message asks its chat's sequencer for a turn. */
export interface TurnRequest {
  messageId: string;
  workflowId: string;
}
export const requestTurnSignal = defineSignal<[TurnRequest]>('requestTurn');
export const releaseTurnSignal = defineSignal<[{ messageId: string }]>('releaseTurn');
/** The sequencer tells a message workflow that it is its turn. */
export const turnGrantedSignal = defineSignal('turnGranted');
