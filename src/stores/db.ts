import { MongoClient, type Db } from 'mongodb';

export interface Database {
  readonly client: MongoClient;
  readonly db: Db;
  close(): Promise<void>;
  ping(): Promise<void>;
}

/**
 * Opens a client; the driver connects lazily, so a MongoDB that is down at start-up makes
 * requests fail (and /readyz report it) rather than stopping the process.
 */
export function openDatabase(uri: string, dbName: string): Database {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    maxPoolSize: 50,
    retryWrites: false, // FerretDB v1 has no retryable writes; our writes are idempotent instead.
  });
  const db = client.db(dbName);
  return {
    client,
    db,
    close: () => client.close(),
    async ping() {
      await db.command({ ping: 1 });
    },
  };
}
