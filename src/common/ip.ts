import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP text → raw bytes (4 for IPv4, 16 for IPv6; a `%zone` is ignored); undefined when the text is not
 * an IP. Shared by istiod (workload addresses on the wire) and ztunnel (its indexes).
 */
export function ipToBytes(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return v4Bytes(text);
  if (isIPv6(text)) return v6Bytes(text);
  return undefined;
}

function v4Bytes(text: string): Uint8Array {
  const out = new Uint8Array(4);
  let i = 0;
  for (const part of text.split('.')) out[i++] = Number(part);
  return out;
}

function v6Bytes(text: string): Uint8Array {
  const zone = text.indexOf('%');
  const addr = zone >= 0 ? text.slice(0, zone) : text;
  const out = new Uint8Array(16);
  const dbl = addr.indexOf('::');
  const head = groupsOf(dbl >= 0 ? addr.slice(0, dbl) : addr);
  const tail = groupsOf(dbl >= 0 ? addr.slice(dbl + 2) : '');
  for (let i = 0; i < head.length; i++) put(out, i, head[i]!);
  const start = 8 - tail.length;
  for (let i = 0; i < tail.length; i++) put(out, start + i, tail[i]!);
  return out;
}

/** Splits a colon list into 16-bit groups, expanding an embedded dotted IPv4 tail into two groups. */
function groupsOf(part: string): number[] {
  if (part === '') return [];
  const out: number[] = [];
  for (const g of part.split(':')) {
    if (g.includes('.')) {
      const b = v4Bytes(g);
      out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    } else out.push(parseInt(g, 16));
  }
  return out;
}

function put(out: Uint8Array, index: number, value: number): void {
  out[index * 2] = value >> 8;
  out[index * 2 + 1] = value & 0xff;
}
