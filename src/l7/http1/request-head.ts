/**
 * HTTP/1.1 request serialization for the engine's upstream client: pure, no I/O. The request line,
 * `host`, the caller's headers and the body framing the client chose (RFC 9112 §6): none, a
 * Content-Length, or chunked. Framing and connection headers in the caller's set are replaced, never
 * passed through; a name that is not a token or a value with CR, LF or NUL is refused (it would split
 * the request).
 */
import type { OutgoingHttpHeaders } from 'node:http';

export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

export class RequestHeadError extends Error {
  constructor(message: string) {
    super(`cannot send the request upstream: ${message}`);
  }
}

/** Headers the serializer writes itself. */
const OWN = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;
const BAD_TARGET = /[\s\0]/;

/**
 * The request head as a latin1 string (header values arrive from node:http decoded as latin1, so
 * encoding it back as latin1 sends the original bytes). `close` asks the server to close after it.
 */
export function serializeRequestHead(
  method: string,
  path: string,
  authority: string,
  headers: OutgoingHttpHeaders,
  framing: BodyFraming,
  close: boolean,
): string {
  if (!TOKEN.test(method)) throw new RequestHeadError(`bad method ${JSON.stringify(method.slice(0, 32))}`);
  if (path.length === 0 || BAD_TARGET.test(path))
    throw new RequestHeadError(`bad request target ${JSON.stringify(path.slice(0, 64))}`);
  if (BAD_VALUE.test(authority) || authority.includes(' '))
    throw new RequestHeadError(`bad authority ${JSON.stringify(authority.slice(0, 64))}`);
  let s = `${method} ${path} HTTP/1.1\r\nhost: ${authority}\r\n`;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const k = name.toLowerCase();
    if (OWN.has(k)) continue;
    if (!TOKEN.test(name)) throw new RequestHeadError(`bad header name ${JSON.stringify(name.slice(0, 64))}`);
    if (typeof v === 'object') {
      for (const x of v) s += field(name, x);
    } else {
      s += field(name, v);
    }
  }
  if (framing.kind === 'length') s += `content-length: ${framing.length}\r\n`;
  else if (framing.kind === 'chunked') s += 'transfer-encoding: chunked\r\n';
  if (close) s += 'connection: close\r\n';
  return `${s}\r\n`;
}

function field(name: string, v: string | number): string {
  const value = typeof v === 'string' ? v : String(v);
  if (BAD_VALUE.test(value)) throw new RequestHeadError(`header "${name}" has a CR, LF or NUL in its value`);
  return `${name}: ${value}\r\n`;
}

/**
 * How a request body goes out: the whole body known (`bytes`) → its length; a streamed body with a
 * declared Content-Length → that length; a streamed body without one → chunked; no body → none
 * (a declared `content-length: 0` is kept, as the client sent it).
 */
export function chooseFraming(
  headers: OutgoingHttpHeaders,
  streamed: boolean,
  bytes: Buffer | undefined,
): BodyFraming | RequestHeadError {
  if (bytes !== undefined) return { kind: 'length', length: bytes.length };
  const cl = headers['content-length'];
  if (cl !== undefined) {
    const s = String(cl);
    if (!/^[0-9]{1,15}$/.test(s)) return new RequestHeadError(`bad content-length "${s.slice(0, 32)}"`);
    const length = Number(s);
    if (!streamed && length !== 0)
      return new RequestHeadError(`content-length ${length} declared but there is no body`);
    return { kind: 'length', length };
  }
  return streamed ? { kind: 'chunked' } : { kind: 'none' };
}

/** The line before a chunk of `size` bytes (`size` > 0). */
export function chunkHeader(size: number): string {
  return `${size.toString(16)}\r\n`;
}

/** The last chunk and the end of the (empty) trailer section. */
export const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
export const CRLF = Buffer.from('\r\n', 'latin1');
