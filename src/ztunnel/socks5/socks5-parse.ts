/**
 * SOCKS5 (RFC 1928) handshake parsing, pure and incremental: each function looks at the bytes received
 * so far and says `need` (wait for more), `ok` (with how many bytes it used) or `error` (with a metric
 * reason and, where the protocol has one, the reply code to send before closing).
 */
import { isIP } from 'node:net';
import { bytesToIp } from '../state/ip.js';

export const SOCKS_VERSION = 5;
export const METHOD_NO_AUTH = 0x00;
export const METHOD_NONE_ACCEPTABLE = 0xff;

export const CMD_CONNECT = 0x01;
export const CMD_BIND = 0x02;
export const CMD_UDP_ASSOCIATE = 0x03;

export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;

/** Reply codes (RFC 1928 section 6). */
export const Socks5Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;

/** Why a handshake failed; the `reason` label of `ztunnel_socks5_errors_total`. */
export type Socks5ErrorReason =
  | 'bad_version'
  | 'no_acceptable_method'
  | 'unsupported_command'
  | 'unsupported_address_type'
  | 'bad_domain'
  | 'bad_port'
  | 'truncated'
  | 'timeout'
  | 'resolve_failed'
  | 'socket_error';

export type ParseError = { kind: 'error'; reason: Socks5ErrorReason; detail: string; reply?: number };
export type Need = { kind: 'need' };

const NEED: Need = { kind: 'need' };

export type GreetingResult = Need | ParseError | { kind: 'ok'; consumed: number };

/** The longest name a DNS hostname can have in text form. */
export const MAX_DOMAIN_LENGTH = 253;
const DOMAIN_RE =
  /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/** Version/method greeting: VER NMETHODS METHODS... Only NO AUTHENTICATION is accepted. */
export function parseGreeting(buf: Buffer): GreetingResult {
  if (buf.length < 1) return NEED;
  if (buf[0] !== SOCKS_VERSION)
    return { kind: 'error', reason: 'bad_version', detail: `version byte 0x${hex(buf[0]!)}, expected 0x05` };
  if (buf.length < 2) return NEED;
  const n = buf[1]!;
  if (buf.length < 2 + n) return NEED;
  for (let i = 0; i < n; i++) {
    if (buf[2 + i] === METHOD_NO_AUTH) return { kind: 'ok', consumed: 2 + n };
  }
  return {
    kind: 'error',
    reason: 'no_acceptable_method',
    detail: `client offers methods [${[...buf.subarray(2, 2 + n)].join(',')}], only 0 (no authentication) is supported`,
  };
}

export interface ParsedRequest {
  kind: 'ok';
  consumed: number;
  /** An IP literal (ATYP 1 or 4), or undefined for a domain. */
  ip: string | undefined;
  /** The domain name (ATYP 3), without a trailing dot. */
  hostname: string | undefined;
  port: number;
}

export type RequestResult = Need | ParseError | ParsedRequest;

/** CONNECT request: VER CMD RSV ATYP DST.ADDR DST.PORT. */
export function parseRequest(buf: Buffer): RequestResult {
  if (buf.length < 1) return NEED;
  if (buf[0] !== SOCKS_VERSION)
    return {
      kind: 'error',
      reason: 'bad_version',
      detail: `request version byte 0x${hex(buf[0]!)}, expected 0x05`,
      reply: Socks5Reply.GENERAL_FAILURE,
    };
  if (buf.length < 2) return NEED;
  const cmd = buf[1]!;
  if (cmd !== CMD_CONNECT)
    return {
      kind: 'error',
      reason: 'unsupported_command',
      detail: `command ${cmd} (${cmdName(cmd)}) is not supported, only CONNECT`,
      reply: Socks5Reply.COMMAND_NOT_SUPPORTED,
    };
  if (buf.length < 4) return NEED;
  const atyp = buf[3]!;
  let addrEnd: number;
  let ip: string | undefined;
  let hostname: string | undefined;
  if (atyp === ATYP_IPV4 || atyp === ATYP_IPV6) {
    addrEnd = 4 + (atyp === ATYP_IPV4 ? 4 : 16);
    if (buf.length < addrEnd + 2) return NEED;
    ip = bytesToIp(buf.subarray(4, addrEnd));
  } else if (atyp === ATYP_DOMAIN) {
    if (buf.length < 5) return NEED;
    const len = buf[4]!;
    addrEnd = 5 + len;
    if (buf.length < addrEnd + 2) return NEED;
    const raw = buf.subarray(5, addrEnd);
    const text = raw.toString('latin1');
    if (len === 0 || len > MAX_DOMAIN_LENGTH || !(DOMAIN_RE.test(text) || isIP(text) !== 0))
      return {
        kind: 'error',
        reason: 'bad_domain',
        detail: `domain of ${len} bytes is not a valid hostname (at most ${MAX_DOMAIN_LENGTH} letters, digits, '-', '_' and '.')`,
        reply: Socks5Reply.GENERAL_FAILURE,
      };
    hostname = text.endsWith('.') ? text.slice(0, -1) : text;
  } else {
    return {
      kind: 'error',
      reason: 'unsupported_address_type',
      detail: `address type ${atyp} is not 1 (IPv4), 3 (domain) or 4 (IPv6)`,
      reply: Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED,
    };
  }
  const port = buf.readUInt16BE(addrEnd);
  if (port === 0)
    return { kind: 'error', reason: 'bad_port', detail: 'port 0', reply: Socks5Reply.GENERAL_FAILURE };
  return { kind: 'ok', consumed: addrEnd + 2, ip, hostname, port };
}

/** A reply with BND.ADDR 0.0.0.0 and BND.PORT 0 (ztunnel does not report its own bound address). */
export function encodeReply(code: number): Buffer {
  return Buffer.from([SOCKS_VERSION, code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0]);
}

function cmdName(cmd: number): string {
  if (cmd === CMD_BIND) return 'BIND';
  if (cmd === CMD_UDP_ASSOCIATE) return 'UDP ASSOCIATE';
  return 'unknown';
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
