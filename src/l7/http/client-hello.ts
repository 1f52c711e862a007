/**
 * The server name (SNI) of a TLS ClientHello, read from the first bytes of a connection without
 * terminating TLS (Envoy's tls_inspector): for routing passthrough TLS by host name. Pure parsing.
 */
import type { Duplex } from 'node:stream';

/** Largest ClientHello read before giving up (one TLS record of 16 KiB and its header). */
const MAX_HELLO = 16 * 1024 + 5;

export type HelloResult =
  /** More bytes are needed. */
  | { kind: 'more' }
  /** Not a TLS ClientHello. */
  | { kind: 'not-tls' }
  /** A ClientHello; `sni` is undefined when it names no server. */
  | { kind: 'hello'; sni: string | undefined };

/** Parses the start of a connection: one TLS handshake record holding a ClientHello. */
export function parseClientHello(b: Buffer): HelloResult {
  if (b.length < 5) return b.length > 0 && b[0] !== 0x16 ? { kind: 'not-tls' } : { kind: 'more' };
  if (b[0] !== 0x16 || b[1] !== 0x03) return { kind: 'not-tls' };
  const recLen = b.readUInt16BE(3);
  if (b.length < 5 + recLen) return 5 + recLen > MAX_HELLO ? { kind: 'not-tls' } : { kind: 'more' };
  const r = b.subarray(5, 5 + recLen);
  // Handshake header: type 1 (ClientHello), 3-byte length; then version (2) and random (32).
  if (r.length < 4 || r[0] !== 0x01) return { kind: 'not-tls' };
  let p = 4 + 2 + 32;
  const need = (n: number): boolean => p + n <= r.length;
  if (!need(1)) return { kind: 'not-tls' };
  p += 1 + r[p]!; // session id
  if (!need(2)) return { kind: 'not-tls' };
  p += 2 + r.readUInt16BE(p); // cipher suites
  if (!need(1)) return { kind: 'not-tls' };
  p += 1 + r[p]!; // compression methods
  if (!need(2)) return { kind: 'hello', sni: undefined }; // no extensions
  const end = p + 2 + r.readUInt16BE(p);
  p += 2;
  if (end > r.length) return { kind: 'not-tls' };
  while (p + 4 <= end) {
    const type = r.readUInt16BE(p);
    const len = r.readUInt16BE(p + 2);
    p += 4;
    if (p + len > end) return { kind: 'not-tls' };
    if (type === 0) {
      // server_name: list length (2), then entries of type (1) and name (2 + bytes); host_name is 0.
      let q = p + 2;
      while (q + 3 <= p + len) {
        const nameType = r[q]!;
        const nameLen = r.readUInt16BE(q + 1);
        if (q + 3 + nameLen > p + len) return { kind: 'not-tls' };
        if (nameType === 0)
          return { kind: 'hello', sni: r.toString('latin1', q + 3, q + 3 + nameLen).toLowerCase() };
        q += 3 + nameLen;
      }
    }
    p += len;
  }
  return { kind: 'hello', sni: undefined };
}

/**
 * Reads a connection's first bytes until its ClientHello is known, puts them back and reports the
 * server name (`null`: not TLS, or the connection ended first).
 */
export function peekServerName(s: Duplex, cb: (sni: string | undefined | null) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  const finish = (sni: string | undefined | null): void => {
    s.off('data', onData);
    s.off('end', onEnd);
    s.pause();
    if (buf.length > 0) s.unshift(buf);
    cb(sni);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const r = parseClientHello(buf);
    if (r.kind === 'more') return;
    finish(r.kind === 'hello' ? r.sni : null);
  };
  const onEnd = (): void => finish(null);
  s.on('data', onData);
  s.once('end', onEnd);
}
