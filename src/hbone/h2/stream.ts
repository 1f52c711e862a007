import { Duplex } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http2';
import { CANCEL, NO_ERROR, errorName } from './constants.js';
import type { H2Session } from './session.js';

/** A DATA frame larger than this reaches the reader in pieces of about this size. */
const DELIVER_AT = 64 * 1024;

type WriteCb = (err?: Error | null) => void;

/**
 * One HTTP/2 stream of an `H2Session` (a CONNECT tunnel) as a Duplex: what the peer sends in DATA
 * frames is readable, what is written goes out in DATA frames within the peer's flow-control windows.
 * It has the parts of node's Http2Stream that HBONE uses (`rstCode`, `close(code)`, `respond`,
 * `session`, the `response` event), so the byte pump and the request code take either.
 */
export class H2Stream extends Duplex {
  readonly id: number;
  readonly session: H2Session;
  /** The RST_STREAM code that closed the stream (NO_ERROR for a clean close); undefined while open. */
  rstCode: number | undefined = undefined;
  /** Our send window for this stream (what the peer still accepts). */
  sendWindow: number;
  /** What the peer may still send before our next WINDOW_UPDATE. */
  recvWindow: number;
  /** Bytes received and not yet given back with WINDOW_UPDATE. */
  recvDebt = 0;
  /** Bytes received and not yet given back to the connection's window. */
  connDebt = 0;
  /** DATA received this turn of the event loop, not yet handed to the reader. */
  readonly inbox: Buffer[] = [];
  inboxBytes = 0;
  /** DATA copied out of a reused read buffer, filling up to its frame's end or DELIVER_AT. */
  private acc: Buffer | undefined = undefined;
  accUsed = 0;
  /** END_STREAM received / sent; a final response (or request) HEADERS received. */
  remoteClosed = false;
  localClosed = false;
  headersReceived = false;
  headersSent: boolean;
  /** A write waiting for flow-control window or the socket: the chunk, how far it went, its callback. */
  pending: Buffer | undefined = undefined;
  pendingOffset = 0;
  pendingCb: WriteCb | undefined = undefined;
  /** The write callback held until the socket drains. */
  drainCb: WriteCb | undefined = undefined;
  /**
   * A direct reader (the byte pump): DATA goes to it as it arrives, past the `Readable` machinery
   * (no buffer, no nextTick per chunk). While it is paused, data waits in `inbox` and its window is
   * not given back, so HTTP/2 flow control holds the peer.
   */
  private sink: ((chunk: Buffer) => void) | undefined = undefined;
  private sinkPaused = false;
  /** END_STREAM arrived while the sink was paused with data in the inbox. */
  private endPending = false;
  /** Chunks written while another is being sent (`writeDirect` or `_write`), with their callbacks. */
  private readonly waitQ: Buffer[] = [];
  private readonly waitCbs: Array<WriteCb | undefined> = [];
  /** Bytes in `waitQ`. */
  queuedBytes = 0;
  /** The caller's callback for the chunk being sent. */
  private curCb: WriteCb | undefined = undefined;
  private sending = false;
  private needDrain = false;
  private finalCb: WriteCb | undefined = undefined;
  private resetSent = false;

  constructor(session: H2Session, id: number, sendWindow: number, recvWindow: number, headersSent: boolean) {
    super({ allowHalfOpen: true, writableHighWaterMark: 256 * 1024, readableHighWaterMark: 64 * 1024 });
    this.session = session;
    this.id = id;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
    this.headersSent = headersSent;
    this.onSent = this.onSent.bind(this);
  }

  /** Sends the response HEADERS (server side). With `endStream`, the stream ends after it. */
  respond(headers: Record<string, string | number>, opts?: { endStream?: boolean }): void {
    if (this.headersSent || this.destroyed) return;
    this.headersSent = true;
    const end = opts?.endStream === true;
    this.session.sendHeaders(this, headers, end);
    if (!end) return;
    this.localClosed = true;
    // A final answer: nothing the peer still sends matters (RFC 9113 section 8.1).
    if (this.remoteClosed) this.finish(NO_ERROR);
    else this.close(NO_ERROR);
  }

  /** Closes the stream now with RST_STREAM(code) (NO_ERROR by default), as node's Http2Stream.close. */
  close(code: number = NO_ERROR): void {
    if (this.destroyed) return;
    this.sendReset(code);
    this.finish(code);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: WriteCb): void {
    if (this.localClosed || this.rstCode !== undefined) {
      cb();
      return;
    }
    this.send(chunk, cb);
  }

  /**
   * Writes past the `Writable` machinery (no state machine, no nextTick per chunk), for the byte pump.
   * Only while nothing waits in the `Writable` buffer (`writableLength` 0), so order holds. Returns
   * false when the chunk has to wait (flow-control window or a full socket); 'drain' follows.
   */
  writeDirect(chunk: Buffer): boolean {
    if (this.localClosed || this.rstCode !== undefined || this.destroyed) return true;
    if (this.send(chunk, undefined)) return true;
    this.needDrain = true;
    return false;
  }

  /** Sends `chunk` now, or queues it behind the one being sent. True when it went out at once. */
  private send(chunk: Buffer, cb: WriteCb | undefined): boolean {
    if (this.pending !== undefined || this.drainCb !== undefined) {
      this.waitQ.push(chunk);
      this.waitCbs.push(cb);
      this.queuedBytes += chunk.length;
      return false;
    }
    this.pending = chunk;
    this.pendingOffset = 0;
    this.curCb = cb;
    this.pendingCb = this.onSent;
    this.session.flushStream(this);
    return this.pending === undefined && this.drainCb === undefined;
  }

  /** The chunk being sent went out: its callback, then the next queued one. */
  private onSent(): void {
    const cb = this.curCb;
    this.curCb = undefined;
    if (cb) cb();
    if (this.sending) return; // the loop below runs further up the stack
    this.sending = true;
    while (
      this.pending === undefined &&
      this.drainCb === undefined &&
      this.waitQ.length > 0 &&
      !this.destroyed
    ) {
      const next = this.waitQ.shift()!;
      this.queuedBytes -= next.length;
      this.pending = next;
      this.pendingOffset = 0;
      this.curCb = this.waitCbs.shift();
      this.pendingCb = this.onSent;
      this.session.flushStream(this);
    }
    this.sending = false;
    if (this.pending !== undefined || this.drainCb !== undefined || this.waitQ.length > 0) return;
    const fin = this.finalCb;
    if (fin) {
      this.finalCb = undefined;
      this.doFinal(fin);
    }
    if (this.needDrain) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  override _final(cb: WriteCb): void {
    if (this.pending !== undefined || this.drainCb !== undefined || this.waitQ.length > 0) {
      this.finalCb = cb; // END_STREAM goes after what is still queued
      return;
    }
    this.doFinal(cb);
  }

  private doFinal(cb: WriteCb): void {
    if (!this.localClosed && this.rstCode === undefined) {
      this.localClosed = true;
      this.session.sendEndStream(this);
    }
    cb();
    if (this.remoteClosed && this.readableEnded) this.finish(NO_ERROR);
  }

  /**
   * Hands the stream's incoming data to `fn` instead of 'data' events (the byte pump's fast path).
   * Only before any data was read; the stream must still be resumed for 'end' to be emitted.
   */
  attachSink(fn: (chunk: Buffer) => void): boolean {
    if (this.sink || this.readableLength > 0 || this.listenerCount('data') > 0) return false;
    this.sink = fn;
    return true;
  }

  pauseSink(): void {
    this.sinkPaused = true;
  }

  resumeSink(): void {
    if (!this.sinkPaused) return;
    this.sinkPaused = false;
    this.deliver();
    if (this.endPending) {
      this.endPending = false;
      this.endReadable();
    }
    this.session.consumed(this);
  }

  override _read(): void {
    this.session.consumed(this);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.rstCode === undefined) {
      const clean = this.localClosed && this.remoteClosed;
      this.rstCode = clean ? NO_ERROR : CANCEL;
      if (!clean) this.sendReset(CANCEL);
    }
    const cbs = [this.curCb, ...this.waitCbs, this.finalCb];
    this.pending = undefined;
    this.pendingCb = undefined;
    this.drainCb = undefined;
    this.curCb = undefined;
    this.finalCb = undefined;
    this.waitQ.length = 0;
    this.waitCbs.length = 0;
    this.queuedBytes = 0;
    this.sink = undefined;
    this.session.streamClosed(this);
    for (const c of cbs) if (c) c();
    cb(err);
  }

  /**
   * Called by the session: data from a DATA frame. TLS hands data over one 16 KiB record at a time;
   * the pieces of one frame are gathered and handed on at its end (`deliver`, or every 64 KiB of a
   * larger frame), so the reader gets (and writes to its TCP socket) one chunk per frame, not per record.
   */
  pushData(data: Buffer): void {
    if (this.destroyed) return;
    this.inbox.push(data);
    this.inboxBytes += data.length;
    if (this.inboxBytes >= DELIVER_AT) this.deliver();
  }

  /**
   * Called by the session: DATA bytes `src[from, to)` from a read buffer that will be reused, copied
   * into one buffer per frame (or per DELIVER_AT of a larger frame); `frameLeft` counts this piece too.
   */
  pushCopy(src: Buffer, from: number, to: number, frameLeft: number): void {
    while (from < to && !this.destroyed) {
      let acc = this.acc;
      if (acc === undefined) {
        acc = this.acc = Buffer.allocUnsafe(Math.min(frameLeft, DELIVER_AT));
        this.accUsed = 0;
      }
      const k = Math.min(to - from, acc.length - this.accUsed);
      src.copy(acc, this.accUsed, from, from + k);
      this.accUsed += k;
      from += k;
      frameLeft -= k;
      if (this.accUsed === acc.length) {
        this.acc = undefined;
        this.accUsed = 0;
        this.pushData(acc);
      }
    }
  }

  /** Hands what was gathered to the reader. */
  deliver(): void {
    if (this.inboxBytes === 0 || this.destroyed) return;
    const sink = this.sink;
    if (sink && this.sinkPaused) return;
    const data = this.inbox.length === 1 ? this.inbox[0]! : Buffer.concat(this.inbox, this.inboxBytes);
    this.inbox.length = 0;
    this.inboxBytes = 0;
    if (sink) sink(data);
    else this.push(data);
    this.session.consumed(this);
  }

  /** Called by the session: END_STREAM from the peer. */
  remoteEnd(): void {
    if (this.remoteClosed) return;
    this.deliver();
    this.remoteClosed = true;
    if (this.sinkPaused && this.inboxBytes > 0) this.endPending = true;
    else this.endReadable();
  }

  private endReadable(): void {
    this.push(null);
    if (this.localClosed) this.once('end', () => this.finish(NO_ERROR));
  }

  /** Called by the session: RST_STREAM from the peer, or the connection went away. */
  onReset(code: number): void {
    if (this.destroyed) return;
    this.resetSent = true; // never answer a reset with a reset
    this.finish(code);
  }

  /** Called by the session: response HEADERS (client side). */
  onResponse(headers: IncomingHttpHeaders): void {
    this.headersReceived = true;
    this.emit('response', headers);
  }

  private sendReset(code: number): void {
    if (this.resetSent) return;
    this.resetSent = true;
    if (this.localClosed && this.remoteClosed && code === NO_ERROR) return;
    this.session.sendRstStream(this.id, code);
  }

  /**
   * Ends the stream. As node's Http2Stream, a reset with an error code (other than CANCEL) surfaces as
   * an 'error' (code ERR_HTTP2_STREAM_ERROR) on this side.
   */
  private finish(code: number): void {
    if (this.rstCode === undefined) this.rstCode = code;
    if (code === NO_ERROR || code === CANCEL) this.destroy();
    else {
      const err = new Error(`Stream closed with error code ${errorName(code)}`) as Error & { code: string };
      err.code = 'ERR_HTTP2_STREAM_ERROR';
      this.destroy(err);
    }
  }
}
