/**
 * One upstream HTTP/1.1 connection of the engine's own client: writes a request (head, then the body
 * with its framing, following the socket's backpressure), feeds what comes back to the response
 * parser and hands the body out as a Readable that pauses the socket when its reader is slow. One
 * request at a time (no pipelining). The pool (h1-pool.ts) decides reuse; this file only reports
 * whether the connection can carry another request when a response ends.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import {
  chunkHeader,
  CRLF,
  LAST_CHUNK,
  serializeRequestHead,
  type BodyFraming,
} from '../http1/request-head.js';
import { ResponseParser, type ResponseHead, type ResponseHandler } from '../http1/response-parser.js';
import { UpstreamError } from './upstream-error.js';
import type { UpstreamRequest, UpstreamResponse } from './upstream.js';

/** What the connection tells its pool. */
export interface ConnectionOwner {
  /** The response ended and the request was fully sent: reuse the connection, or close it. */
  released(c: H1Connection, reusable: boolean): void;
  /** The connection is gone (closed, failed or destroyed). */
  gone(c: H1Connection): void;
  /**
   * A reused connection failed before any response byte while the request can be sent again: send it
   * once more on a fresh connection. Returns false when it will not.
   */
  retry(x: H1Exchange): boolean;
}

/** One request and its response on a connection. */
export class H1Exchange {
  conn: H1Connection | undefined;
  /** Already sent once on a reused connection that turned out to be closed. */
  retried = false;
  head: ResponseHead | undefined;
  body: ResponseBody | undefined;
  trailers: IncomingHttpHeaders | undefined;
  requestDone = false;
  responseDone = false;
  settled = false;

  constructor(
    readonly r: UpstreamRequest,
    readonly framing: BodyFraming,
    readonly key: string,
    private readonly resolveFn: (res: UpstreamResponse) => void,
    private readonly rejectFn: (err: Error) => void,
  ) {}

  /** The request can be written again (no streamed body, or none read from it yet). */
  get replayable(): boolean {
    return this.r.body === undefined;
  }

  resolve(res: UpstreamResponse): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveFn(res);
  }

  reject(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectFn(err);
  }
}

/** The response body: reading resumes the socket it comes from. */
class ResponseBody extends Readable {
  constructor(private readonly conn: H1Connection) {
    super({ highWaterMark: 64 * 1024 });
    // The body can fail before its reader attaches (a bad chunk in the first packet): the reader
    // then sees it closed early; an 'error' nobody listens to must not take the process down.
    this.on('error', ignore);
  }

  override _read(): void {
    this.conn.resume(this);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.conn.bodyDestroyed(this);
    cb(err);
  }
}

function ignore(): void {}

export class H1Connection implements ResponseHandler {
  readonly parser: ResponseParser;
  /** Requests sent on this connection. */
  served = 0;
  /** Idle timeout of the cluster it last served (ms, 0 none) and when it became idle. */
  idleMs = 0;
  idleSince = 0;
  idleTimer: NodeJS.Timeout | undefined;
  closed = false;
  private x: H1Exchange | undefined;
  private closeAfter = false;
  private paused = false;
  /** The streamed request body in flight, while it is being written. */
  private source: Readable | undefined;
  private sent = 0;

  constructor(
    readonly socket: Duplex,
    readonly key: string,
    private readonly owner: ConnectionOwner,
    maxHeadBytes?: number,
  ) {
    this.parser = new ResponseParser(this, maxHeadBytes);
    this.onData = this.onData.bind(this);
    this.onSocketEnd = this.onSocketEnd.bind(this);
    this.onError = this.onError.bind(this);
    this.onClose = this.onClose.bind(this);
    this.onDrain = this.onDrain.bind(this);
    this.onSourceData = this.onSourceData.bind(this);
    this.onSourceEnd = this.onSourceEnd.bind(this);
    this.onSourceClose = this.onSourceClose.bind(this);
    socket.on('data', this.onData);
    socket.on('end', this.onSocketEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
  }

  /** Not closed by either side (the pool checks before reusing an idle connection). */
  get usable(): boolean {
    const s = this.socket;
    return !this.closed && !s.destroyed && !s.readableEnded && !s.writableEnded;
  }

  get busy(): boolean {
    return this.x !== undefined;
  }

  /** Sends a request; the exchange settles with the response head or an UpstreamError. */
  send(x: H1Exchange, reused: boolean, maxRequests: number | undefined): void {
    this.x = x;
    x.conn = this;
    x.head = undefined;
    this.served++;
    this.closeAfter = maxRequests !== undefined && maxRequests > 0 && this.served >= maxRequests;
    this.reused = reused;
    const r = x.r;
    let head: string;
    try {
      head = serializeRequestHead(r.method, r.path, r.authority, r.headers, x.framing, this.closeAfter);
    } catch (err) {
      // Nothing was written: the connection is still good.
      this.x = undefined;
      x.reject(new UpstreamError('reset', (err as Error).message));
      this.owner.released(this, this.usable && !this.closeAfter);
      return;
    }
    this.parser.expect(r.method);
    const s = this.socket;
    const bytes = r.bytes;
    if (bytes !== undefined && bytes.length > 0) {
      if (bytes.length <= 16 * 1024) {
        const n = head.length;
        const out = Buffer.allocUnsafe(n + bytes.length);
        out.write(head, 0, n, 'latin1');
        bytes.copy(out, n);
        s.write(out);
      } else {
        s.write(Buffer.from(head, 'latin1'));
        s.write(bytes);
      }
      x.requestDone = true;
    } else if (r.body !== undefined) {
      s.write(Buffer.from(head, 'latin1'));
      this.sent = 0;
      this.source = r.body;
      r.body.on('data', this.onSourceData);
      r.body.once('end', this.onSourceEnd);
      r.body.once('close', this.onSourceClose);
      r.body.resume();
    } else {
      s.write(Buffer.from(head, 'latin1'));
      x.requestDone = true;
    }
  }

  private reused = false;

  /** The socket may deliver again (the reader of `body`, if it is the current one, wants more). */
  resume(body?: ResponseBody): void {
    if (this.paused && (body === undefined || this.x?.body === body)) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Drops the connection (an aborted response, a closing pool). */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.detachSource();
    this.socket.destroy();
    this.owner.gone(this);
  }

  /** The caller dropped the response of `x`: the connection is dropped unless that response is over. */
  abort(x: H1Exchange): void {
    if (this.x === x) this.fail(new UpstreamError('reset', 'the response was aborted'), false, true);
  }

  bodyDestroyed(body: ResponseBody): void {
    const x = this.x;
    if (x && x.body === body && !x.responseDone) this.destroy();
  }

  // ResponseHandler (called by the parser).

  onHead(head: ResponseHead): void {
    const x = this.x!;
    x.head = head;
    const body = new ResponseBody(this);
    x.body = body;
    x.resolve({
      status: head.status,
      headers: head.headers,
      body,
      trailers: () => x.trailers,
      abort: () => this.abort(x),
    });
  }

  onBody(chunk: Buffer): void {
    const body = this.x!.body!;
    if (!body.push(chunk) && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  onTrailers(t: IncomingHttpHeaders): void {
    this.x!.trailers = t;
  }

  onEnd(): void {
    const x = this.x!;
    x.responseDone = true;
    x.body!.push(null);
    if (!x.requestDone) {
      // Answered before the request body was all sent: stop sending, and do not reuse.
      this.x = undefined;
      this.destroy();
      return;
    }
    this.x = undefined;
    this.resume();
    const reusable = this.parser.reusable && !this.closeAfter && this.usable;
    this.owner.released(this, reusable);
  }

  // Socket events.

  private onData(chunk: Buffer): void {
    const err = this.parser.execute(chunk);
    if (err) this.fail(new UpstreamError('protocol', err.message), false);
  }

  private onError(err: Error): void {
    this.fail(new UpstreamError('reset', `upstream connection error: ${err.message}`), true);
  }

  private onClose(): void {
    if (!this.closed) this.fail(new UpstreamError('reset', 'upstream connection closed'), true);
  }

  private onDrain(): void {
    if (this.source && this.source.isPaused()) this.source.resume();
  }

  /** The socket's read side ended. */
  private onSocketEnd(): void {
    const x = this.x;
    if (!x) return this.destroy();
    const err = this.parser.finish();
    if (!err) {
      // A close-delimited body ended (onEnd ran) or nothing was in progress.
      if (!this.closed) this.destroy();
      return;
    }
    this.fail(new UpstreamError('reset', `upstream: ${err.detail}`), true);
  }

  /**
   * The connection is unusable: the exchange on it fails (before the head: rejected, or sent again once
   * if it may be; after: its body errors) and the connection is dropped.
   */
  private fail(err: UpstreamError, closedByPeer: boolean, aborted = false): void {
    const x = this.x;
    this.x = undefined;
    if (x && !x.responseDone) {
      if (!x.head) {
        const again =
          closedByPeer && this.reused && !this.parser.received && x.replayable && !x.retried && !x.settled;
        this.destroy();
        if (again && this.owner.retry(x)) return;
        x.reject(err);
        return;
      }
      x.responseDone = true;
      this.destroy();
      // An abort by the caller ends the body without an error (the caller knows why).
      x.body!.destroy(aborted ? undefined : err);
      return;
    }
    this.destroy();
  }

  // The streamed request body.

  private onSourceData(chunk: Buffer): void {
    const x = this.x;
    if (!x || this.closed) return;
    const s = this.socket;
    let ok: boolean;
    if (x.framing.kind === 'chunked') {
      if (chunk.length === 0) return;
      s.cork();
      s.write(Buffer.from(chunkHeader(chunk.length), 'latin1'));
      s.write(chunk);
      ok = s.write(CRLF);
      s.uncork();
    } else {
      this.sent += chunk.length;
      const limit = x.framing.kind === 'length' ? x.framing.length : 0;
      if (this.sent > limit) {
        this.fail(new UpstreamError('reset', `request body longer than its content-length ${limit}`), false);
        return;
      }
      ok = s.write(chunk);
    }
    if (!ok) this.source!.pause();
  }

  private onSourceEnd(): void {
    const x = this.x;
    this.detachSource();
    if (!x || this.closed) return;
    if (x.framing.kind === 'chunked') this.socket.write(LAST_CHUNK);
    else if (x.framing.kind === 'length' && this.sent !== x.framing.length) {
      this.fail(new UpstreamError('reset', `request body shorter than its content-length`), false);
      return;
    }
    x.requestDone = true;
  }

  private onSourceClose(): void {
    const src = this.source;
    if (!src || src.readableEnded) return;
    // The client went away in the middle of its body: the upstream request cannot be completed.
    this.fail(new UpstreamError('reset', 'the downstream request body was cut short'), false);
  }

  private detachSource(): void {
    const src = this.source;
    if (!src) return;
    this.source = undefined;
    src.removeListener('data', this.onSourceData);
    src.removeListener('end', this.onSourceEnd);
    src.removeListener('close', this.onSourceClose);
  }
}
