// The workflows the worker registers. Only pure code and activity types may be imported here.
export { chatTurnsWorkflow } from './chat-turns.js';
export { messageWorkflow } from './message.js';
export { redeliveryWorkflow } from './redelivery.js';
