import { isIPv4, isIPv6 } from 'node:net';

/** Raw bytes of an IPv4 (4 bytes) or IPv6 (16 bytes) address; undefined when the text is not an IP. */
export function ipToBytes(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return v4Bytes(text);
  if (isIPv6(text)) return v6Bytes(text);
  return undefined;
}

function v4Bytes(text: string): Uint8Array {
  const out = new Uint8Array(4);
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
  return out;
}

function v6Bytes(text: string): Uint8Array {
  const zone = text.indexOf('%');
  const addr = zone >= 0 ? text.slice(0, zone) : text;
  const out = new Uint8Array(16);
  const dbl = addr.indexOf('::');
  const head = dbl >= 0 ? addr.slice(0, dbl) : addr;
  const tail = dbl >= 0 ? addr.slice(dbl + 2) : '';
  const headGroups = groups(head);
  const tailGroups = groups(tail);
  for (let i = 0; i < headGroups.length; i++) writeGroup(out, i, headGroups[i]!);
  const start = 8 - tailGroups.length;
  for (let i = 0; i < tailGroups.length; i++) writeGroup(out, start + i, tailGroups[i]!);
  return out;
}

/** Splits a colon list into 16-bit groups, expanding an embedded dotted IPv4 tail into two groups. */
function groups(part: string): number[] {
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

function writeGroup(out: Uint8Array, index: number, value: number): void {
  out[index * 2] = value >> 8;
  out[index * 2 + 1] = value & 0xff;
}

/** An address with its prefix length: `10.0.0.0/8` → 4 bytes + 8; a bare IP gets its full length. */
export function cidrToMatch(text: string): { address: Uint8Array; length: number } | undefined {
  const slash = text.indexOf('/');
  const ip = slash >= 0 ? text.slice(0, slash) : text;
  const bytes = ipToBytes(ip.trim());
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  if (slash < 0) return { address: bytes, length: max };
  const lenText = text.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const length = Number(lenText);
  if (length > max) return undefined;
  return { address: bytes, length };
}
