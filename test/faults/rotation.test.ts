/**
 * A signing-secret rotation that fails midway (issue 12, item 4): the connection to MongoDB is cut
 * right at one of its two writes, by a real TCP proxy that reads MongoDB's wire protocol and drops
 * the connection when it sees that command. Whichever step fails, the channel keeps a secret that
 * signs (never none), and the rotation run again completes.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { signatureHeaders } from '../../src/activities/signing.js';
import { openDatabase, type Database } from '../../src/stores/db.js';
import { createStores, type Stores } from '../../src/stores/index.js';
import { createChannelWithAgent } from '../helpers/fixtures.js';
import { startTestMongo, type TestMongo } from '../helpers/mongo.js';

const OP_MSG = 2013;

/** The command an OP_MSG carries: the first key and string value of its body section (kind 0). */
function commandOf(message: Buffer): { name: string; target: string } | undefined {
  if (message.readInt32LE(12) !== OP_MSG) return undefined;
  let offset = 20; // header (16) and flag bits (4)
  while (offset < message.length) {
    const kind = message[offset];
    offset += 1;
    const size = message.readInt32LE(offset);
    if (kind === 0) {
      // BSON: int32 size, then elements: type byte, key (cstring), value.
      const type = message[offset + 4];
      const keyEnd = message.indexOf(0, offset + 5);
      const name = message.toString('utf8', offset + 5, keyEnd);
      const target =
        type === 0x02 ? message.toString('utf8', keyEnd + 5, keyEnd + 4 + message.readInt32LE(keyEnd + 1)) : '';
      return { name, target };
    }
    offset += size;
  }
  return undefined;
}

/**
 * A TCP proxy to MongoDB that, once armed, drops the connection carrying `command` on `collection`
 * (before forwarding it) and every connection after, until healed: a database gone at that moment.
 */
async function startCuttingProxy(target: { host: string; port: number }) {
  let armed: { command: string; collection: string } | undefined;
  let down = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    let pending = Buffer.alloc(0);
    const cut = (): void => {
      down = true;
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const length = pending.readInt32LE(0);
        const message = pending.subarray(0, length);
        pending = pending.subarray(length);
        const command = commandOf(message);
        if (armed && command?.name === armed.command && command.target === armed.collection) {
          armed = undefined;
          cut();
          return;
        }
        upstream.write(message);
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('close', () => to.destroy());
      from.on('error', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cutAt(command: string, collection: string) {
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

describe('signing-secret rotation when MongoDB goes away midway', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let proxy: Awaited<ReturnType<typeof startCuttingProxy>>;
  let proxied: Database;
  let viaProxy: Stores;
  before(async () => {
    mongo = await startTestMongo();
    stores = createStores(mongo.db);
    await stores.ensureIndexes();
    const { hostname, port } = new URL(mongo.uri);
    proxy = await startCuttingProxy({ host: hostname, port: Number(port) });
    proxied = openDatabase(`mongodb://127.0.0.1:${proxy.port}`, mongo.dbName);
    viaProxy = createStores(proxied.db);
  });
  after(async () => {
    await proxied?.close();
    await proxy?.close();
    await mongo?.close();
  });

  /** Whether a reply signed with the channel's active secrets verifies with `secret`. */
  async function verifiesWith(channelId: string, secret: string): Promise<boolean> {
    const active = await stores.signingSecrets.active(channelId);
    const at = new Date();
    const headers = signatureHeaders(active, 'msg_x.0', at, 'text=hello');
    try {
      new Webhook(secret).verify('text=hello', headers, { jsonParse: false });
      return true;
    } catch {
      return false;
    }
  }

  test('cut at the retirement of the old secret: old and new both sign; run again, only the new one', async () => {
    const { channel, signingSecret: oldSecret } = await createChannelWithAgent(stores, {
      replyUrl: 'http://127.0.0.1:9/r',
    });
    proxy.cutAt('update', 'signing_secrets');
    // No grace period: had the second step run, the old secret would stop signing at once.
    await assert.rejects(viaProxy.signingSecrets.rotate(channel.id, 0));
    const active = await stores.signingSecrets.active(channel.id);
    assert.equal(active.length, 2, 'the new secret was stored, the old one not retired');
    assert.ok(active.includes(oldSecret));
    assert.equal(await verifiesWith(channel.id, oldSecret), true, 'receivers holding the old secret still verify');

    proxy.heal();
    const newest = await viaProxy.signingSecrets.rotate(channel.id, 0);
    assert.deepEqual(await stores.signingSecrets.active(channel.id), [newest]);
    assert.equal(await verifiesWith(channel.id, newest), true);
    assert.equal(await verifiesWith(channel.id, oldSecret), false);
  });

  test('cut at the new secret’s insert: the old secret still signs, alone', async () => {
    const { channel, signingSecret: oldSecret } = await createChannelWithAgent(stores, {
      replyUrl: 'http://127.0.0.1:9/r',
    });
    proxy.cutAt('insert', 'signing_secrets');
    await assert.rejects(viaProxy.signingSecrets.rotate(channel.id, 0));
    assert.deepEqual(await stores.signingSecrets.active(channel.id), [oldSecret]);
    assert.equal(await verifiesWith(channel.id, oldSecret), true);
    proxy.heal();
  });
});
