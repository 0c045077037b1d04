/**
 * The address guard: which addresses a connection may go to, for every outbound request to a URL
 * that came from outside (voice notes, attachments and reply webhooks). Reply POSTs
 * (activities/reply-post.ts), the admin API's URL checks and the guarded fetch (safe-fetch.ts)
 * share it.
 *
 * The dangers it guards against: server-side request forgery into loopback, private networks and
 * cloud metadata (169.254.169.254), and DNS rebinding. The address check runs inside the socket's
 * own DNS lookup, so the address that was checked is the address that is connected to; there is
 * no window between "check" and "connect".
 */
import dns from 'node:dns';
import net from 'node:net';

/** Which addresses a connection may go to. */
export interface AddressPolicy {
  /**
   * Allow loopback/private targets (local dev and tests). Link-local addresses, where clouds serve
   * instance metadata (169.254.169.254 and its IPv6 forms), stay refused: a stack run on a cloud
   * VM must not POST or fetch there. Only `allowHosts` lets one through.
   */
  allowPrivate: boolean;
  /** Hostnames always allowed (exact match, case-insensitive), e.g. an internal media host; the one way to a link-local address. */
  allowHosts: string[];
}

export type UnsafeUrlReason =
  | 'scheme'
  | 'address'
  | 'redirects'
  | 'too_large'
  | 'content_type'
  | 'http_status'
  | 'timeout'
  | 'network'
  | 'invalid_url';

export class UnsafeUrlError extends Error {
  override readonly name = 'UnsafeUrlError';
  /** Machine-readable code; see UnsafeUrlReason. */
  readonly reason: UnsafeUrlReason;
  /** Whether trying the same URL again later could succeed. */
  readonly retryable: boolean;
  /** The HTTP status, for reason 'http_status'. */
  readonly status?: number;

  constructor(
    reason: UnsafeUrlReason,
    message: string,
    options: { retryable?: boolean; status?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.retryable = options.retryable ?? false;
    if (options.status !== undefined) this.status = options.status;
  }
}

/** Request options that keep a connection on allowed addresses (none when the policy allows all). */
export interface ConnectionGuard {
  lookup?: net.LookupFunction;
}

/**
 * The options under which a connection to `url` can only reach an address `policy` allows: a
 * literal IP is checked here (Node skips the lookup function for IP literals), a host name inside
 * the socket's own DNS lookup, so the address checked is the address connected to (no rebinding
 * window). Pass the result to http(s).request.
 * @throws UnsafeUrlError ('address') for a forbidden literal address.
 */
export function guardedConnection(url: URL, policy: AddressPolicy): ConnectionGuard {
  const refused = refusalOf(url, policy);
  if (!refused) return {};
  const host = bareHost(url.hostname);
  // The URL parser has already normalised tricks like http://2130706433/ and http://0x7f.1/ to dotted quads.
  if (net.isIP(host) !== 0 && refused.test(host)) {
    throw new UnsafeUrlError('address', `Refusing ${describeUrl(url)}: ${host} is ${refused.what}`);
  }
  return { lookup: guardedLookup(url, refused) };
}

/**
 * What can be said about `url` before any DNS lookup, for checking a URL when it is configured:
 * a literal address or a `localhost` name (RFC 6761: always loopback) that `policy` refuses.
 * Undefined when nothing is wrong so far; host names are judged when connecting.
 */
export function literalAddressProblem(url: string, policy: AddressPolicy): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined; // not a URL at all: the caller's own validation says so
  }
  const refused = refusalOf(parsed, policy);
  if (!refused) return undefined;
  const host = normaliseHost(parsed.hostname);
  if (net.isIP(host) !== 0 && refused.test(host)) return `${host} is ${refused.what}`;
  if (!policy.allowPrivate && (host === 'localhost' || host.endsWith('.localhost')))
    return `${host} is always a loopback address`;
  return undefined;
}

/** How a host name is resolved (dns.promises.lookup with `all`), injectable for tests. */
export type ResolveAll = (hostname: string) => Promise<Array<{ address: string }>>;

const resolveAll: ResolveAll = (hostname) => dns.promises.lookup(hostname, { all: true });

/**
 * Why a URL that someone else fetches on our behalf (an image attachment the model server is asked
 * to load) must not be handed over, or undefined when `policy` allows it: not http(s), a literal
 * forbidden address or `localhost`, or a host name that resolves (now) to any forbidden address or
 * not at all. It cannot close the window between this lookup and the other party's, so it is a
 * policy for URLs we pass on, not a substitute for the guarded connection of our own fetches.
 */
export async function passOnProblem(
  url: string,
  policy: AddressPolicy,
  resolve: ResolveAll = resolveAll,
): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a valid URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `${parsed.protocol} URLs are not allowed`;
  const literal = literalAddressProblem(url, policy);
  if (literal !== undefined) return literal;
  const host = normaliseHost(parsed.hostname);
  const refused = refusalOf(parsed, policy);
  if (!refused || net.isIP(host) !== 0) return undefined;
  let addresses: Array<{ address: string }>;
  try {
    addresses = await resolve(host);
  } catch {
    return `${host} does not resolve`;
  }
  if (addresses.length === 0) return `${host} does not resolve`;
  const bad = addresses.find((entry) => refused.test(entry.address));
  return bad ? `${host} resolves to ${bad.address}, ${refused.what}` : undefined;
}

/** Which addresses a connection to `url` may not reach under `policy`, and how to name them. */
interface Refusal {
  test: (ip: string) => boolean;
  what: string;
}

const REFUSE_NON_PUBLIC: Refusal = {
  test: (ip) => isForbiddenAddress(ip),
  what: 'a loopback, private, link-local or reserved address',
};
const REFUSE_LINK_LOCAL: Refusal = {
  test: (ip) => isLinkLocalAddress(ip),
  what: 'a link-local or cloud metadata address, refused even where private addresses are allowed',
};

/**
 * What `policy` refuses for `url`: nothing for a host it names (its one way to any address), the
 * link-local and metadata addresses when private ones are allowed, else every non-public address.
 */
function refusalOf(url: URL, policy: AddressPolicy): Refusal | undefined {
  const host = normaliseHost(url.hostname);
  if (policy.allowHosts.some((allowed) => normaliseHost(allowed) === host)) return undefined;
  return policy.allowPrivate ? REFUSE_LINK_LOCAL : REFUSE_NON_PUBLIC;
}

/** Lower-case, without IPv6 brackets or the root-label dot, so `Media.Example.` matches `media.example`. */
function normaliseHost(host: string): string {
  return bareHost(host.trim().toLowerCase()).replace(/\.$/, '');
}

function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * A DNS lookup for the socket that refuses forbidden addresses. Every resolved address must pass,
 * not just the first: with happy-eyeballs the socket may try any of them.
 */
function guardedLookup(url: URL, refused: Refusal): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { family: options.family, hints: options.hints, all: true }, (error, addresses) => {
      if (error) {
        callback(error, []);
        return;
      }
      const bad = addresses.find((entry) => refused.test(entry.address));
      if (bad) {
        callback(
          new UnsafeUrlError(
            'address',
            `Refusing ${describeUrl(url)}: ${hostname} resolves to ${bad.address}, ${refused.what}`,
          ),
          [],
        );
        return;
      }
      const first = addresses[0];
      if (!first) {
        callback(Object.assign(new Error(`No addresses for ${hostname}`), { code: 'ENOTFOUND' }), []);
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

/**
 * The URL for error messages: no user:pass, and no query or fragment either, because attachment
 * URLs are often pre-signed and the signature is as much a credential as a password.
 */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

// ---------------------------------------------------------------------------------------------
// Address classification

type V4Range = readonly [base: number, prefix: number];

const v4Range = (base: string, prefix: number): V4Range => [parseV4(base) ?? 0, prefix];

const FORBIDDEN_V4: readonly V4Range[] = [
  v4Range('0.0.0.0', 8), // unspecified / "this network"
  v4Range('10.0.0.0', 8), // private
  v4Range('100.64.0.0', 10), // CGNAT shared address space
  v4Range('127.0.0.0', 8), // loopback
  v4Range('169.254.0.0', 16), // link-local, including cloud metadata 169.254.169.254
  v4Range('172.16.0.0', 12), // private
  v4Range('192.0.0.0', 24), // IETF protocol assignments
  v4Range('192.0.2.0', 24), // documentation (TEST-NET-1)
  v4Range('192.168.0.0', 16), // private
  v4Range('198.18.0.0', 15), // benchmarking
  v4Range('198.51.100.0', 24), // documentation (TEST-NET-2)
  v4Range('203.0.113.0', 24), // documentation (TEST-NET-3)
  v4Range('224.0.0.0', 4), // multicast
  v4Range('240.0.0.0', 4), // reserved, including broadcast 255.255.255.255
];

type V6Range = readonly [base: bigint, prefix: number];

const v6Range = (base: string, prefix: number): V6Range => [parseV6(base) ?? 0n, prefix];

/** Ranges that carry an IPv4 address in their low 32 bits: judged by that IPv4 address. */
const V6_EMBEDDING_V4: readonly V6Range[] = [
  v6Range('::', 96), // IPv4-compatible (deprecated); also covers :: and ::1 via 0.0.0.0/8
  v6Range('::ffff:0:0', 96), // IPv4-mapped, e.g. ::ffff:127.0.0.1
  v6Range('::ffff:0:0:0', 96), // IPv4-translated (SIIT)
  v6Range('64:ff9b::', 96), // NAT64 well-known prefix
];

const FORBIDDEN_V6: readonly V6Range[] = [
  v6Range('64:ff9b:1::', 48), // local-use NAT64
  v6Range('100::', 64), // discard-only
  v6Range('2001::', 32), // Teredo: the client IPv4 is obfuscated, so refuse the whole prefix
  v6Range('2001:db8::', 32), // documentation
  v6Range('fc00::', 7), // unique local (private)
  v6Range('fe80::', 10), // link-local
  v6Range('fec0::', 10), // site-local (deprecated, still private in practice)
  v6Range('ff00::', 8), // multicast
];

const SIX_TO_FOUR = v6Range('2002::', 16);

/**
 * True when a connection to `ip` must be refused: loopback, private, link-local, unspecified,
 * CGNAT, multicast or reserved, in IPv4 or any IPv6 form that embeds such an IPv4 address.
 * Anything that is not a valid IP address is also forbidden, so a parsing surprise fails closed.
 */
export function isForbiddenAddress(ip: string): boolean {
  return inRanges(ip, FORBIDDEN_V4, FORBIDDEN_V6);
}

/**
 * Link-local and cloud metadata addresses, refused whatever `allowPrivate` says: 169.254.0.0/16
 * (AWS, GCP, Azure, OpenStack metadata at 169.254.169.254), Alibaba's 100.100.100.200, fe80::/10,
 * AWS's IPv6 metadata fd00:ec2::254, and every IPv6 form that embeds one of the IPv4 ones
 * (::ffff:169.254.169.254, 64:ff9b::a9fe:a9fe, 2002:a9fe:a9fe::). Not an address: refused.
 */
export function isLinkLocalAddress(ip: string): boolean {
  return inRanges(ip, LINK_LOCAL_V4, LINK_LOCAL_V6);
}

const LINK_LOCAL_V4: readonly V4Range[] = [v4Range('169.254.0.0', 16), v4Range('100.100.100.200', 32)];
const LINK_LOCAL_V6: readonly V6Range[] = [v6Range('fe80::', 10), v6Range('fd00:ec2::254', 128)];

/** Whether `ip`, in IPv4 or any IPv6 form that embeds an IPv4 address, is in the ranges given; not an address: true (fails closed). */
function inRanges(ip: string, v4Ranges: readonly V4Range[], v6Ranges: readonly V6Range[]): boolean {
  const v4 = parseV4(ip);
  if (v4 !== undefined) return inV4Ranges(v4, v4Ranges);

  const v6 = parseV6(ip);
  if (v6 === undefined) return true;
  for (const range of V6_EMBEDDING_V4) {
    if (inV6Range(v6, range)) return inV4Ranges(Number(v6 & 0xffffffffn), v4Ranges);
  }
  if (inV6Range(v6, SIX_TO_FOUR)) {
    // 6to4 (2002:AABB:CCDD::/48) routes to the IPv4 address AA.BB.CC.DD.
    return inV4Ranges(Number((v6 >> 80n) & 0xffffffffn), v4Ranges);
  }
  return v6Ranges.some((range) => inV6Range(v6, range));
}

function inV4Ranges(addr: number, ranges: readonly V4Range[]): boolean {
  return ranges.some(([base, prefix]) => {
    const shift = 32 - prefix;
    return addr >>> shift === base >>> shift;
  });
}

function inV6Range(addr: bigint, [base, prefix]: V6Range): boolean {
  const shift = BigInt(128 - prefix);
  return addr >> shift === base >> shift;
}

/** Strict dotted-quad only: other spellings (octal, hex, short forms) are not addresses to Node either. */
function parseV4(ip: string): number | undefined {
  if (net.isIPv4(ip) === false) return undefined;
  let value = 0;
  for (const part of ip.split('.')) value = value * 256 + Number(part);
  return value;
}

function parseV6(input: string): bigint | undefined {
  // Drop a zone id (fe80::1%eth0): it scopes the address but does not change its range.
  const ip = input.split('%')[0] ?? '';
  if (!net.isIPv6(ip)) return undefined;

  const halves = ip.split('::');
  const toGroups = (part: string | undefined): number[] => {
    if (!part) return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      const v4 = parseV4(piece);
      if (v4 !== undefined) groups.push(v4 >>> 16, v4 & 0xffff);
      else groups.push(parseInt(piece, 16));
    }
    return groups;
  };
  const head = toGroups(halves[0]);
  const tail = toGroups(halves[1]);
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...new Array<number>(zeros).fill(0), ...tail];
  if (groups.length !== 8) return undefined;

  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  return value;
}
