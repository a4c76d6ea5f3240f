import { isIP } from 'node:net';

/**
 * What kind of address an IP is, for the price sources' egress rules. Everything but `public` can reach
 * inside the cluster or the host (the kubelet, cloud metadata at 169.254.169.254, the API server, pods), so
 * a price source may connect there only when an admin names that exact host.
 */
export type AddressKind =
  'public' | 'loopback' | 'linkLocal' | 'private' | 'unspecified' | 'multicast' | 'reserved' | 'invalid';

type Range4 = [number, number, AddressKind];

/** IPv4 ranges other than public, as [network, prefix length, kind]. */
const V4: Range4[] = [
  [v4('0.0.0.0'), 8, 'unspecified'], // "this network"; 0.0.0.0 reaches the local host on Linux
  [v4('10.0.0.0'), 8, 'private'],
  [v4('100.64.0.0'), 10, 'private'], // carrier-grade NAT, used by some pod networks
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('169.254.0.0'), 16, 'linkLocal'], // cloud metadata endpoints live here
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.0.0.0'), 24, 'reserved'],
  [v4('192.0.2.0'), 24, 'reserved'],
  [v4('192.88.99.0'), 24, 'reserved'],
  [v4('192.168.0.0'), 16, 'private'],
  [v4('198.18.0.0'), 15, 'reserved'],
  [v4('198.51.100.0'), 24, 'reserved'],
  [v4('203.0.113.0'), 24, 'reserved'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved'], // and 255.255.255.255
];

/** The kind of an IPv4 or IPv6 address (a zone suffix such as `%eth0` is ignored). */
export function classifyAddress(address: string): AddressKind {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return classify4(v4(bare));
  if (family === 6) return classify6(v6(bare));
  return 'invalid';
}

function classify4(n: number): AddressKind {
  for (const [net, bits, kind] of V4) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === net) return kind;
  }
  return 'public';
}

function classify6(h: number[]): AddressKind {
  const [a = 0, b = 0, , , , f = 0, g = 0, last = 0] = h;
  const v4At = (hi: number, lo: number): number => ((hi << 16) | lo) >>> 0;
  if (h.every((x) => x === 0)) return 'unspecified';
  if (h.slice(0, 7).every((x) => x === 0) && last === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d): the IPv4 address is what is reached.
  if (h.slice(0, 5).every((x) => x === 0) && (f === 0xffff || f === 0)) return classify4(v4At(g, last));
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address too.
  if (a === 0x64 && b === 0xff9b && h.slice(2, 6).every((x) => x === 0)) return classify4(v4At(g, last));
  if (a === 0x2002) return classify4(v4At(b, h[2] ?? 0));
  if ((a & 0xffc0) === 0xfe80) return 'linkLocal'; // fe80::/10
  if ((a & 0xffc0) === 0xfec0) return 'private'; // fec0::/10, deprecated site-local
  if ((a & 0xfe00) === 0xfc00) return 'private'; // fc00::/7, unique local
  if ((a & 0xff00) === 0xff00) return 'multicast';
  if (a === 0x2001 && b === 0x0db8) return 'reserved'; // documentation
  if (a === 0x0100 && h.slice(1, 4).every((x) => x === 0)) return 'reserved'; // discard-only
  return 'public';
}

function v4(text: string): number {
  return text.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}

/** Eight 16-bit groups of an IPv6 address already checked by isIP (`::` and a dotted tail expanded). */
function v6(text: string): number[] {
  let s = text.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const n = v4(dotted[1] as string);
    s = `${s.slice(0, -dotted[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((x) => parseInt(x, 16)));
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
