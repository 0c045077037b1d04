// The workflows the worker registers. Only pure code and activity types may be imported here.
export { messageWorkflow } from './message.js';
export { redeliveryWorkflow } from './redelivery.js';
export { retentionWorkflow } from './retention.js';
export { operationalEventWorkflow } from './operational-event.js';
export { chatControlWorkflow } from './chat-control.js';
