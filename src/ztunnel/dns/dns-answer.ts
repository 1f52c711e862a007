/**
 * Building DNS responses: answers from the mesh state (A/AAAA records, NOERROR with no records, NXDOMAIN),
 * error replies (FORMERR, SERVFAIL, NOTIMP, REFUSED, BADVERS) and the truncation of a response that does
 * not fit a UDP client (TC bit, RFC 1035 section 4.2.1 / RFC 6891 section 6.2.5). Answer records name
 * the question by a compression pointer to offset 12.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { parseIp } from '../state/ip.js';
import {
  CLASS_IN,
  FLAG_AA,
  FLAG_QR,
  FLAG_RA,
  FLAG_RD,
  FLAG_TC,
  HEADER_SIZE,
  readHeader,
  readQuestion,
  TYPE_A,
  TYPE_AAAA,
  TYPE_OPT,
  type DnsHeader,
  type DnsQuestion,
  type DnsEdns,
} from './dns-wire.js';

/** The UDP payload size this server advertises in its OPT records (the DNS flag day 2020 value). */
export const OUR_UDP_SIZE = 1232;
/** UDP payload limit without EDNS0. */
export const CLASSIC_UDP_SIZE = 512;
/** The most a UDP answer grows to, whatever a client advertises. */
export const MAX_UDP_SIZE = 4096;

const OPT_RECORD_SIZE = 11;

export interface AnswerRecord {
  type: number;
  ttl: number;
  rdata: Buffer;
}

export interface ResponseSpec {
  /** The query's header: id, opcode and RD are echoed. */
  header: DnsHeader;
  /** Echoed when known (an error reply to an unreadable query has none). */
  question: DnsQuestion | undefined;
  /** Whether the query carried EDNS0; the response then carries an OPT record too. */
  edns: DnsEdns | undefined;
  /** 0-15, or an extended rcode (BADVERS) when `edns` is set. */
  rcode: number;
  authoritative?: boolean;
  answers?: readonly AnswerRecord[];
  /** The largest response allowed (UDP); answers that do not fit are left out and TC is set. */
  maxSize?: number;
}

/** The size limit of a UDP response to this query. */
export function udpLimit(edns: DnsEdns | undefined): number {
  if (!edns) return CLASSIC_UDP_SIZE;
  return Math.min(Math.max(edns.udpSize, CLASSIC_UDP_SIZE), MAX_UDP_SIZE);
}

export function encodeResponse(spec: ResponseSpec): Buffer {
  const q = spec.question;
  const qSize = q ? q.labels.reduce((n, l) => n + 1 + l.length, 1) + 4 : 0;
  const optSize = spec.edns ? OPT_RECORD_SIZE : 0;
  const limit = spec.maxSize ?? 65535;
  const answers = spec.answers ?? [];
  let size = HEADER_SIZE + qSize + optSize;
  let fit = 0;
  for (const a of answers) {
    const s = 12 + a.rdata.length;
    if (size + s > limit) break;
    size += s;
    fit++;
  }
  const truncated = fit < answers.length;
  const out = Buffer.alloc(size);
  let flags = FLAG_QR | (spec.header.opcode << 11) | FLAG_RA | (spec.rcode & 0xf);
  if (spec.header.rd) flags |= FLAG_RD;
  if (spec.authoritative) flags |= FLAG_AA;
  if (truncated) flags |= FLAG_TC;
  out.writeUInt16BE(spec.header.id, 0);
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(q ? 1 : 0, 4);
  out.writeUInt16BE(fit, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(spec.edns ? 1 : 0, 10);
  let p = HEADER_SIZE;
  if (q) {
    for (const l of q.labels) {
      out[p++] = l.length;
      l.copy(out, p);
      p += l.length;
    }
    out[p++] = 0;
    out.writeUInt16BE(q.type, p);
    out.writeUInt16BE(q.class, p + 2);
    p += 4;
  }
  for (let i = 0; i < fit; i++) {
    const a = answers[i]!;
    out.writeUInt16BE(0xc000 | HEADER_SIZE, p);
    out.writeUInt16BE(a.type, p + 2);
    out.writeUInt16BE(CLASS_IN, p + 4);
    out.writeUInt32BE(a.ttl, p + 6);
    out.writeUInt16BE(a.rdata.length, p + 10);
    a.rdata.copy(out, p + 12);
    p += 12 + a.rdata.length;
  }
  if (spec.edns) {
    out[p] = 0; // root name
    out.writeUInt16BE(TYPE_OPT, p + 1);
    out.writeUInt16BE(OUR_UDP_SIZE, p + 3);
    out.writeUInt32BE(((spec.rcode >> 4) & 0xff) << 24, p + 5); // extended rcode, version 0, no flags
    out.writeUInt16BE(0, p + 9);
  }
  return out;
}

/** A/AAAA records for the IPs of the question's family (ANY gets both); other types get none. */
export function addressRecords(qtype: number, ips: readonly string[], ttl: number): AnswerRecord[] {
  const out: AnswerRecord[] = [];
  const wantV4 = qtype === TYPE_A || qtype === 255;
  const wantV6 = qtype === TYPE_AAAA || qtype === 255;
  for (const ip of ips) {
    if (wantV4 && isIPv4(ip)) out.push({ type: TYPE_A, ttl, rdata: Buffer.from(parseIp(ip)!) });
    else if (wantV6 && isIPv6(ip)) {
      const b = parseIp(ip)!;
      // An IPv4-mapped address parses to 4 bytes; it has no place in an AAAA record.
      if (b.length === 16) out.push({ type: TYPE_AAAA, ttl, rdata: Buffer.from(b) });
    }
  }
  return out;
}

/**
 * Cuts a relayed response that is too big for a UDP client down to its header and question, with TC set,
 * so the client retries over TCP. Returns the response unchanged when it fits.
 */
export function truncateForUdp(response: Buffer, limit: number): Buffer {
  if (response.length <= limit) return response;
  const h = readHeader(response);
  if (!h) return response;
  let end = HEADER_SIZE;
  if (h.qdcount >= 1) {
    const q = readQuestion(response, HEADER_SIZE);
    if (q.ok) end = q.end;
  }
  const out = Buffer.from(response.subarray(0, end));
  out.writeUInt16BE(h.flags | FLAG_TC, 2);
  out.writeUInt16BE(end > HEADER_SIZE ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(0, 10);
  return out;
}
