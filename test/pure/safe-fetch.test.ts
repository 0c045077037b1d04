import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isForbiddenAddress, isLinkLocalAddress, passOnProblem, UnsafeUrlError } from '../../src/lib/address-policy.js';
import { safeFetch, type SafeFetchPolicy } from '../../src/lib/safe-fetch.js';

const basePolicy: SafeFetchPolicy = {
  allowPrivate: false,
  allowHosts: [],
  maxBytes: 64 * 1024,
  connectTimeoutMs: 2_000,
  totalTimeoutMs: 5_000,
  maxRedirects: 3,
};
const localPolicy: SafeFetchPolicy = { ...basePolicy, allowPrivate: true };

/** Asserts that `promise` rejects with an UnsafeUrlError and returns it for further checks. */
async function rejection(promise: Promise<unknown>, reason: string): Promise<UnsafeUrlError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UnsafeUrlError, `expected UnsafeUrlError, got ${String(error)}`);
    assert.equal(error.reason, reason, `reason (message: ${error.message})`);
    return error;
  }
  assert.fail(`expected rejection with reason ${reason}`);
}

interface TestServer {
  port: number;
  url(path: string): string;
  /** Paths requested so far, to prove refused targets were never contacted. */
  seen: string[];
  close(): Promise<void>;
}

async function startServer(handler: http.RequestListener): Promise<TestServer> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    url: (path) => `http://127.0.0.1:${address.port}${path}`,
    seen,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Stalled test responses would otherwise keep close() waiting forever.
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

describe('isForbiddenAddress', () => {
  const forbidden = [
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '169.254.0.1',
    '0.0.0.0',
    '0.1.2.3',
    '100.64.0.1',
    '100.127.255.255',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456:789a::1',
    'fe80::1',
    'fe80::1%eth0',
    'febf::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:192.168.0.1',
    '0:0:0:0:0:ffff:127.0.0.1',
    '64:ff9b::127.0.0.1',
    '2002:7f00:1::1', // 6to4 for 127.0.0.1
    'not an ip',
    '',
    'localhost',
  ];
  const allowed = [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '100.63.255.255', // just below CGNAT
    '100.128.0.0', // just above CGNAT
    '172.15.255.255', // just below 172.16/12
    '172.32.0.0', // just above 172.16/12
    '192.169.0.1',
    '223.255.255.255', // just below multicast
    '2606:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1', // 6to4 for 8.8.8.8
  ];
  for (const ip of forbidden) {
    it(`forbids ${JSON.stringify(ip)}`, () => assert.equal(isForbiddenAddress(ip), true));
  }
  for (const ip of allowed) {
    it(`allows ${ip}`, () => assert.equal(isForbiddenAddress(ip), false));
  }
});

describe('safeFetch', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer((req, res) => {
      const path = req.url ?? '/';
      const redirect = /^\/hop\/(\d+)$/.exec(path);
      if (redirect) {
        const left = Number(redirect[1]);
        // Relative Locations for most hops, to check they resolve against the current URL.
        res.writeHead(left % 2 === 0 ? 302 : 307, { location: left > 1 ? `/hop/${left - 1}` : '/ok' });
        res.end();
        return;
      }
      switch (path) {
        case '/ok':
          res.writeHead(200, { 'content-type': 'audio/ogg; codecs=opus' });
          res.end('voice note');
          return;
        case '/no-type':
          res.writeHead(200);
          res.end('bytes');
          return;
        case '/html':
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end('<p>hi</p>');
          return;
        case '/to-localhost':
          res.writeHead(302, { location: `http://localhost:${server.port}/ok` });
          res.end();
          return;
        case '/to-literal':
          res.writeHead(302, { location: `http://127.0.0.1:${server.port}/ok` });
          res.end();
          return;
        case '/to-ftp':
          res.writeHead(301, { location: 'ftp://example.com/file' });
          res.end();
          return;
        case '/big-declared':
          // Headers only, then silence: only an early Content-Length check can end this before the timeout.
          res.writeHead(200, { 'content-type': 'audio/ogg', 'content-length': String(10 * 1024 * 1024) });
          res.flushHeaders();
          return;
        case '/big-chunked': {
          // An endless chunked body: only aborting mid-stream can end this before the timeout.
          res.writeHead(200, { 'content-type': 'audio/ogg' });
          const chunk = Buffer.alloc(16 * 1024, 1);
          const pump = (): void => {
            while (!res.destroyed && res.write(chunk));
            if (!res.destroyed) res.once('drain', pump);
          };
          pump();
          return;
        }
        case '/exact':
          res.writeHead(200, { 'content-type': 'audio/ogg' });
          res.end(Buffer.alloc(1024, 2));
          return;
        case '/slow':
          res.writeHead(200, { 'content-type': 'audio/ogg' });
          res.write('partial body, then nothing');
          return;
        case '/404':
          res.writeHead(404);
          res.end('missing');
          return;
        case '/503':
          res.writeHead(503);
          res.end('busy');
          return;
        case '/429':
          res.writeHead(429);
          res.end('slow down');
          return;
        default:
          res.writeHead(500);
          res.end();
      }
    });
  });

  after(async () => {
    await server.close();
  });

  describe('addresses', () => {
    it('refuses loopback when allowPrivate is false', async () => {
      const before = server.seen.length;
      const error = await rejection(safeFetch(server.url('/ok'), basePolicy), 'address');
      assert.equal(error.retryable, false);
      assert.match(error.message, /127\.0\.0\.1/);
      assert.equal(server.seen.length, before, 'the server must not have been contacted');
    });

    it('allows loopback when allowPrivate is true', async () => {
      const result = await safeFetch(server.url('/ok'), localPolicy);
      assert.equal(result.data.toString(), 'voice note');
      assert.equal(result.contentType, 'audio/ogg; codecs=opus');
      assert.equal(result.finalUrl, server.url('/ok'));
    });

    it('allows a host listed in allowHosts, case-insensitively', async () => {
      const result = await safeFetch(`http://LOCALHOST:${server.port}/ok`, {
        ...basePolicy,
        allowHosts: ['LocalHost'],
      });
      assert.equal(result.data.toString(), 'voice note');
    });

    it('refuses the localhost hostname, which resolves to loopback', async () => {
      const before = server.seen.length;
      const error = await rejection(safeFetch(`http://localhost:${server.port}/ok`, basePolicy), 'address');
      assert.match(error.message, /localhost resolves to/);
      assert.equal(server.seen.length, before);
    });

    it('refuses other spellings of loopback', async () => {
      for (const host of ['[::ffff:127.0.0.1]', '[::1]', '2130706433', '0x7f.1', '127.1', '[::]', '0.0.0.0']) {
        await rejection(safeFetch(`http://${host}:${server.port}/ok`, basePolicy), 'address');
      }
    });

    it('refuses cloud metadata without connecting', async () => {
      await rejection(safeFetch('http://169.254.169.254/latest/meta-data/', basePolicy), 'address');
    });

    it('refuses link-local and metadata addresses even with allowPrivate, in every spelling, unless the host is named', async () => {
      for (const host of [
        '169.254.169.254',
        '[::ffff:169.254.169.254]',
        '[::ffff:a9fe:a9fe]',
        '[64:ff9b::a9fe:a9fe]',
        '[2002:a9fe:a9fe::1]',
        '[fe80::1]',
        '[fd00:ec2::254]',
        '100.100.100.200',
        '2852039166', // 169.254.169.254 as one number
      ]) {
        const error = await rejection(safeFetch(`http://${host}/latest/meta-data/`, localPolicy), 'address');
        assert.match(error.message, /link-local or cloud metadata address/, host);
      }
      // Named explicitly, it is the operator's choice: the guard lets the connection be tried.
      const named = await rejection(
        safeFetch('http://169.254.169.254:9/latest/meta-data/', {
          ...localPolicy,
          allowHosts: ['169.254.169.254'],
          connectTimeoutMs: 200,
          totalTimeoutMs: 300,
        }),
        'timeout',
      ).catch((error: unknown) => error);
      assert.ok(
        !(named instanceof UnsafeUrlError && named.reason === 'address'),
        `not refused by the guard: ${String(named)}`,
      );
      // Private and loopback addresses stay allowed.
      assert.equal((await safeFetch(server.url('/ok'), localPolicy)).data.toString(), 'voice note');
    });
  });

  describe('schemes and URLs', () => {
    it('refuses ftp: and file:', async () => {
      for (const url of [
        'ftp://example.com/a.ogg',
        'file:///etc/passwd',
        'data:text/plain,hi',
        'javascript:alert(1)',
      ]) {
        const error = await rejection(safeFetch(url, localPolicy), 'scheme');
        assert.equal(error.retryable, false);
      }
    });

    it('refuses malformed URLs without echoing them', async () => {
      const error = await rejection(safeFetch('http://user:hunter2@[bad', localPolicy), 'invalid_url');
      assert.doesNotMatch(error.message, /hunter2/);
      assert.equal(error.retryable, false);
    });

    it('keeps credentials out of error messages and finalUrl', async () => {
      const refused = await rejection(
        safeFetch(`http://alice:s3cret@127.0.0.1:${server.port}/ok?sig=tok3n`, basePolicy),
        'address',
      );
      assert.doesNotMatch(refused.message, /alice|s3cret|tok3n/);
      const status = await rejection(
        safeFetch(`http://alice:s3cret@127.0.0.1:${server.port}/404`, localPolicy),
        'http_status',
      );
      assert.doesNotMatch(status.message, /alice|s3cret/);
      const ok = await safeFetch(`http://alice:s3cret@127.0.0.1:${server.port}/ok`, localPolicy);
      assert.doesNotMatch(ok.finalUrl, /alice|s3cret/);
    });
  });

  describe('redirects', () => {
    it('follows a chain within the limit', async () => {
      const result = await safeFetch(server.url('/hop/3'), { ...localPolicy, maxRedirects: 3 });
      assert.equal(result.data.toString(), 'voice note');
      assert.equal(result.finalUrl, server.url('/ok'));
    });

    it('refuses a chain over the limit', async () => {
      const error = await rejection(safeFetch(server.url('/hop/3'), { ...localPolicy, maxRedirects: 2 }), 'redirects');
      assert.equal(error.retryable, false);
    });

    it('refuses any redirect when maxRedirects is 0', async () => {
      await rejection(safeFetch(server.url('/hop/1'), { ...localPolicy, maxRedirects: 0 }), 'redirects');
    });

    it('re-checks the address of every redirect target', async () => {
      const before = server.seen.length;
      const policy = { ...basePolicy, allowHosts: ['127.0.0.1'] };
      const error = await rejection(safeFetch(server.url('/to-localhost'), policy), 'address');
      assert.equal(error.retryable, false);
      assert.deepEqual(server.seen.slice(before), ['/to-localhost'], 'the forbidden target must not be contacted');
    });

    it('re-checks literal IP redirect targets, which skip DNS', async () => {
      const before = server.seen.length;
      const policy = { ...basePolicy, allowHosts: ['localhost'] };
      await rejection(safeFetch(`http://localhost:${server.port}/to-literal`, policy), 'address');
      assert.deepEqual(server.seen.slice(before), ['/to-literal']);
    });

    it('re-checks the scheme of every redirect target', async () => {
      await rejection(safeFetch(server.url('/to-ftp'), localPolicy), 'scheme');
    });
  });

  describe('body size', () => {
    const small = { ...localPolicy, maxBytes: 32 * 1024 };

    it('refuses early when Content-Length is over the cap', async () => {
      const error = await rejection(safeFetch(server.url('/big-declared'), small), 'too_large');
      assert.equal(error.retryable, false);
    });

    it('aborts a chunked body as soon as it passes the cap', async () => {
      const error = await rejection(safeFetch(server.url('/big-chunked'), small), 'too_large');
      assert.equal(error.retryable, false);
    });

    it('accepts a body of exactly maxBytes', async () => {
      const result = await safeFetch(server.url('/exact'), { ...localPolicy, maxBytes: 1024 });
      assert.equal(result.data.length, 1024);
    });
  });

  describe('timeouts', () => {
    it('enforces the total timeout on a server that stalls mid-body', async () => {
      const started = Date.now();
      const error = await rejection(safeFetch(server.url('/slow'), { ...localPolicy, totalTimeoutMs: 200 }), 'timeout');
      assert.equal(error.retryable, true);
      assert.ok(Date.now() - started < 2_000, 'gave up promptly');
    });

    it('enforces the connect timeout on a TLS handshake that never completes', async () => {
      // A plain TCP server that accepts and says nothing: TCP connects, TLS never does.
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as net.AddressInfo;
      try {
        const error = await rejection(
          safeFetch(`https://127.0.0.1:${port}/`, { ...localPolicy, connectTimeoutMs: 150 }),
          'timeout',
        );
        assert.match(error.message, /connecting/);
        assert.equal(error.retryable, true);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });
  });

  describe('content type', () => {
    const audioOnly = (type: string): boolean => type.startsWith('audio/') || type === 'application/octet-stream';

    it('passes the media type without parameters to the filter', async () => {
      const seen: string[] = [];
      const result = await safeFetch(server.url('/ok'), {
        ...localPolicy,
        allowedContentTypes: (type) => {
          seen.push(type);
          return audioOnly(type);
        },
      });
      assert.deepEqual(seen, ['audio/ogg']);
      assert.equal(result.data.toString(), 'voice note');
    });

    it('refuses a type the filter rejects', async () => {
      const error = await rejection(
        safeFetch(server.url('/html'), { ...localPolicy, allowedContentTypes: audioOnly }),
        'content_type',
      );
      assert.equal(error.retryable, false);
      assert.match(error.message, /text\/html/);
    });

    it('treats a missing Content-Type as application/octet-stream', async () => {
      const result = await safeFetch(server.url('/no-type'), { ...localPolicy, allowedContentTypes: audioOnly });
      assert.equal(result.contentType, 'application/octet-stream');
    });
  });

  describe('HTTP status and network errors', () => {
    it('404 is not retryable', async () => {
      const error = await rejection(safeFetch(server.url('/404'), localPolicy), 'http_status');
      assert.equal(error.status, 404);
      assert.equal(error.retryable, false);
    });

    it('503 is retryable', async () => {
      const error = await rejection(safeFetch(server.url('/503'), localPolicy), 'http_status');
      assert.equal(error.status, 503);
      assert.equal(error.retryable, true);
    });

    it('429 is retryable', async () => {
      const error = await rejection(safeFetch(server.url('/429'), localPolicy), 'http_status');
      assert.equal(error.status, 429);
      assert.equal(error.retryable, true);
    });

    it('a refused connection is a retryable network error', async () => {
      // Take a free port and release it, so nothing is listening there.
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const { port } = probe.address() as net.AddressInfo;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const error = await rejection(safeFetch(`http://127.0.0.1:${port}/`, localPolicy), 'network');
      assert.equal(error.retryable, true);
    });
  });
});

describe('isLinkLocalAddress (refused whatever allowPrivate says)', () => {
  for (const ip of [
    '169.254.169.254',
    '169.254.0.1',
    '::ffff:169.254.169.254',
    'fe80::1',
    'fd00:ec2::254',
    '100.100.100.200',
  ]) {
    it(`refuses ${ip}`, () => assert.equal(isLinkLocalAddress(ip), true));
  }
  for (const ip of ['127.0.0.1', '10.0.0.7', '192.168.1.1', '::1', 'fd00::1', '100.64.0.1', '8.8.8.8']) {
    it(`leaves ${ip} to allowPrivate`, () => assert.equal(isLinkLocalAddress(ip), false));
  }
});

describe('passOnProblem (URLs handed to someone else to fetch, e.g. image attachments)', () => {
  const strict = { allowPrivate: false, allowHosts: [] };
  const resolvesTo =
    (...addresses: string[]) =>
    (): Promise<Array<{ address: string }>> =>
      Promise.resolve(addresses.map((address) => ({ address })));

  it('refuses literal loopback, private, link-local and metadata addresses, and localhost', async () => {
    for (const url of [
      'http://127.0.0.1/a.png',
      'http://10.1.2.3/a.png',
      'http://192.168.0.10/a.png',
      'http://169.254.169.254/latest/meta-data/a.png',
      'http://[::1]/a.png',
      'http://[::ffff:127.0.0.1]/a.png',
      'http://2130706433/a.png',
      'http://localhost:8080/a.png',
      'http://files.localhost/a.png',
    ])
      assert.match((await passOnProblem(url, strict, resolvesTo('93.184.216.34'))) ?? 'allowed', /address/, url);
  });

  it('refuses a name that resolves inward (any of its addresses) or not at all', async () => {
    assert.match(
      (await passOnProblem('https://cdn.example/a.png', strict, resolvesTo('93.184.216.34', '10.0.0.5'))) ?? '',
      /cdn\.example resolves to 10\.0\.0\.5/,
    );
    const fails = (): Promise<Array<{ address: string }>> => Promise.reject(new Error('ENOTFOUND'));
    assert.match((await passOnProblem('https://nowhere.example/a.png', strict, fails)) ?? '', /does not resolve/);
    assert.match((await passOnProblem('https://empty.example/a.png', strict, resolvesTo())) ?? '', /does not resolve/);
  });

  it('refuses other schemes and what is not a URL', async () => {
    assert.match((await passOnProblem('file:///etc/passwd.png', strict)) ?? '', /file: URLs are not allowed/);
    assert.match((await passOnProblem('not a url.png', strict)) ?? '', /not a valid URL/);
  });

  it('allows a public name, and inward addresses only when allowed explicitly', async () => {
    assert.equal(await passOnProblem('https://cdn.example/a.png', strict, resolvesTo('93.184.216.34')), undefined);
    const neverAsked = (): Promise<Array<{ address: string }>> => Promise.reject(new Error('not looked up'));
    assert.equal(
      await passOnProblem('http://127.0.0.1:9/a.png', { allowPrivate: true, allowHosts: [] }, neverAsked),
      undefined,
    );
    const hosts = { allowPrivate: false, allowHosts: ['media.internal', '10.0.0.7'] };
    assert.equal(await passOnProblem('http://Media.Internal/a.png', hosts, neverAsked), undefined);
    assert.equal(await passOnProblem('http://10.0.0.7/a.png', hosts, neverAsked), undefined);
    assert.match((await passOnProblem('http://10.0.0.8/a.png', hosts, neverAsked)) ?? '', /10\.0\.0\.8/);
  });
});
