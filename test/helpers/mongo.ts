import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from 'mongodb';
import { randomId } from '../../src/lib/secrets.js';
import { startMongoServer, type RunningServer } from '../../src/stack/servers.js';
import { openDatabase, type Database } from '../../src/stores/db.js';

export interface TestMongo {
  uri: string;
  dbName: string;
  database: Database;
  db: Db;
  /** Stops the server this helper started (if any) so another start can be tested. */
  server?: RunningServer;
  close(): Promise<void>;
}

/**
 * A MongoDB-compatible database for one test file: the server at MONGODB_URI when set (with a
 * fresh database), otherwise a server of our own (mongod or FerretDB) on a free port.
 */
export async function startTestMongo(): Promise<TestMongo> {
  const dbName = `test_${randomId(6).replace(/[^A-Za-z0-9]/g, '')}`;
  let server: RunningServer | undefined;
  let dataDir: string | undefined;
  let uri = process.env.MONGODB_URI;
  if (!uri) {
    dataDir = mkdtempSync(join(tmpdir(), 'chatrelay-mongo-'));
    server = await startMongoServer({ dataDir });
    uri = server.address;
  }
  const database = openDatabase(uri, dbName);
  return {
    uri,
    dbName,
    database,
    db: database.db,
    ...(server ? { server } : {}),
    async close() {
      if (!server) await database.db.dropDatabase().catch(() => undefined);
      await database.close();
      await server?.stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
