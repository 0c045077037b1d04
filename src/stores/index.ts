import type { Db } from 'mongodb';
import { createAgentStore } from './agents.js';
import { createBlobStore } from './blobs.js';
import { createChannelStore } from './channels.js';
import { createChatStore } from './chats.js';
import { collections, ensureIndexes } from './collections.js';
import { createDashboardReadStore } from './dashboard-reads.js';
import { createChatLineStore, migrateLegacyLines } from '../chat-line/store.js';
import { createErasureStore } from './erasure.js';
import { createMessageStore } from './messages.js';
import { createSigningSecretStore } from './signing-secrets.js';
import { createSecretBox, type SecretBox } from '../lib/secret-box.js';

/** The stores; production wiring passes the configured secret box (see secretBoxPassphrase). */
export function createStores(db: Db, options: { secretBox?: SecretBox; messageCacheEntries?: number } = {}) {
  const c = collections(db);
  const box = options.secretBox ?? createSecretBox('tests-and-tools-only-not-a-deployment-key');
  const signingSecrets = createSigningSecretStore(db, box);
  const channels = createChannelStore(c, box);
  const lines = createChatLineStore(c);
  const messages = createMessageStore(
    c,
    options.messageCacheEntries !== undefined ? { cacheEntries: options.messageCacheEntries } : {},
  );
  return {
    signingSecrets,
    agents: createAgentStore(c),
    channels,
    chats: createChatStore(c),
    messages,
    lines,
    blobs: createBlobStore(c),
    /** Read-only views for the dashboard (chats, a chat's messages, the overview). */
    dashboard: createDashboardReadStore(c, lines),
    /** Retention and end users' erasure requests: deleting a chat or old messages with all their records. */
    // What this process's erasures and retention delete, its message cache forgets at once.
    erasure: createErasureStore(c, { onErased: (ids) => messages.forget(ids) }),
    ensureIndexes: async () => {
      await Promise.all([
        ensureIndexes(c),
        signingSecrets.ensureIndexes(),
        channels.ensurePages(),
        migrateLegacyLines(db, c),
      ]);
    },
  };
}

export type Stores = ReturnType<typeof createStores>;
