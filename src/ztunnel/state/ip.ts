/**
 * IP text/bytes helpers for the ztunnel state. One canonical text form is used for every index key:
 * dotted IPv4, RFC 5952 IPv6 (lowercase, longest zero run compressed), and IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`, as a dual-stack socket reports an IPv4 peer) folded to plain IPv4.
 */
import { isIPv4 } from 'node:net';
import { ipToBytes } from '../../common/ip.js';

/** An address range: raw bytes (4 or 16) and a prefix length. */
export interface Cidr {
  readonly bytes: Uint8Array;
  readonly length: number;
}

/** Canonical text of a 4- or 16-byte address; undefined for any other length. */
export function bytesToIp(b: Uint8Array): string | undefined {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return undefined;
  if (isV4Mapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // Longest run of zero groups (length >= 2), first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.map(hex).join(':');
  const head = groups.slice(0, bestStart).map(hex).join(':');
  const tail = groups
    .slice(bestStart + bestLen)
    .map(hex)
    .join(':');
  return `${head}::${tail}`;
}

function hex(n: number): string {
  return n.toString(16);
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Raw bytes of an IP text (4 or 16 bytes; IPv4-mapped IPv6 gives 4); undefined when not an IP. */
export function parseIp(text: string): Uint8Array | undefined {
  const b = ipToBytes(text);
  if (!b) return undefined;
  return b.length === 16 && isV4Mapped(b) ? b.subarray(12) : b;
}

/** The canonical text of an IP text; undefined when it is not an IP. */
export function normalizeIp(text: string): string | undefined {
  if (isIPv4(text)) return text;
  const b = parseIp(text);
  return b ? bytesToIp(b) : undefined;
}

/** The index key of an address on a network. */
export function netKey(network: string, ip: string): string {
  return `${network}/${ip}`;
}

/** 127.0.0.0/8, ::1, and IPv4-mapped loopback. */
export function isLoopback(ip: string): boolean {
  if (ip.startsWith('127.')) return isIPv4(ip);
  if (ip === '::1') return true;
  const b = ip.includes(':') ? parseIp(ip) : undefined;
  if (!b) return false;
  if (b.length === 4) return b[0] === 127;
  for (let i = 0; i < 15; i++) if (b[i] !== 0) return false;
  return b[15] === 1;
}

/** Whether `ip` (bytes) lies in the range; address families must agree. */
export function cidrContains(c: Cidr, ip: Uint8Array): boolean {
  if (c.bytes.length !== ip.length) return false;
  let bits = c.length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((c.bytes[i]! & mask) !== (ip[i]! & mask)) return false;
  }
  return true;
}

/** Validation message for raw address bytes, or undefined when they are a valid IPv4/IPv6 address. */
export function badAddressBytes(b: Uint8Array | undefined): string | undefined {
  const n = b?.length ?? 0;
  if (n === 4 || n === 16) return undefined;
  return `${n} bytes is not an IPv4 (4) or IPv6 (16) address`;
}
