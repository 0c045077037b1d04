// The workflows the worker registers. Only pure code and activity types may be imported here.
export { messageWorkflowV2, messageWorkflowV3 } from './message.js';
export { redeliveryWorkflowV2 } from './redelivery.js';
export { retentionWorkflow } from './retention.js';
export { operationalEventWorkflow } from './operational-event.js';
export { chatControlWorkflow } from './chat-control.js';
// Version 1: frozen, registered so that workflows in flight at the upgrade finish and the archived
// histories replay. Nothing new starts them.
export { chatTurnsWorkflow } from './v1/chat-turns.js';
export { messageWorkflow } from './v1/message.js';
export { redeliveryWorkflow } from './v1/redelivery.js';
