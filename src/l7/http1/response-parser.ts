/**
 * A strict, incremental HTTP/1.1 response parser (RFC 9112) for the engine's upstream client: pure,
 * no I/O. Bytes go in through `execute()`; the head, body pieces, trailers and the end come out
 * through the handler. Malformed input is reported as a `ResponseParseError` naming what was wrong;
 * after one the parser takes no more input (the connection must be closed).
 *
 * Framing (RFC 9112 §6.3): no body for HEAD, 1xx, 204 and 304; `Transfer-Encoding` ending in
 * `chunked` (with trailers); `Content-Length`; otherwise the body runs until the connection closes.
 * Interim 1xx responses are skipped (101 is refused: the client never asks to upgrade). Refused:
 * a bad status line or header line, obsolete line folding, control characters in a value, a
 * `Content-Length` that is not a number or appears twice, `Content-Length` with `Transfer-Encoding`,
 * `chunked` not last, a bad chunk size or chunk end, a head or trailers above the size limit, and
 * bytes after a complete response.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface ResponseHead {
  status: number;
  /** The minor version: HTTP/1.0 (0) or HTTP/1.1 (1). */
  minor: number;
  headers: IncomingHttpHeaders;
  /** The connection may carry another request after this response. */
  keepAlive: boolean;
}

export interface ResponseHandler {
  onHead(head: ResponseHead): void;
  /** A piece of the body (a view into the input: keep it or copy it, it is not reused). */
  onBody(chunk: Buffer): void;
  /** Trailers of a chunked body (only called when there are some). */
  onTrailers(trailers: IncomingHttpHeaders): void;
  onEnd(): void;
}

export type ResponseParseErrorCode =
  | 'bad_status_line'
  | 'bad_header'
  | 'headers_too_large'
  | 'bad_content_length'
  | 'bad_transfer_encoding'
  | 'bad_chunk'
  | 'unexpected_data'
  | 'incomplete';

export class ResponseParseError extends Error {
  constructor(
    readonly code: ResponseParseErrorCode,
    /** What was wrong, without the prefix. */
    readonly detail: string,
  ) {
    super(`upstream sent a malformed HTTP/1.1 response: ${detail}`);
  }
}

const enum S {
  Idle, // no response expected
  Head,
  Length,
  Chunked, // reading a chunk-size line
  ChunkData,
  ChunkEnd, // the CRLF after a chunk's data
  Trailers,
  Close, // body until the connection closes
  Done,
  Failed,
}

const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Control characters other than HTAB are not allowed in a field value (RFC 9110 §5.5).
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const STATUS = /^HTTP\/1\.([01]) ([0-9]{3})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;
/** Longest chunk-size line (size, extensions, CRLF) accepted. */
const MAX_CHUNK_LINE = 4096;
/** Largest chunk accepted (hex digits beyond this would lose precision). */
const MAX_HEX_DIGITS = 12;

export class ResponseParser {
  private state = S.Idle;
  private noBody = false;
  /** Bytes of a head (or a line) not complete yet. */
  private carry: Buffer | undefined;
  private remaining = 0;
  private chunkLine = '';
  /** Set after a response head: whether the connection may be reused. */
  private keepAlive = false;

  constructor(
    private readonly handler: ResponseHandler,
    /** Largest head (status line and headers) and largest trailer block, in bytes. */
    private readonly maxHeadBytes = 60 * 1024,
  ) {}

  /** Expect the response to a request with this method. */
  expect(method: string): void {
    this.state = S.Head;
    this.noBody = method === 'HEAD';
    this.carry = undefined;
    this.keepAlive = false;
    this.received = false;
  }

  /** A response is expected or in progress. */
  get busy(): boolean {
    return this.state !== S.Idle && this.state !== S.Done && this.state !== S.Failed;
  }

  /** The body runs until the connection closes. */
  get closeDelimited(): boolean {
    return this.state === S.Close;
  }

  /** Whether some byte of the expected response (an interim one included) has been read. */
  received = false;

  /** The finished response allows another request on the connection. */
  get reusable(): boolean {
    return this.state === S.Done && this.keepAlive;
  }

  /** Feeds bytes; returns an error when they are not a valid response (the parser then stops). */
  execute(buf: Buffer): ResponseParseError | undefined {
    let i = 0;
    const n = buf.length;
    if (n > 0) this.received = true;
    while (i < n) {
      switch (this.state) {
        case S.Head: {
          const r = this.head(buf, i);
          if (r instanceof ResponseParseError) return this.fail(r);
          if (r < 0) return undefined; // head not complete yet
          i = r;
          break;
        }
        case S.Length: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          const piece = i === 0 && take === n ? buf : buf.subarray(i, i + take);
          i += take;
          this.handler.onBody(piece);
          if (this.remaining === 0) this.end();
          break;
        }
        case S.Close:
          this.handler.onBody(i === 0 ? buf : buf.subarray(i));
          return undefined;
        case S.Chunked: {
          const r = this.chunkSize(buf, i);
          if (r instanceof ResponseParseError) return this.fail(r);
          i = r;
          break;
        }
        case S.ChunkData: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          this.handler.onBody(buf.subarray(i, i + take));
          i += take;
          if (this.remaining === 0) {
            this.state = S.ChunkEnd;
            this.chunkLine = '';
          }
          break;
        }
        case S.ChunkEnd: {
          // Exactly CRLF after the data.
          const c = buf[i++]!;
          const want = this.chunkLine.length === 0 ? 0x0d : 0x0a;
          if (c !== want)
            return this.fail(new ResponseParseError('bad_chunk', 'a chunk is not followed by CRLF'));
          if (want === 0x0d) this.chunkLine = '\r';
          else {
            this.chunkLine = '';
            this.state = S.Chunked;
          }
          break;
        }
        case S.Trailers: {
          const r = this.trailers(buf, i);
          if (r instanceof ResponseParseError) return this.fail(r);
          if (r < 0) return undefined;
          i = r;
          break;
        }
        case S.Failed:
          return new ResponseParseError('unexpected_data', 'input after an error');
        default:
          // Idle or Done: nothing is expected (no pipelining).
          return this.fail(
            new ResponseParseError(
              'unexpected_data',
              `${n - i} byte(s) arrived when no response was expected`,
            ),
          );
      }
    }
    return undefined;
  }

  /**
   * The connection closed (read side ended). Ends a body delimited by the close; anything else in
   * progress is an error (`incomplete`). Returns undefined when nothing was in progress.
   */
  finish(): ResponseParseError | undefined {
    if (this.state === S.Close) {
      this.end();
      return undefined;
    }
    if (!this.busy) return undefined;
    return this.fail(new ResponseParseError('incomplete', `the connection closed ${WHERE[this.state]}`));
  }

  private fail(err: ResponseParseError): ResponseParseError {
    this.state = S.Failed;
    this.carry = undefined;
    return err;
  }

  private end(): void {
    this.state = S.Done;
    this.handler.onEnd();
  }

  /** Parses a head from buf[i..]; returns the index after it, -1 when incomplete, or an error. */
  private head(buf: Buffer, i: number): number | ResponseParseError {
    let data = buf;
    let start = i;
    if (this.carry) {
      data = Buffer.concat([this.carry, buf.subarray(i)]);
      start = 0;
    }
    const endAt = data.indexOf(CRLF2, start);
    if (endAt < 0) {
      if (data.length - start > this.maxHeadBytes)
        return new ResponseParseError('headers_too_large', `response head over ${this.maxHeadBytes} bytes`);
      this.carry = start === 0 && data !== buf ? data : Buffer.from(data.subarray(start));
      return -1;
    }
    if (endAt + 4 - start > this.maxHeadBytes)
      return new ResponseParseError('headers_too_large', `response head over ${this.maxHeadBytes} bytes`);
    const consumedFromBuf = this.carry ? endAt + 4 - this.carry.length + i : endAt + 4;
    this.carry = undefined;
    const text = data.toString('latin1', start, endAt);
    const r = this.parseHead(text);
    if (r instanceof ResponseParseError) return r;
    return consumedFromBuf;
  }

  private parseHead(text: string): undefined | ResponseParseError {
    const nl = text.indexOf('\r\n');
    const line = nl < 0 ? text : text.slice(0, nl);
    const m = STATUS.exec(line);
    if (!m)
      return new ResponseParseError(
        'bad_status_line',
        `bad status line ${JSON.stringify(line.slice(0, 64))}`,
      );
    const minor = m[1] === '1' ? 1 : 0;
    const status = Number(m[2]);
    if (status < 100) return new ResponseParseError('bad_status_line', `bad status code ${m[2]}`);
    const headers: IncomingHttpHeaders = {};
    const err = nl < 0 ? undefined : parseFields(text, nl + 2, headers);
    if (err) return err;
    if (status < 200) {
      if (status === 101)
        return new ResponseParseError(
          'bad_status_line',
          '101 Switching Protocols without an upgrade request',
        );
      return undefined; // an interim response: the final one follows
    }
    const conn = headers.connection?.toLowerCase();
    let keepAlive = minor === 1 ? !hasToken(conn, 'close') : hasToken(conn, 'keep-alive');
    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    const bodyless = this.noBody || status === 204 || status === 304;
    let next: S;
    if (bodyless) {
      next = S.Done;
    } else if (te !== undefined) {
      if (cl !== undefined)
        return new ResponseParseError('bad_content_length', 'both Transfer-Encoding and Content-Length');
      const codings = te.toLowerCase().split(',');
      const last = codings[codings.length - 1]!.trim();
      for (let k = 0; k < codings.length - 1; k++)
        if (codings[k]!.trim() === 'chunked')
          return new ResponseParseError(
            'bad_transfer_encoding',
            `"chunked" is not the last coding in "${te}"`,
          );
      if (last === 'chunked') next = S.Chunked;
      else {
        next = S.Close; // RFC 9112 §6.3: read until the close
        keepAlive = false;
      }
    } else if (cl !== undefined) {
      if (!/^[0-9]{1,15}$/.test(cl))
        return new ResponseParseError('bad_content_length', `bad Content-Length "${cl.slice(0, 32)}"`);
      this.remaining = Number(cl);
      next = this.remaining === 0 ? S.Done : S.Length;
    } else {
      next = S.Close;
      keepAlive = false;
    }
    this.keepAlive = keepAlive;
    this.state = next === S.Done ? S.Head : next; // onHead first, then the end
    this.chunkLine = '';
    this.handler.onHead({ status, minor, headers, keepAlive });
    if (next === S.Done) this.end();
    return undefined;
  }

  /** Reads a chunk-size line from buf[i..]; returns the index after what it used. */
  private chunkSize(buf: Buffer, i: number): number | ResponseParseError {
    const lf = buf.indexOf(0x0a, i);
    const end = lf < 0 ? buf.length : lf + 1;
    this.chunkLine += buf.toString('latin1', i, end);
    if (this.chunkLine.length > MAX_CHUNK_LINE)
      return new ResponseParseError('bad_chunk', `chunk-size line over ${MAX_CHUNK_LINE} bytes`);
    if (lf < 0) return end;
    const line = this.chunkLine;
    this.chunkLine = '';
    if (line.length < 2 || line.charCodeAt(line.length - 2) !== 0x0d)
      return new ResponseParseError('bad_chunk', 'chunk-size line not ended by CRLF');
    const semi = line.indexOf(';');
    const hex = (semi < 0 ? line.slice(0, -2) : line.slice(0, semi)).trimEnd();
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length > MAX_HEX_DIGITS)
      return new ResponseParseError('bad_chunk', `bad chunk size ${JSON.stringify(hex.slice(0, 32))}`);
    if (semi >= 0 && BAD_VALUE.test(line.slice(semi, -2)))
      return new ResponseParseError('bad_chunk', 'control character in a chunk extension');
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = S.Trailers;
      this.carry = undefined;
    } else {
      this.remaining = size;
      this.state = S.ChunkData;
    }
    return end;
  }

  /** Reads the trailer block (ending in an empty line) from buf[i..]. */
  private trailers(buf: Buffer, i: number): number | ResponseParseError {
    let data = buf;
    let start = i;
    if (this.carry) {
      data = Buffer.concat([this.carry, buf.subarray(i)]);
      start = 0;
    }
    // An empty trailer section is just CRLF.
    if (data.length - start >= 2 && data[start] === 0x0d && data[start + 1] === 0x0a) {
      const used = this.carry ? 2 - this.carry.length + i : start + 2;
      this.carry = undefined;
      this.end();
      return used;
    }
    if (data.length - start === 1 && data[start] === 0x0d) {
      this.carry = Buffer.from(data.subarray(start));
      return -1;
    }
    const endAt = data.indexOf(CRLF2, start);
    if (endAt < 0) {
      if (data.length - start > this.maxHeadBytes)
        return new ResponseParseError('headers_too_large', `trailers over ${this.maxHeadBytes} bytes`);
      this.carry = Buffer.from(data.subarray(start));
      return -1;
    }
    if (endAt + 4 - start > this.maxHeadBytes)
      return new ResponseParseError('headers_too_large', `trailers over ${this.maxHeadBytes} bytes`);
    const used = this.carry ? endAt + 4 - this.carry.length + i : endAt + 4;
    this.carry = undefined;
    const t: IncomingHttpHeaders = {};
    const err = parseFields(data.toString('latin1', start, endAt), 0, t);
    if (err) return err;
    this.handler.onTrailers(t);
    this.end();
    return used;
  }
}

const WHERE: Record<number, string> = {
  [S.Head]: 'before the response head was complete',
  [S.Length]: 'before the whole Content-Length body was read',
  [S.Chunked]: 'inside a chunked body',
  [S.ChunkData]: 'inside a chunked body',
  [S.ChunkEnd]: 'inside a chunked body',
  [S.Trailers]: 'inside the trailers',
};

/**
 * Parses `name: value` lines of `text` from `at` (CRLF separated) into `out` as node:http does:
 * lower-case names, `set-cookie` as a list, other repeats joined with ", ". A repeated
 * Content-Length is an error.
 */
function parseFields(text: string, at: number, out: IncomingHttpHeaders): ResponseParseError | undefined {
  const o = out as Record<string, string | string[]>;
  while (at <= text.length) {
    let nl = text.indexOf('\r\n', at);
    if (nl < 0) nl = text.length;
    if (nl === at) return new ResponseParseError('bad_header', 'empty line inside the header block');
    const line = text.slice(at, nl);
    at = nl + 2;
    const c0 = line.charCodeAt(0);
    if (c0 === 0x20 || c0 === 0x09)
      return new ResponseParseError('bad_header', 'obsolete line folding in a header');
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name))
      return new ResponseParseError('bad_header', `bad header line ${JSON.stringify(line.slice(0, 64))}`);
    const value = line.slice(colon + 1).trim();
    if (BAD_VALUE.test(value))
      return new ResponseParseError('bad_header', `control character in the value of header "${name}"`);
    const k = name.toLowerCase();
    const cur = o[k];
    if (cur === undefined) {
      o[k] = k === 'set-cookie' ? [value] : value;
    } else if (k === 'set-cookie') {
      (cur as string[]).push(value);
    } else if (k === 'content-length') {
      return new ResponseParseError('bad_content_length', 'more than one Content-Length');
    } else {
      o[k] = `${cur as string}, ${value}`;
    }
  }
  return undefined;
}

function hasToken(v: string | undefined, token: string): boolean {
  if (v === undefined) return false;
  if (v === token) return true;
  for (const p of v.split(',')) if (p.trim() === token) return true;
  return false;
}
