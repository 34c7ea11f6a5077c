// Is an HTTP listen address reachable only from this machine? /metrics and /health have
// no auth, so anything else is an explicit choice the daemon warns about.

import { isIPv4, isIPv6 } from 'node:net';

/**
 * True for the loopback: `localhost`, 127.0.0.0/8, ::1 and IPv4-mapped 127.x
 * (::ffff:127.0.0.1). False for the wildcards (0.0.0.0, ::), any other address
 * and any other host name: a name can resolve anywhere, so it is not assumed safe.
 */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (!isIPv6(h)) return false;
  const v6 = expandIPv6(h);
  if (v6 === null) return false;
  if (v6.slice(0, 7).every((g) => g === 0) && v6[7] === 1) return true;
  // ::ffff:a.b.c.d is the IPv4 address a.b.c.d on a dual-stack socket.
  return v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff && v6[6]! >> 8 === 127;
}

/** The eight 16-bit groups of a valid IPv6 literal (zone id dropped), or null. */
function expandIPv6(addr: string): number[] | null {
  let s = addr.replace(/%.*$/, '');
  // A trailing dotted quad stands for the last two groups.
  const quad = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    const [a, b, c, d] = quad[2]!.split('.').map(Number) as [number, number, number, number];
    s = `${quad[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return all.length === 8 && all.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? all : null;
}

/** The warning for an HTTP server bound at `address`, or null when it is loopback-only. */
export function exposureWarning(address: string): string | null {
  if (isLoopback(address)) return null;
  const what = address === '0.0.0.0' || address === '::' ? 'every network interface' : address;
  return `HTTP listens on ${what}, reachable from the network: /metrics and /health answer anyone who can connect (no auth, no TLS); use 127.0.0.1 unless a firewall or proxy guards the port`;
}
