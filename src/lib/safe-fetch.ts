/**
 * A fetcher for URLs that come from strangers (voice notes, attachments), on the address guard
 * (address-policy.ts). Besides the guard's dangers it bounds what a server can make us hold or
 * wait for: unbounded bodies, slow-loris servers, endless redirects.
 */
import http from 'node:http';
import https from 'node:https';
import {
  describeUrl as describe,
  guardedConnection,
  UnsafeUrlError,
  type AddressPolicy,
  type ConnectionGuard,
} from './address-policy.js';

export interface SafeFetchPolicy extends AddressPolicy {
  /** Body size cap in bytes. */
  maxBytes: number;
  /** Time to resolve and connect (including the TLS handshake for https). */
  connectTimeoutMs: number;
  /** Time for the whole fetch, including redirects and the body. */
  totalTimeoutMs: number;
  /** How many redirects to follow, e.g. 3. */
  maxRedirects: number;
  /** Called with the media type without parameters, lower-cased (e.g. `audio/ogg`). */
  allowedContentTypes?: (contentType: string) => boolean;
}

export interface SafeFetchResult {
  data: Buffer;
  /** The Content-Type header as sent (parameters kept), or application/octet-stream when absent. */
  contentType: string;
  /** The URL the body came from after redirects, with any user:pass removed. */
  finalUrl: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * GETs `url` under `policy` and returns the whole body. Every failure is an UnsafeUrlError whose
 * `reason` says what went wrong and whose `retryable` says whether trying again later could help.
 */
export async function safeFetch(url: string, policy: SafeFetchPolicy): Promise<SafeFetchResult> {
  // One deadline for the whole chain, so a redirect chain cannot multiply the time budget.
  const deadline = Date.now() + policy.totalTimeoutMs;
  let current = parseUrl(url);
  for (let redirects = 0; ; redirects++) {
    const connection = checkTarget(current, policy);
    const hop = await fetchOnce(current, policy, deadline, connection);
    if (hop.kind === 'done') {
      return { data: hop.data, contentType: hop.contentType, finalUrl: withoutCredentials(current) };
    }
    if (redirects >= policy.maxRedirects) {
      throw new UnsafeUrlError(
        'redirects',
        `Too many redirects (more than ${policy.maxRedirects}) at ${describe(current)}`,
      );
    }
    current = parseUrl(hop.location, current);
  }
}

function parseUrl(input: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(input, base);
  } catch (error) {
    // The raw input is not echoed: it may carry credentials we cannot reliably strip from a malformed URL.
    const where = base ? ` in redirect from ${describe(base)}` : '';
    throw new UnsafeUrlError('invalid_url', `Invalid URL${where}`, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnsafeUrlError('scheme', `Refusing ${url.protocol} URL: only http: and https: are allowed`);
  }
  return url;
}

/** Checks what can be checked before connecting; hostnames are checked again at DNS lookup time. */
function checkTarget(url: URL, policy: SafeFetchPolicy): ConnectionGuard {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnsafeUrlError('scheme', `Refusing ${url.protocol} URL: only http: and https: are allowed`);
  }
  return guardedConnection(url, policy);
}

type Hop = { kind: 'redirect'; location: string } | { kind: 'done'; data: Buffer; contentType: string };

function fetchOnce(url: URL, policy: SafeFetchPolicy, deadline: number, connection: ConnectionGuard): Promise<Hop> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) {
    return Promise.reject(timeoutError(url, policy));
  }
  return new Promise<Hop>((resolve, reject) => {
    let settled = false;
    let response: http.IncomingMessage | undefined;
    const isHttps = url.protocol === 'https:';

    const options: http.RequestOptions = {
      method: 'GET',
      // A fresh agent per request: a pooled socket could have been opened under a laxer policy
      // (allowPrivate) for the same host:port, and pooling would also leave open handles behind.
      agent: false,
      headers: {
        // Identity encoding so maxBytes measures what we actually hold in memory.
        'accept-encoding': 'identity',
        'user-agent': 'chatrelay-safe-fetch',
      },
    };
    Object.assign(options, connection);
    const request = (isHttps ? https : http).request(url, options);

    const cleanup = (): void => {
      clearTimeout(totalTimer);
      clearTimeout(connectTimer);
      // Destroying on success too: the body is complete and no socket may outlive the call.
      response?.destroy();
      request.destroy();
    };
    const fail = (error: UnsafeUrlError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(error);
    };
    const succeed = (hop: Hop): void => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(hop);
    };

    const totalTimer = setTimeout(() => fail(timeoutError(url, policy)), remaining);
    const connectTimer = setTimeout(
      () =>
        fail(
          new UnsafeUrlError(
            'timeout',
            `Timed out connecting to ${describe(url)} after ${policy.connectTimeoutMs} ms`,
            {
              retryable: true,
            },
          ),
        ),
      policy.connectTimeoutMs,
    );

    request.on('socket', (socket) => {
      // For https "connected" means the TLS handshake finished: a server that accepts TCP and then
      // stalls the handshake is as stuck as one that never accepts.
      // With agent: false every socket is new, so the event has not happened yet.
      socket.once(isHttps ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });

    request.on('error', (error) => fail(toUnsafeError(error, url)));

    request.on('response', (res) => {
      response = res;
      const status = res.statusCode ?? 0;

      if (REDIRECT_STATUSES.has(status)) {
        const location = res.headers.location;
        if (location) {
          succeed({ kind: 'redirect', location });
          return;
        }
      }
      if (status < 200 || status >= 300) {
        const retryable = status === 408 || status === 429 || status >= 500;
        fail(new UnsafeUrlError('http_status', `HTTP ${status} from ${describe(url)}`, { retryable, status }));
        return;
      }

      const rawType = res.headers['content-type']?.trim() ?? '';
      // RFC 9110 §8.3: a missing Content-Type may be treated as application/octet-stream.
      const mediaType = (rawType.split(';')[0] ?? '').trim().toLowerCase() || 'application/octet-stream';
      if (policy.allowedContentTypes) {
        let allowed: boolean;
        try {
          allowed = policy.allowedContentTypes(mediaType);
        } catch {
          // A throwing predicate must not escape as an uncaught exception from this event handler.
          allowed = false;
        }
        if (!allowed) {
          fail(new UnsafeUrlError('content_type', `Content type ${mediaType} is not allowed (from ${describe(url)})`));
          return;
        }
      }

      const declared = res.headers['content-length'];
      if (declared !== undefined && Number(declared) > policy.maxBytes) {
        fail(tooLarge(url, policy, `declares ${declared} bytes`));
        return;
      }

      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > policy.maxBytes) {
          fail(tooLarge(url, policy, `sent more than that`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        succeed({ kind: 'done', data: Buffer.concat(chunks, received), contentType: rawType || mediaType });
      });
      res.on('error', (error) => fail(toUnsafeError(error, url)));
      res.on('close', () => {
        if (!res.complete) {
          fail(
            new UnsafeUrlError('network', `Connection closed before the body from ${describe(url)} was complete`, {
              retryable: true,
            }),
          );
        }
      });
    });

    request.end();
  });
}

function timeoutError(url: URL, policy: SafeFetchPolicy): UnsafeUrlError {
  return new UnsafeUrlError('timeout', `Timed out after ${policy.totalTimeoutMs} ms fetching ${describe(url)}`, {
    retryable: true,
  });
}

function tooLarge(url: URL, policy: SafeFetchPolicy, detail: string): UnsafeUrlError {
  return new UnsafeUrlError(
    'too_large',
    `Body from ${describe(url)} exceeds the ${policy.maxBytes}-byte limit: it ${detail}`,
  );
}

function toUnsafeError(error: Error, url: URL): UnsafeUrlError {
  if (error instanceof UnsafeUrlError) return error;
  // Node's own messages name hosts and ports (ECONNREFUSED 127.0.0.1:80), never URL credentials.
  return new UnsafeUrlError('network', `Network error fetching ${describe(url)}: ${error.message}`, {
    retryable: true,
    cause: error,
  });
}

function withoutCredentials(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}
