/** Protocol detection on the first bytes (Envoy's http_inspector): HTTP/2 preface, HTTP/1.x request line, or neither. */
import type { Duplex } from 'node:stream';
import type { PortProtocol } from '../model.js';

export type Detected = 'http1' | 'http2' | 'tcp';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const METHOD =
  /^(GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH|PROPFIND|PROPPATCH|MKCOL|COPY|MOVE|LOCK|UNLOCK|PRI) /;

/** Classifies the first bytes; undefined while they could still be either. */
export function classify(head: Buffer): Detected | undefined {
  const n = Math.min(head.length, H2_PREFACE.length);
  if (head.subarray(0, n).equals(H2_PREFACE.subarray(0, n)))
    return n === H2_PREFACE.length ? 'http2' : undefined;
  const text = head.subarray(0, Math.min(head.length, 16)).toString('latin1');
  if (METHOD.test(text)) return 'http1';
  if (head.length < 16 && /^[A-Z]*$/.test(text)) return undefined;
  return 'tcp';
}

/** Ports known from appProtocol or the port name skip detection (TCP ones); the rest are read first. */
export function declared(p: PortProtocol): 'tcp' | 'http' | undefined {
  if (p === 'tcp' || p === 'tls') return 'tcp';
  return p === 'unknown' ? undefined : 'http';
}

/** Reads until the protocol is known, puts the bytes back, and reports it. Ends early: 'tcp'. */
export function sniff(s: Duplex, cb: (d: Detected) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const d = classify(buf);
    if (d === undefined && buf.length < 64) return;
    finish(d ?? 'tcp');
  };
  const onEnd = (): void => finish('tcp');
  const finish = (d: Detected): void => {
    s.off('data', onData);
    s.off('end', onEnd);
    s.pause();
    if (buf.length > 0) s.unshift(buf);
    cb(d);
  };
  s.on('data', onData);
  s.once('end', onEnd);
}
