// The workflows the worker registers. Only pure code and activity types may be imported here.
//
// Worker Versioning (docs/upgrades.md): every type is PINNED, the worker's default behaviour
// (src/temporal/worker-versioning.ts; not an annotation per type, which an unversioned worker,
// WORKER_VERSIONING=false, refuses). A run ends on the build that started it, so a deploy never
// replays it on other code. Why that suits each, and how long each can keep an old build busy:
// - messageWorkflow, redeliveryWorkflow: seconds usually; a reply delay (at most 300 s) or
//   delivery retries (DELIVERY_RETRY_SCHEDULE, 27.6 h in all by default) keep them on their build.
//   Their waits without an end, for a paused channel or for the chat's turn behind one, move to the
//   current build at their next check (within the hour) by continuing as new (src/chat-line/wait.ts).
// - chatControlWorkflow: waits for its turn in the chat's line like a message, and moves the same way.
// - operationalEventWorkflow: retried on the replies' schedule, so it never holds a build longer
//   than the messages it reports on; auto-upgrade would only add replay constraints for nothing.
// - retentionWorkflow: started daily by its Schedule on whatever build is current; a long job
//   moves to a new current build at its next batch (continue-as-new), a batch lasting minutes.
// - historyErasureWorkflow: an erasure's deletion of the user's workflow executions; seconds,
//   minutes at most (it waits for runs still closing, then deletes them anyway).
export { messageWorkflow } from './message.js';
export { redeliveryWorkflow } from './redelivery.js';
export { retentionWorkflow } from './retention.js';
export { operationalEventWorkflow } from './operational-event.js';
export { chatControlWorkflow } from './chat-control.js';
export { historyErasureWorkflow } from './history-erasure.js';
