import type { Db } from 'mongodb';
import { createAgentStore } from './agents.js';
import { createBlobStore } from './blobs.js';
import { createChannelStore } from './channels.js';
import { createChatStore } from './chats.js';
import { collections, ensureIndexes } from './collections.js';
import { createHistoryStore } from './history.js';
import { createMessageStore } from './messages.js';
import { createSigningSecretStore } from './signing-secrets.js';
import { createSecretBox, type SecretBox } from '../lib/secret-box.js';

/** The stores; production wiring passes the configured secret box (see secretBoxPassphrase). */
export function createStores(db: Db, options: { secretBox?: SecretBox } = {}) {
  const c = collections(db);
  const box = options.secretBox ?? createSecretBox('tests-and-tools-only-not-a-deployment-key');
  const signingSecrets = createSigningSecretStore(db, box);
  return {
    signingSecrets,
    agents: createAgentStore(c),
    channels: createChannelStore(c, box),
    chats: createChatStore(c),
    history: createHistoryStore(c),
    messages: createMessageStore(c),
    blobs: createBlobStore(c),
    ensureIndexes: async () => {
      await Promise.all([ensureIndexes(c), signingSecrets.ensureIndexes()]);
    },
  };
}

export type Stores = ReturnType<typeof createStores>;
