/**
 * A small DER encoder: just the universal types X.509 and PKCS#10 need. Every function returns the
 * complete TLV (tag, length, value) as a Buffer, so structures are built by nesting calls.
 */
import { MeshError } from '../common/errors.js';

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Tag of a context-specific constructed field `[n]` (EXPLICIT, or IMPLICIT over a constructed type). */
export function contextConstructed(n: number): number {
  return 0xa0 | n;
}

/** Tag of a context-specific primitive field `[n] IMPLICIT` (e.g. a URI in GeneralName is `[6]`). */
export function contextPrimitive(n: number): number {
  return 0x80 | n;
}

function lengthBytes(len: number): number {
  if (len < 0x80) return 1;
  if (len < 0x100) return 2;
  if (len < 0x10000) return 3;
  if (len < 0x1000000) return 4;
  return 5;
}

function writeLength(out: Buffer, at: number, len: number): number {
  const n = lengthBytes(len);
  if (n === 1) {
    out[at] = len;
    return at + 1;
  }
  out[at] = 0x80 | (n - 1);
  for (let i = n - 1; i >= 1; i--) {
    out[at + i] = len & 0xff;
    len = Math.floor(len / 256);
  }
  return at + n;
}

/** One TLV with the given tag and the concatenation of `parts` as its value. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafe(1 + lengthBytes(len) + len);
  out[0] = tag;
  let at = writeLength(out, 1, len);
  for (const p of parts) {
    p.copy(out, at);
    at += p.length;
  }
  return out;
}

export function sequence(...parts: Buffer[]): Buffer {
  return tlv(Tag.sequence, ...parts);
}

/** A SET OF; DER wants the elements sorted by their encoding, which this does. */
export function setOf(...parts: Buffer[]): Buffer {
  const sorted = parts.length > 1 ? [...parts].sort(Buffer.compare) : parts;
  return tlv(Tag.set, ...sorted);
}

export function explicit(n: number, inner: Buffer): Buffer {
  return tlv(contextConstructed(n), inner);
}

export function boolean(value: boolean): Buffer {
  return Buffer.from([Tag.boolean, 1, value ? 0xff : 0x00]);
}

export const NULL = Buffer.from([Tag.null, 0]);

/** A non-negative INTEGER from its big-endian magnitude (leading zeros trimmed, sign byte added). */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const body = magnitude.subarray(i);
  if (body.length === 0) return Buffer.from([Tag.integer, 1, 0]);
  if ((body[0] as number) & 0x80) return tlv(Tag.integer, Buffer.from([0]), body);
  return tlv(Tag.integer, body);
}

export function smallInteger(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
    throw new MeshError('PKI_ERR_DER', `cannot encode ${n} as a small DER INTEGER`);
  }
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  if ((bytes[0] as number) & 0x80) bytes.unshift(0);
  return tlv(Tag.integer, Buffer.from(bytes));
}

const oidCache = new Map<string, Buffer>();

/** An OBJECT IDENTIFIER from its dotted form; encodings are cached. */
export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new MeshError('PKI_ERR_DER', `bad OID ${dotted}`);
    return Number(a);
  });
  const first = arcs[0];
  const second = arcs[1];
  if (first === undefined || second === undefined || first > 2 || (first < 2 && second > 39)) {
    throw new MeshError('PKI_ERR_DER', `bad OID ${dotted}`);
  }
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...arcs.slice(2)]) {
    const chunk: number[] = [arc & 0x7f];
    let rest = Math.floor(arc / 128);
    while (rest > 0) {
      chunk.unshift((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    bytes.push(...chunk);
  }
  const encoded = tlv(Tag.oid, Buffer.from(bytes));
  oidCache.set(dotted, encoded);
  return encoded;
}

export function octetString(value: Buffer): Buffer {
  return tlv(Tag.octetString, value);
}

/** A BIT STRING holding whole bytes (no unused bits), e.g. a signature or a public key. */
export function bitString(value: Buffer): Buffer {
  return tlv(Tag.bitString, Buffer.from([0]), value);
}

/** A named-bit BIT STRING (e.g. keyUsage) with trailing zero bits removed, as DER requires. */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return Buffer.from([Tag.bitString, 1, 0]);
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const b of bits) bytes[b >> 3] = (bytes[b >> 3] as number) | (0x80 >> (b & 7));
  const unused = 7 - (highest & 7);
  return tlv(Tag.bitString, Buffer.from([unused]), bytes);
}

export function utf8String(value: string): Buffer {
  return tlv(Tag.utf8String, Buffer.from(value, 'utf8'));
}

/** An IA5String (ASCII). Throws for characters outside 0x00-0x7f. */
export function ia5String(value: string, tag: number = Tag.ia5String): Buffer {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) {
      throw new MeshError(
        'PKI_ERR_BAD_NAME',
        `"${value}" is not ASCII; URIs and DNS names must be ASCII (IA5)`,
      );
    }
  }
  return tlv(tag, Buffer.from(value, 'latin1'));
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * A certificate time (RFC 5280 4.1.2.5): UTCTime for years 1950-2049, GeneralizedTime otherwise,
 * always in UTC with whole seconds.
 */
export function time(date: Date): Buffer {
  const y = date.getUTCFullYear();
  if (y < 0 || y > 9999) throw new MeshError('PKI_ERR_DER', `date ${date.toISOString()} is out of range`);
  const rest =
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    'Z';
  if (y >= 1950 && y < 2050) return tlv(Tag.utcTime, Buffer.from(pad2(y % 100) + rest, 'latin1'));
  return tlv(Tag.generalizedTime, Buffer.from(String(y).padStart(4, '0') + rest, 'latin1'));
}
