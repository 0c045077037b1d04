import type { Db } from 'mongodb';
import { createAgentStore } from './agents.js';
import { createBlobStore } from './blobs.js';
import { createChannelStore } from './channels.js';
import { createChatStore } from './chats.js';
import { collections, ensureIndexes } from './collections.js';
import { createHistoryStore } from './history.js';
import { createMessageStore } from './messages.js';

export function createStores(db: Db) {
  const c = collections(db);
  return {
    agents: createAgentStore(c),
    channels: createChannelStore(c),
    chats: createChatStore(c),
    history: createHistoryStore(c),
    messages: createMessageStore(c),
    blobs: createBlobStore(c),
    ensureIndexes: () => ensureIndexes(c),
  };
}

export type Stores = ReturnType<typeof createStores>;
