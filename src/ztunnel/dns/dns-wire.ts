/**
 * The DNS wire format (RFC 1035) as far as ztunnel's DNS proxy needs it: reading the header, names (with
 * compression pointers), the question and an EDNS0 OPT record (RFC 6891) of a query, and the constants
 * of the answers it builds (dns-answer.ts). Reading never trusts the packet: every length is checked,
 * and a compression pointer must point strictly before the run of labels it was found in, so a pointer
 * loop ends with an error instead of a hang.
 */

export const HEADER_SIZE = 12;
/** Longest name on the wire, root label included (RFC 1035 section 2.3.4). */
export const MAX_NAME_WIRE = 255;

export const TYPE_A = 1;
export const TYPE_NS = 2;
export const TYPE_CNAME = 5;
export const TYPE_SOA = 6;
export const TYPE_AAAA = 28;
export const TYPE_OPT = 41;
export const TYPE_IXFR = 251;
export const TYPE_AXFR = 252;
export const TYPE_ANY = 255;
export const CLASS_IN = 1;

export const OPCODE_QUERY = 0;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended (EDNS) rcode 16: the upper 8 bits go in the OPT record, the lower 4 in the header. */
  BADVERS: 16,
} as const;

export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;

export interface DnsHeader {
  id: number;
  /** The raw 16-bit flags word. */
  flags: number;
  qr: boolean;
  opcode: number;
  rd: boolean;
  tc: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface DnsQuestion {
  /** The labels as sent (case kept, for the echo in the answer: some resolvers check the case). */
  labels: Buffer[];
  /** Lowercased text form without the trailing dot ('' for the root); odd bytes escaped as \DDD. */
  name: string;
  type: number;
  class: number;
}

export interface DnsEdns {
  /** The requestor's UDP payload size (the OPT record's CLASS). */
  udpSize: number;
  version: number;
  /** The DNSSEC OK bit. */
  dnssecOk: boolean;
}

export interface DnsQuery {
  header: DnsHeader;
  question: DnsQuestion;
  edns: DnsEdns | undefined;
}

export type WireResult<T> = { ok: true; value: T; end: number } | { ok: false; error: string };

export function readHeader(buf: Buffer): DnsHeader | undefined {
  if (buf.length < HEADER_SIZE) return undefined;
  const flags = buf.readUInt16BE(2);
  return {
    id: buf.readUInt16BE(0),
    flags,
    qr: (flags & FLAG_QR) !== 0,
    opcode: (flags >> 11) & 0xf,
    tc: (flags & FLAG_TC) !== 0,
    rd: (flags & FLAG_RD) !== 0,
    rcode: flags & 0xf,
    qdcount: buf.readUInt16BE(4),
    ancount: buf.readUInt16BE(6),
    nscount: buf.readUInt16BE(8),
    arcount: buf.readUInt16BE(10),
  };
}

/** Reads a (possibly compressed) name at `offset`; `end` is the offset right after it in the packet. */
export function readName(buf: Buffer, offset: number): WireResult<Buffer[]> {
  const labels: Buffer[] = [];
  let pos = offset;
  let end = -1;
  /** Where the labels now being read began; a pointer must point strictly before it. */
  let runStart = offset;
  let wireLength = 1;
  for (;;) {
    if (pos >= buf.length) return { ok: false, error: `name at ${offset} runs past the end of the packet` };
    const len = buf[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { ok: true, value: labels, end };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) return { ok: false, error: `compression pointer at ${pos} is cut off` };
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (end < 0) end = pos + 2;
      if (target >= runStart)
        return {
          ok: false,
          error: `compression pointer at ${pos} to ${target} does not point backwards (a loop)`,
        };
      runStart = target;
      pos = target;
      continue;
    }
    if (kind !== 0)
      return { ok: false, error: `label type 0x${kind.toString(16)} at ${pos} is not supported` };
    if (pos + 1 + len > buf.length)
      return { ok: false, error: `label at ${pos} runs past the end of the packet` };
    wireLength += len + 1;
    if (wireLength > MAX_NAME_WIRE) return { ok: false, error: `name at ${offset} is longer than 255 bytes` };
    labels.push(buf.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
}

/** Text of a name: lowercased, dots between labels, no trailing dot; '.', '\\' and non-printables escaped. */
export function nameText(labels: readonly Buffer[]): string {
  let out = '';
  for (let i = 0; i < labels.length; i++) {
    if (i > 0) out += '.';
    const l = labels[i]!;
    for (let j = 0; j < l.length; j++) {
      let c = l[j]!;
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c === 0x2e || c === 0x5c) out += '\\' + String.fromCharCode(c);
      else if (c <= 0x20 || c >= 0x7f) out += '\\' + String(c).padStart(3, '0');
      else out += String.fromCharCode(c);
    }
  }
  return out;
}

export function readQuestion(buf: Buffer, offset: number): WireResult<DnsQuestion> {
  const n = readName(buf, offset);
  if (!n.ok) return n;
  if (n.end + 4 > buf.length) return { ok: false, error: 'question is cut off after its name' };
  return {
    ok: true,
    value: {
      labels: n.value,
      name: nameText(n.value),
      type: buf.readUInt16BE(n.end),
      class: buf.readUInt16BE(n.end + 2),
    },
    end: n.end + 4,
  };
}

interface RawRecord {
  labels: Buffer[];
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
}

function readRecord(buf: Buffer, offset: number): WireResult<RawRecord> {
  const n = readName(buf, offset);
  if (!n.ok) return n;
  const p = n.end;
  if (p + 10 > buf.length) return { ok: false, error: `record at ${offset} is cut off` };
  const rdlen = buf.readUInt16BE(p + 8);
  if (p + 10 + rdlen > buf.length) return { ok: false, error: `record data at ${p + 10} runs past the end` };
  return {
    ok: true,
    value: {
      labels: n.value,
      type: buf.readUInt16BE(p),
      class: buf.readUInt16BE(p + 2),
      ttl: buf.readUInt32BE(p + 4),
      rdata: buf.subarray(p + 10, p + 10 + rdlen),
    },
    end: p + 10 + rdlen,
  };
}

/** Why a packet could not be taken as a query. `rcode` undefined: drop it (no header to answer, or a response). */
export interface QueryProblem {
  rcode: number | undefined;
  error: string;
  header: DnsHeader | undefined;
  question: DnsQuestion | undefined;
}

/**
 * Reads a query: one question, records in the other sections skipped over (an OPT record among the
 * additional ones is read; two are an error), trailing bytes ignored.
 */
export function parseQuery(
  buf: Buffer,
  maxSize = 4096,
): { ok: true; query: DnsQuery } | ({ ok: false } & QueryProblem) {
  const header = readHeader(buf);
  const fail = (rcode: number | undefined, error: string, question?: DnsQuestion) =>
    ({ ok: false, rcode, error, header, question }) as const;
  if (!header) return fail(undefined, `packet of ${buf.length} bytes is shorter than a DNS header`);
  if (header.qr) return fail(undefined, 'packet is a response, not a query');
  if (buf.length > maxSize)
    return fail(Rcode.FORMERR, `query of ${buf.length} bytes is over the ${maxSize}-byte limit`);
  if (header.opcode !== OPCODE_QUERY) return fail(Rcode.NOTIMP, `opcode ${header.opcode} is not supported`);
  if (header.qdcount !== 1)
    return fail(Rcode.FORMERR, `query has ${header.qdcount} questions, exactly 1 is supported`);
  const q = readQuestion(buf, HEADER_SIZE);
  if (!q.ok) return fail(Rcode.FORMERR, q.error);
  let pos = q.end;
  let edns: DnsEdns | undefined;
  const records = header.ancount + header.nscount + header.arcount;
  for (let i = 0; i < records; i++) {
    const r = readRecord(buf, pos);
    if (!r.ok) return fail(Rcode.FORMERR, r.error, q.value);
    pos = r.end;
    if (r.value.type !== TYPE_OPT) continue;
    if (i < header.ancount + header.nscount || edns || r.value.labels.length !== 0)
      return fail(Rcode.FORMERR, 'misplaced or repeated OPT record', q.value);
    edns = {
      udpSize: r.value.class,
      version: (r.value.ttl >>> 16) & 0xff,
      dnssecOk: (r.value.ttl & 0x8000) !== 0,
    };
  }
  return { ok: true, query: { header, question: q.value, edns } };
}
