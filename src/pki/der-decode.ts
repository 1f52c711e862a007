/**
 * A small, strict DER decoder. It reads tag-length-value headers over a Buffer without copying and
 * rejects what DER forbids (indefinite or non-minimal lengths, values running past their parent).
 * Errors are MeshError `PKI_ERR_DER` naming the byte offset and the field being read.
 */
import { MeshError } from '../common/errors.js';
import { Tag } from './der-encode.js';

/** One decoded element: its tag, where its header starts, where its value starts and ends. */
export interface Tlv {
  tag: number;
  start: number;
  valueStart: number;
  end: number;
}

function fail(offset: number, what: string, problem: string): never {
  throw new MeshError('PKI_ERR_DER', `${what}: ${problem} at byte ${offset}`);
}

/** Reads one element starting at `offset`; it must end at or before `limit`. */
export function readTlv(buf: Buffer, offset: number, limit: number, what: string): Tlv {
  if (offset + 2 > limit) fail(offset, what, 'truncated header');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) fail(offset, what, 'multi-byte tags are not supported');
  let len = buf[offset + 1] as number;
  let valueStart = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) fail(offset, what, 'indefinite length is not DER');
    if (n > 4) fail(offset, what, 'length too large');
    if (valueStart + n > limit) fail(offset, what, 'truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[valueStart + i] as number);
    if (buf[valueStart] === 0 || len < 0x80) fail(offset, what, 'non-minimal length is not DER');
    valueStart += n;
  }
  const end = valueStart + len;
  if (end > limit) fail(offset, what, `value of ${len} bytes runs past the end`);
  return { tag, start: offset, valueStart, end };
}

/** Reads a whole buffer that must hold exactly one element. */
export function readRoot(buf: Buffer, what: string): Tlv {
  const root = readTlv(buf, 0, buf.length, what);
  if (root.end !== buf.length) fail(root.end, what, `${buf.length - root.end} trailing bytes`);
  return root;
}

/** Walks the children of a constructed element in order. */
export class DerReader {
  private at: number;

  constructor(
    readonly buf: Buffer,
    readonly parent: Tlv,
    private readonly what: string,
  ) {
    if ((parent.tag & 0x20) === 0) fail(parent.start, what, 'expected a constructed element');
    this.at = parent.valueStart;
  }

  /** True when every child has been read. */
  get done(): boolean {
    return this.at >= this.parent.end;
  }

  /** The next child's tag without consuming it, or undefined at the end. */
  peekTag(): number | undefined {
    return this.done ? undefined : this.buf[this.at];
  }

  /** The next child; with `tag`, it must have that tag. */
  next(what: string, tag?: number): Tlv {
    if (this.done) fail(this.at, `${this.what}.${what}`, 'missing');
    const t = readTlv(this.buf, this.at, this.parent.end, `${this.what}.${what}`);
    if (tag !== undefined && t.tag !== tag) {
      fail(t.start, `${this.what}.${what}`, `expected tag 0x${hex(tag)}, found 0x${hex(t.tag)}`);
    }
    this.at = t.end;
    return t;
  }

  /** The next child if it has `tag`, else undefined (for OPTIONAL and DEFAULT fields). */
  optional(what: string, tag: number): Tlv | undefined {
    return this.peekTag() === tag ? this.next(what, tag) : undefined;
  }

  /** Asserts that nothing is left. */
  end(): void {
    if (!this.done) fail(this.at, this.what, 'unexpected extra element');
  }

  /** A reader over a constructed child. */
  child(t: Tlv, what: string): DerReader {
    return new DerReader(this.buf, t, `${this.what}.${what}`);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export function valueOf(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.valueStart, t.end);
}

/** The whole encoding of an element (header included). */
export function rawOf(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}

export function decodeOid(buf: Buffer, t: Tlv, what = 'OID'): string {
  if (t.tag !== Tag.oid || t.end === t.valueStart) fail(t.start, what, 'expected an OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = t.valueStart; i < t.end; i++) {
    const b = buf[i] as number;
    if (value === 0 && b === 0x80) fail(i, what, 'non-minimal OID arc');
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(first, value - first * 40);
      } else arcs.push(value);
      value = 0;
    } else if (i === t.end - 1) fail(i, what, 'truncated OID');
  }
  return arcs.join('.');
}

export function decodeBoolean(buf: Buffer, t: Tlv, what = 'BOOLEAN'): boolean {
  if (t.tag !== Tag.boolean || t.end - t.valueStart !== 1) fail(t.start, what, 'expected a BOOLEAN');
  const v = buf[t.valueStart];
  if (v !== 0 && v !== 0xff) fail(t.start, what, 'BOOLEAN must be 0x00 or 0xff in DER');
  return v === 0xff;
}

/** A small non-negative INTEGER (version numbers, path lengths). */
export function decodeSmallInteger(buf: Buffer, t: Tlv, what = 'INTEGER'): number {
  if (t.tag !== Tag.integer || t.end === t.valueStart || t.end - t.valueStart > 4) {
    fail(t.start, what, 'expected a small INTEGER');
  }
  if ((buf[t.valueStart] as number) & 0x80) fail(t.start, what, 'negative INTEGER');
  let n = 0;
  for (let i = t.valueStart; i < t.end; i++) n = n * 256 + (buf[i] as number);
  return n;
}

/** A BIT STRING's unused-bit count and bytes. */
export function decodeBitString(buf: Buffer, t: Tlv, what = 'BIT STRING'): { unused: number; bytes: Buffer } {
  if (t.tag !== Tag.bitString || t.end === t.valueStart) fail(t.start, what, 'expected a BIT STRING');
  const unused = buf[t.valueStart] as number;
  if (unused > 7 || (unused > 0 && t.end - t.valueStart === 1)) fail(t.start, what, 'bad unused-bit count');
  return { unused, bytes: buf.subarray(t.valueStart + 1, t.end) };
}

/** The text of a string type (UTF8String, PrintableString, IA5String, ...). */
export function decodeString(buf: Buffer, t: Tlv): string {
  return buf.toString(t.tag === Tag.utf8String ? 'utf8' : 'latin1', t.valueStart, t.end);
}

const UTC_RE = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/;
const GEN_RE = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/;

/** UTCTime or GeneralizedTime in the RFC 5280 profile (UTC, whole seconds). */
export function decodeTime(buf: Buffer, t: Tlv, what = 'time'): Date {
  const text = buf.toString('latin1', t.valueStart, t.end);
  let m: RegExpExecArray | null = null;
  let year = 0;
  if (t.tag === Tag.utcTime && (m = UTC_RE.exec(text))) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (t.tag === Tag.generalizedTime && (m = GEN_RE.exec(text))) {
    year = Number(m[1]);
  } else fail(t.start, what, `expected UTCTime or GeneralizedTime as YYMMDDHHMMSSZ, got "${text}"`);
  const ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  const d = new Date(ms);
  const ok =
    d.getUTCMonth() === Number(m[2]) - 1 &&
    d.getUTCDate() === Number(m[3]) &&
    Number(m[4]) <= 23 &&
    Number(m[5]) <= 59 &&
    Number(m[6]) <= 59;
  if (!ok) fail(t.start, what, `invalid date "${text}"`);
  if (year < 100) d.setUTCFullYear(year);
  return d;
}
