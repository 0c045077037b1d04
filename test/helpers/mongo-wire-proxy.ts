import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { BSON, type Document } from 'mongodb';

/** One command a client sent, as the server received it. */
export interface RecordedCommand {
  /** The command's name: `find`, `insert`, `update`, `delete`, ... */
  name: string;
  collection: string | undefined;
  /** The filters it selects documents with: `find`'s filter, each update's `q`, each delete's `q`. */
  filters: Document[];
}

export interface MongoWireProxy {
  /** A MongoDB URI that reaches the upstream server through the proxy. */
  uri: string;
  /** Starts recording commands anew (none are recorded before the first call). */
  record(): void;
  /** Commands recorded since the last `record()`. */
  commands(): RecordedCommand[];
  /**
   * Once armed, drops the connection carrying `command` on `collection` (before forwarding it)
   * and every connection after, until healed: a database gone at that moment.
   */
  cutAt(command: string, collection: string): void;
  heal(): void;
  close(): Promise<void>;
}

const OP_MSG = 2013;
const OP_COMPRESSED = 2012;

/** The command an OP_MSG carries: its body, with any document sequences folded in by their identifier. */
function decodeOpMsg(message: Buffer): Document {
  let offset = 16 + 4; // header, flag bits
  let body: Document = {};
  const sequences: Record<string, Document[]> = {};
  const end = message.readInt32LE(0);
  while (offset < end) {
    const kind = message.readUInt8(offset);
    offset += 1;
    if (kind === 0) {
      const size = message.readInt32LE(offset);
      body = BSON.deserialize(message.subarray(offset, offset + size));
      offset += size;
    } else if (kind === 1) {
      const sectionEnd = offset + message.readInt32LE(offset);
      const nameEnd = message.indexOf(0, offset + 4);
      const identifier = message.toString('utf8', offset + 4, nameEnd);
      const docs: Document[] = [];
      for (let at = nameEnd + 1; at < sectionEnd; at += message.readInt32LE(at))
        docs.push(BSON.deserialize(message.subarray(at, at + message.readInt32LE(at))));
      sequences[identifier] = docs;
      offset = sectionEnd;
    } else {
      break; // a checksum follows: nothing more to read
    }
  }
  return { ...body, ...sequences };
}

function describeCommand(command: Document): RecordedCommand {
  const name = Object.keys(command)[0] ?? '?';
  const target: unknown = command[name];
  const filters: Document[] = [];
  if (name === 'find' || name === 'count' || name.toLowerCase() === 'findandmodify')
    filters.push((command.filter ?? command.query ?? {}) as Document);
  for (const statement of (command.updates ?? command.deletes ?? []) as Document[])
    filters.push((statement.q ?? {}) as Document);
  if (name === 'aggregate') filters.push({ $pipeline: command.pipeline as unknown });
  return { name, collection: typeof target === 'string' ? target : undefined, filters };
}

/**
 * A TCP proxy in front of a MongoDB-compatible server that reads the wire protocol clients send
 * (OP_MSG; the driver compresses nothing unless asked): it records each command, for processes
 * a test cannot instrument (the API and the worker open their own clients), and can cut the
 * connection at a chosen command. Replies pass through untouched.
 */
export async function startMongoWireProxy(upstreamUri: string): Promise<MongoWireProxy> {
  const upstream = new URL(upstreamUri);
  let recorded: RecordedCommand[] | undefined;
  let armed: { command: string; collection: string } | undefined;
  let down = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    if (down) {
      client.destroy();
      return;
    }
    const remote = createConnection({ host: upstream.hostname, port: Number(upstream.port || 27017) });
    sockets.add(remote);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 16 && pending.length >= pending.readInt32LE(0)) {
        const message = pending.subarray(0, pending.readInt32LE(0));
        pending = pending.subarray(message.length);
        const opCode = message.readInt32LE(12);
        if (opCode === OP_COMPRESSED) throw new Error('the MongoDB wire proxy cannot read compressed messages');
        const command = opCode === OP_MSG ? describeCommand(decodeOpMsg(message)) : undefined;
        if (armed && command?.name === armed.command && command.collection === armed.collection) {
          armed = undefined;
          down = true;
          client.destroy();
          remote.destroy();
          return;
        }
        if (command) recorded?.push(command);
        remote.write(message);
      }
    });
    remote.on('data', (chunk: Buffer) => client.write(chunk));
    for (const [from, to] of [
      [client, remote],
      [remote, client],
    ] as const) {
      from.on('close', () => {
        to.destroy();
        sockets.delete(from);
      });
      from.on('error', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    uri: `mongodb://127.0.0.1:${port}${upstream.pathname}${upstream.search}`,
    record() {
      recorded = [];
    },
    commands: () => [...(recorded ?? [])],
    cutAt(command, collection) {
      armed = { command, collection };
    },
    heal() {
      down = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
