// The workflows the worker registers. Only pure code and activity types may be imported here.
export { messageWorkflow } from './message.js';
