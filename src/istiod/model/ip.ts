import { ipToBytes } from '../../common/ip.js';

export { ipToBytes };

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
