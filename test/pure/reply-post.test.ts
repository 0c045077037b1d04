import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ActivitySettings } from '../../src/activities/deps.js';
import { postForm, type DeliveryPolicy } from '../../src/activities/reply-post.js';
import { waitFor } from '../../src/lib/wait.js';
import { testActivitySettings } from '../helpers/fixtures.js';

/**
 * A real receiver with the behaviours a hostile or odd one can have: `/ok` answers 204, `/moved`
 * redirects to `/ok`, `/flood` answers 200 and then streams a body without end until the client
 * hangs up. It counts what it was asked and what it sent.
 */
interface Hostile {
  port: number;
  hits: string[];
  flood: { bytesSent: number; clientClosed: boolean };
  close(): Promise<void>;
}

async function startHostileReceiver(): Promise<Hostile> {
  const hits: string[] = [];
  const flood = { bytesSent: 0, clientClosed: false };
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    req.resume();
    req.on('end', () => {
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/ok' }).end();
      } else if (req.url === '/flood') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.on('close', () => (flood.clientClosed = true));
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk)) flood.bytesSent += chunk.length;
          if (!res.destroyed) {
            flood.bytesSent += chunk.length;
            res.once('drain', pump);
          }
        };
        pump();
      } else {
        res.writeHead(204).end();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    flood,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const strict: DeliveryPolicy = { allowPrivate: false, allowHosts: [] };
const form = 'text=hello&images=&file=&audio=';

describe('postForm: where a reply may go, and how much of the answer is read', () => {
  let receiver: Hostile;
  before(async () => {
    receiver = await startHostileReceiver();
  });
  after(async () => {
    await receiver?.close();
  });

  test('a loopback, private or metadata address is refused without a connection, and the refusal says how to allow it', async () => {
    for (const url of [
      `http://127.0.0.1:${receiver.port}/ok`,
      `http://[::1]:${receiver.port}/ok`,
      'http://169.254.169.254/latest/meta-data',
      'http://10.1.2.3/hook',
      'http://2130706433/ok',
    ]) {
      const outcome = await postForm(url, form, {}, 5_000, strict);
      assert.equal(outcome.result, 'rejected', url);
      assert.equal(outcome.status, undefined);
      assert.match(
        'error' in outcome ? outcome.error : '',
        /Refusing .*loopback, private, link-local or reserved.*DELIVERY_ALLOW_PRIVATE or DELIVERY_ALLOW_HOSTS/,
        url,
      );
    }
    assert.deepEqual(receiver.hits, []);
  });

  test('a host name is checked at DNS lookup time: one that resolves to loopback is refused', async () => {
    const outcome = await postForm(`http://localhost:${receiver.port}/ok`, form, {}, 5_000, strict);
    assert.equal(outcome.result, 'rejected');
    assert.match('error' in outcome ? outcome.error : '', /localhost resolves to (127\.0\.0\.1|::1)/);
    assert.deepEqual(receiver.hits, []);
  });

  test('private receivers are allowed explicitly: all of them, or by host name', async () => {
    assert.deepEqual(
      await postForm(`http://127.0.0.1:${receiver.port}/ok`, form, {}, 5_000, { allowPrivate: true, allowHosts: [] }),
      { result: 'delivered', status: 204 },
    );
    assert.deepEqual(
      await postForm(`http://localhost:${receiver.port}/ok`, form, {}, 5_000, {
        allowPrivate: false,
        allowHosts: ['LocalHost'],
      }),
      { result: 'delivered', status: 204 },
    );
  });

  test('a reply to a link-local or metadata address is refused even where private receivers are allowed', async () => {
    const local = { allowPrivate: true, allowHosts: [] };
    for (const url of ['http://169.254.169.254/latest/meta-data/iam', 'http://[fd00:ec2::254]/latest']) {
      const outcome = await postForm(url, form, {}, 1_000, local);
      assert.equal(outcome.result, 'rejected', url);
      assert.match('error' in outcome ? outcome.error : '', /link-local or cloud metadata address/);
    }
  });

  test('the address guard is required by the type: no POST, and no worker settings, without a policy', () => {
    // @ts-expect-error: postForm without a policy does not compile (it once meant "any address").
    const unguarded: Parameters<typeof postForm> = [`http://127.0.0.1:${receiver.port}/ok`, form, {}, 5_000];
    const { deliveryPolicy: _dropped, ...rest } = testActivitySettings();
    // @ts-expect-error: nor do activity settings without a delivery policy.
    const settings: ActivitySettings = rest;
    assert.equal(unguarded.length, 4);
    assert.equal('deliveryPolicy' in settings, false);
  });

  test('a redirect is not followed: it is the final answer', async () => {
    receiver.hits.length = 0;
    const outcome = await postForm(`http://127.0.0.1:${receiver.port}/moved`, form, {}, 5_000, {
      allowPrivate: true,
      allowHosts: [],
    });
    assert.deepEqual(outcome, { result: 'rejected', status: 302, error: 'receiver answered 302' });
    assert.deepEqual(receiver.hits, ['/moved']);
  });

  test('the status decides, a few KiB of the answer are read, and the connection is dropped', async () => {
    const outcome = await postForm(`http://127.0.0.1:${receiver.port}/flood`, form, {}, 3_000, {
      allowPrivate: true,
      allowHosts: [],
      maxResponseBytes: 4096,
    });
    assert.deepEqual(outcome, { result: 'delivered', status: 200 });
    await waitFor(() => receiver.flood.clientClosed, {
      timeoutMs: 10_000,
      what: 'chatrelay to hang up on the endless answer',
    });
    // What the receiver got out before the hang-up is bounded by the sockets' buffers, not by its will.
    assert.ok(
      receiver.flood.bytesSent < 16 * 1024 * 1024,
      `the receiver sent ${receiver.flood.bytesSent} bytes before chatrelay hung up`,
    );
  });
});
