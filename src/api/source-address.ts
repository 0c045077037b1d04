import net from 'node:net';

/**
 * The key a request's source address is rate-limited under: the IPv4 address, or the /64 of an
 * IPv6 one, since a single IPv6 host usually holds a whole /64 and could otherwise take a fresh
 * address for every request. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as its IPv4 address.
 */
export function sourceKey(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return mapped;
  if (!net.isIPv6(address)) return address;
  const [head = '', tail] = address.split('%')[0]?.split('::') ?? [];
  const split = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const before = split(head);
  const after = split(tail);
  // "::" stands for the zero groups that make eight; an embedded IPv4 address counts as two.
  const written = before.length + after.length + (after.at(-1)?.includes('.') ? 1 : 0);
  const groups = [...before, ...Array<string>(tail === undefined ? 0 : 8 - written).fill('0'), ...after];
  return `${groups
    .slice(0, 4)
    .map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
