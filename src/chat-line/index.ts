import type { Client } from '@temporalio/client';
import type { Stores } from '../stores/index.js';
import { createChatLine, type ChatLine } from './line.js';
import { temporalLineWorkflows } from './temporal.js';

export type { ChatLine } from './line.js';

/** The chats' lines as the API and the worker use them: places in MongoDB, wake-ups through Temporal. */
export function chatLineFor(stores: Pick<Stores, 'lines'>, client: Client): ChatLine {
  return createChatLine({ lines: stores.lines, workflows: temporalLineWorkflows(client) });
}
