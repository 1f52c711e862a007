import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http2';
import * as C from './constants.js';
import { HpackDecoder, encodeHeaders, type HeaderList, type HpackError } from './hpack.js';
import { H2Stream } from './stream.js';
import { validateHeaders } from './validate.js';

export interface H2SessionOptions {
  /** Our SETTINGS_INITIAL_WINDOW_SIZE (per-stream receive window). */
  streamWindow: number;
  /** Our connection receive window (raised with a WINDOW_UPDATE on stream 0 at the start). */
  connectionWindow: number;
  /** Our SETTINGS_MAX_FRAME_SIZE (largest frame we accept). */
  maxFrameSize: number;
  /** Our SETTINGS_MAX_CONCURRENT_STREAMS (server: streams the peer may open). */
  maxConcurrentStreams?: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE (advertised; the server answers 431 past it). */
  maxHeaderListSize: number;
  /**
   * The caller reads the socket itself (net's `onread`, one reused buffer) and hands the bytes over
   * with `onRead`; the session does not listen to 'data'.
   */
  externalReads?: boolean;
}

const R_PREFACE = 0;
const R_HEADER = 1;
const R_PAYLOAD = 2;
const R_DATA_PAD = 3;
const R_DATA_BODY = 4;
const R_DATA_SKIP = 5;

/** Largest raw header block (HEADERS + CONTINUATION) we buffer before giving up on the peer. */
const MAX_HEADER_BLOCK = 256 * 1024;
/** Bytes queued on the socket past which stream writes wait for its 'drain'. */
const SOCKET_FULL = 512 * 1024;
/** Outgoing frames are written into slabs: the first one this big, doubling up to SLAB_MAX. */
const SLAB_MIN = 4 * 1024;
const SLAB_MAX = 256 * 1024;
/** DATA payloads up to this size are copied into the slab; larger ones are written as they are. */
const COPY_MAX = 16 * 1024;

type PingCb = (err: Error | null, durationMs?: number) => void;

/**
 * A minimal HTTP/2 endpoint (RFC 9113) for CONNECT tunnels, directly on a (TLS) socket: the connection
 * preface, SETTINGS, HEADERS/CONTINUATION with HPACK, DATA with flow control on both the connection and
 * each stream, WINDOW_UPDATE, PING, RST_STREAM and GOAWAY. A peer that breaks the protocol gets GOAWAY
 * (connection errors) or RST_STREAM (stream errors) with the RFC's code; it never throws.
 *
 * Events: 'stream' (server: stream, headers), 'remoteSettings' (first SETTINGS from the peer),
 * 'goaway' (code, lastStreamId), 'close'.
 */
export class H2Session extends EventEmitter {
  readonly socket: Duplex;
  readonly isServer: boolean;
  readonly streams = new Map<number, H2Stream>();
  closed = false;
  destroyed = false;
  /** Why we sent GOAWAY with an error, or the peer's GOAWAY code (for logs). */
  lastError: string | undefined = undefined;
  private readonly o: H2SessionOptions;
  private readonly decoder: HpackDecoder;
  // Peer settings.
  private peerInitialWindow = C.DEFAULT_WINDOW;
  private peerMaxFrame = C.DEFAULT_MAX_FRAME;
  private peerMaxConcurrent = Infinity;
  // Connection flow control.
  private sendWindow = C.DEFAULT_WINDOW;
  private recvWindow = C.DEFAULT_WINDOW;
  private recvDebt = 0;
  private readonly blocked = new Set<H2Stream>();
  private readonly drainWaiters: H2Stream[] = [];
  // Stream ids.
  private nextStreamId: number;
  private lastPeerStreamId = 0;
  private goawayReceived = false;
  private goawaySent = false;
  // Reader state.
  private rstate: number;
  private have = 0;
  private readonly hdr = Buffer.allocUnsafe(9);
  private fLen = 0;
  private fType = 0;
  private fFlags = 0;
  private fStream = 0;
  private payload: Buffer | undefined = undefined;
  private dataStream: H2Stream | undefined = undefined;
  private dataLeft = 0;
  private padLeft = 0;
  private sawSettings = false;
  private contStream = 0;
  private contFlags = 0;
  private contParts: Buffer[] = [];
  private contSize = 0;
  // Writer state.
  private slab = Buffer.allocUnsafe(SLAB_MIN);
  private slabUsed = 0;
  private flushedTo = 0;
  private flushScheduled = false;
  /** Slab writes the socket has not completed yet (after that, TLS has encrypted what they held). */
  private writesInFlight = 0;
  private readonly pings: Array<{ cb: PingCb; at: number }> = [];
  private endTimer: NodeJS.Timeout | undefined = undefined;

  constructor(socket: Duplex, isServer: boolean, opts: H2SessionOptions) {
    super();
    this.socket = socket;
    this.isServer = isServer;
    this.o = opts;
    this.decoder = new HpackDecoder(4096);
    this.nextStreamId = isServer ? 2 : 1;
    this.rstate = isServer ? R_PREFACE : R_HEADER;
    this.onData = this.onData.bind(this);
    this.onRead = this.onRead.bind(this);
    this.onSocketClose = this.onSocketClose.bind(this);
    this.onDrain = this.onDrain.bind(this);
    this.flushOut = this.flushOut.bind(this);
    this.onSlabWritten = this.onSlabWritten.bind(this);
    if (!opts.externalReads) socket.on('data', this.onData);
    socket.on('close', this.onSocketClose);
    socket.on('error', this.onSocketClose);
    socket.on('drain', this.onDrain);
    if (!isServer) {
      const at = this.reserve(C.PREFACE.length);
      C.PREFACE.copy(this.slab, at);
    }
    this.sendSettings();
    if (opts.connectionWindow > C.DEFAULT_WINDOW) {
      this.frameUint32(C.FRAME_WINDOW_UPDATE, 0, 0, opts.connectionWindow - C.DEFAULT_WINDOW);
      this.recvWindow = opts.connectionWindow;
    }
  }

  /** The ALPN protocol of the TLS socket underneath ('h2'). */
  get alpnProtocol(): string | undefined {
    const p = (this.socket as Duplex & { alpnProtocol?: string | false }).alpnProtocol;
    return p || undefined;
  }

  /** Client: opens a stream with a request HEADERS (never END_STREAM: a CONNECT tunnel). */
  request(headers: Record<string, string>): H2Stream {
    if (this.closed || this.destroyed || this.goawayReceived)
      throw new Error('the HTTP/2 connection is closing and takes no new streams');
    if (this.streams.size >= this.peerMaxConcurrent)
      throw new Error(`the peer allows at most ${this.peerMaxConcurrent} concurrent streams`);
    if (this.nextStreamId > C.MAX_WINDOW) throw new Error('stream ids are exhausted on this connection');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s = new H2Stream(this, id, this.peerInitialWindow, this.o.streamWindow, true);
    this.streams.set(id, s);
    this.sendHeaders(s, headers, false);
    return s;
  }

  /** Sends PING; `cb` runs with the round trip once the ACK is back (or an error if the connection goes). */
  ping(cb: PingCb): boolean {
    if (this.destroyed) return false;
    this.pings.push({ cb, at: performance.now() });
    const p = this.frame(C.FRAME_PING, 0, 0, 8);
    p.fill(0);
    return true;
  }

  /** Graceful close: GOAWAY(NO_ERROR), no new streams, the connection ends when its streams have. */
  close(): void {
    if (this.closed || this.destroyed) return;
    this.closed = true;
    this.sendGoaway(C.NO_ERROR, '');
    if (this.streams.size === 0) this.endSocket();
  }

  /** Closes the connection now; open streams are reset. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.onReset(C.CANCEL);
    this.socket.destroy();
  }

  // ---------------------------------------------------------------- writing

  /**
   * Room for `n` bytes at the end of the current slab; a new slab when it is full (what was gathered
   * in the old one is written first, so the order on the wire holds).
   */
  private reserve(n: number): number {
    if (this.slabUsed + n > this.slab.length) {
      this.flushOut();
      // Once every write is complete nothing refers to the slab any more: start it over rather than
      // allocate another (a fresh ArrayBuffer per slab was a large share of the GC work).
      const size = Math.max(n, Math.min(SLAB_MAX, this.slab.length * 2));
      if (this.writesInFlight !== 0 || size > this.slab.length) this.slab = Buffer.allocUnsafe(size);
      this.slabUsed = 0;
      this.flushedTo = 0;
    }
    const at = this.slabUsed;
    this.slabUsed += n;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushOut);
    }
    return at;
  }

  /** A frame of `len` payload bytes in the slab; the caller fills the payload it returns. */
  private frame(type: number, flags: number, sid: number, len: number): Buffer {
    const at = this.reserve(9 + len);
    writeHeader(this.slab, len, type, flags, sid, at);
    return this.slab.subarray(at + 9, at + 9 + len);
  }

  private frameUint32(type: number, flags: number, sid: number, v: number): void {
    this.frame(type, flags, sid, 4).writeUInt32BE(v >>> 0, 0);
  }

  /**
   * Frames are gathered in the slab (payloads copied: TLS would copy a gathered write anyway) and
   * leave as one contiguous buffer, one TLS write, per turn.
   */
  private flushOut(): void {
    this.flushScheduled = false;
    if (this.slabUsed === this.flushedTo) return;
    const region = this.slab.subarray(this.flushedTo, this.slabUsed);
    this.flushedTo = this.slabUsed;
    if (!this.destroyed && !this.socket.writableEnded) {
      this.writesInFlight++;
      this.socket.write(region, this.onSlabWritten);
    }
  }

  private onSlabWritten(): void {
    this.writesInFlight--;
  }

  private sendSettings(): void {
    const list: Array<[number, number]> = [
      [C.SETTINGS_INITIAL_WINDOW_SIZE, this.o.streamWindow],
      [C.SETTINGS_MAX_FRAME_SIZE, this.o.maxFrameSize],
      [C.SETTINGS_MAX_HEADER_LIST_SIZE, this.o.maxHeaderListSize],
    ];
    if (!this.isServer) list.push([C.SETTINGS_ENABLE_PUSH, 0]);
    if (this.o.maxConcurrentStreams !== undefined)
      list.push([C.SETTINGS_MAX_CONCURRENT_STREAMS, this.o.maxConcurrentStreams]);
    const p = this.frame(C.FRAME_SETTINGS, 0, 0, 6 * list.length);
    list.forEach(([id, v], i) => {
      p.writeUInt16BE(id, 6 * i);
      p.writeUInt32BE(v, 6 * i + 2);
    });
  }

  sendHeaders(s: H2Stream, headers: Record<string, string | number>, endStream: boolean): void {
    const fields: Array<[string, string]> = [];
    for (const k in headers) if (k[0] === ':') fields.push([k, String(headers[k])]);
    for (const k in headers) if (k[0] !== ':') fields.push([k.toLowerCase(), String(headers[k])]);
    const block = encodeHeaders(fields);
    let off = 0;
    let type = C.FRAME_HEADERS;
    do {
      const n = Math.min(block.length - off, this.peerMaxFrame);
      const last = off + n === block.length;
      let flags = last ? C.FLAG_END_HEADERS : 0;
      if (type === C.FRAME_HEADERS && endStream) flags |= C.FLAG_END_STREAM;
      block.copy(this.frame(type, flags, s.id, n), 0, off, off + n);
      off += n;
      type = C.FRAME_CONTINUATION;
    } while (off < block.length);
  }

  sendEndStream(s: H2Stream): void {
    this.frame(C.FRAME_DATA, C.FLAG_END_STREAM, s.id, 0);
  }

  sendRstStream(id: number, code: number): void {
    this.frameUint32(C.FRAME_RST_STREAM, 0, id, code);
  }

  private sendGoaway(code: number, debug: string): void {
    if (this.goawaySent && code === C.NO_ERROR) return;
    this.goawaySent = true;
    const dbg = Buffer.from(debug);
    const p = this.frame(C.FRAME_GOAWAY, 0, 0, 8 + dbg.length);
    p.writeUInt32BE(this.lastPeerStreamId, 0);
    p.writeUInt32BE(code, 4);
    dbg.copy(p, 8);
  }

  /** Sends as much of the stream's pending write as the windows allow; completes it when all went out. */
  flushStream(s: H2Stream): void {
    const chunk = s.pending;
    if (!chunk) return;
    let off = s.pendingOffset;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, s.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (n <= 0) {
        s.pendingOffset = off;
        this.blocked.add(s);
        return;
      }
      if (n <= COPY_MAX) chunk.copy(this.frame(C.FRAME_DATA, 0, s.id, n), 0, off, off + n);
      else {
        // A large payload is not copied into the slab: header and payload leave in one gathered write.
        const at = this.reserve(9); // first: it may start a new slab
        writeHeader(this.slab, n, C.FRAME_DATA, 0, s.id, at);
        this.socket.cork();
        this.flushOut();
        this.socket.write(chunk.subarray(off, off + n));
        this.socket.uncork();
      }
      off += n;
      s.sendWindow -= n;
      this.sendWindow -= n;
    }
    this.blocked.delete(s);
    const cb = s.pendingCb!;
    s.pending = undefined;
    s.pendingCb = undefined;
    if (this.socket.writableLength >= SOCKET_FULL) {
      s.drainCb = cb;
      this.drainWaiters.push(s);
    } else cb();
  }

  private onDrain(): void {
    const list = this.drainWaiters.splice(0);
    for (const s of list) {
      const cb = s.drainCb;
      s.drainCb = undefined;
      if (cb) cb();
    }
  }

  private flushBlocked(): void {
    for (const s of this.blocked) {
      if (this.sendWindow <= 0) return;
      this.flushStream(s);
    }
  }

  /**
   * Gives back receive window for what the stream's reader consumed: to the connection at once (so
   * streams holding unread data never starve the others), to the stream in steps of half its window.
   */
  consumed(s: H2Stream): void {
    const unread = s.readableLength + s.inboxBytes + s.accUsed;
    const conn = s.connDebt - unread;
    if (conn > 0) {
      s.connDebt -= conn;
      this.connectionCredit(conn);
    }
    const back = s.recvDebt - unread;
    if (back < this.o.streamWindow / 2 || back <= 0 || s.remoteClosed) return;
    s.recvDebt -= back;
    s.recvWindow += back;
    this.frameUint32(C.FRAME_WINDOW_UPDATE, 0, s.id, back);
  }

  private connectionCredit(n: number): void {
    this.recvDebt += n;
    if (this.recvDebt >= this.o.connectionWindow / 2) {
      const back = this.recvDebt;
      this.recvDebt = 0;
      this.recvWindow += back;
      this.frameUint32(C.FRAME_WINDOW_UPDATE, 0, 0, back);
    }
  }

  streamClosed(s: H2Stream): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    this.blocked.delete(s);
    // Window held by data the reader never took goes back to the connection.
    const unread = s.connDebt;
    s.connDebt = 0;
    if (unread > 0 && !this.destroyed) this.connectionCredit(unread);
    if (this.closed && this.streams.size === 0) this.endSocket();
  }

  private endSocket(): void {
    if (this.endTimer || this.destroyed) return;
    this.flushOut();
    this.socket.end();
    this.endTimer = setTimeout(() => this.destroy(), 1000);
    this.endTimer.unref();
  }

  /** A connection error: GOAWAY with `code`, every stream reset, the socket closed. */
  private fail(code: number, why: string): void {
    if (this.destroyed || this.dead) return;
    this.dead = true;
    this.lastError = `${C.errorName(code)}: ${why}`;
    this.sendGoaway(code, why.slice(0, 200));
    this.closed = true;
    for (const s of [...this.streams.values()]) s.onReset(code);
    this.rstate = R_HEADER;
    this.socket.off('data', this.onData);
    this.endSocket();
  }

  /** A stream error: RST_STREAM with `code`; the connection and its other streams go on. */
  private streamError(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s) s.close(code);
    else this.sendRstStream(id, code);
  }

  private onSocketClose(): void {
    if (this.endTimer) clearTimeout(this.endTimer);
    if (!this.destroyed) {
      this.destroyed = true;
      this.closed = true;
      for (const s of [...this.streams.values()]) s.onReset(C.CANCEL);
    }
    const err = new Error('the HTTP/2 connection closed');
    for (const p of this.pings.splice(0)) p.cb(err);
    if (!this.emittedClose) {
      this.emittedClose = true;
      this.emit('close');
    }
  }
  private emittedClose = false;
  /** A connection error was sent: nothing more is read. */
  private dead = false;

  // ---------------------------------------------------------------- reading

  /**
   * Bytes read into a buffer the socket reuses for its next read (net's `onread` option): what the
   * session keeps past this call (DATA payloads) is copied out. Node's TLS socket otherwise hands each
   * read over in a fresh 64 KiB ArrayBuffer, whatever its size, and that churn of external memory was
   * what drove this path's frequent full GCs.
   */
  onRead(n: number, buf: Buffer): void {
    if (this.dead || this.destroyed) return;
    this.reusedReads = true;
    this.onData(n === buf.length ? buf : buf.subarray(0, n));
  }
  private reusedReads = false;

  /** With `externalReads`, falls back to reading through 'data' events. */
  readFromEvents(): void {
    this.socket.on('data', this.onData);
  }

  private onData(chunk: Buffer): void {
    let p = 0;
    const n = chunk.length;
    while (p < n) {
      switch (this.rstate) {
        case R_PREFACE: {
          while (p < n && this.have < 24) {
            if (chunk[p] !== C.PREFACE[this.have]) {
              this.fail(C.PROTOCOL_ERROR, 'the connection did not start with the HTTP/2 client preface');
              return;
            }
            p++;
            this.have++;
          }
          if (this.have === 24) {
            this.have = 0;
            this.rstate = R_HEADER;
          }
          break;
        }
        case R_HEADER: {
          const take = Math.min(9 - this.have, n - p);
          chunk.copy(this.hdr, this.have, p, p + take);
          p += take;
          this.have += take;
          if (this.have === 9) {
            this.have = 0;
            this.onFrameHeader();
          }
          break;
        }
        case R_PAYLOAD: {
          if (this.have === 0 && n - p >= this.fLen) {
            const payload = chunk.subarray(p, p + this.fLen);
            p += this.fLen;
            this.rstate = R_HEADER;
            this.onFrame(payload);
          } else {
            if (!this.payload) this.payload = Buffer.allocUnsafe(this.fLen);
            const take = Math.min(this.fLen - this.have, n - p);
            chunk.copy(this.payload, this.have, p, p + take);
            p += take;
            this.have += take;
            if (this.have === this.fLen) {
              const payload = this.payload;
              this.payload = undefined;
              this.have = 0;
              this.rstate = R_HEADER;
              this.onFrame(payload);
            }
          }
          break;
        }
        case R_DATA_PAD: {
          const pad = chunk[p++]!;
          if (pad > this.fLen - 1) {
            this.fail(C.PROTOCOL_ERROR, 'DATA padding is longer than the frame');
            return;
          }
          this.dataLeft = this.fLen - 1 - pad;
          this.padLeft = pad;
          this.rstate = R_DATA_BODY;
          if (this.dataLeft === 0) this.afterDataBody();
          break;
        }
        case R_DATA_BODY: {
          const take = Math.min(this.dataLeft, n - p);
          const s = this.dataStream;
          if (s) {
            if (this.reusedReads) s.pushCopy(chunk, p, p + take, this.dataLeft);
            else s.pushData(chunk.subarray(p, p + take));
          }
          p += take;
          this.dataLeft -= take;
          if (this.dataLeft === 0) this.afterDataBody();
          break;
        }
        case R_DATA_SKIP: {
          const take = Math.min(this.padLeft, n - p);
          p += take;
          this.padLeft -= take;
          if (this.padLeft === 0) this.endData();
          break;
        }
      }
      if (this.dead) return;
    }
  }

  private afterDataBody(): void {
    if (this.padLeft > 0) this.rstate = R_DATA_SKIP;
    else this.endData();
  }

  private endData(): void {
    this.rstate = R_HEADER;
    const s = this.dataStream;
    this.dataStream = undefined;
    if (!s) return;
    if (this.fFlags & C.FLAG_END_STREAM) s.remoteEnd();
    else s.deliver();
  }

  private onFrameHeader(): void {
    const h = this.hdr;
    const len = (h[0]! << 16) | (h[1]! << 8) | h[2]!;
    const type = h[3]!;
    const flags = h[4]!;
    const sid = h.readUInt32BE(5) & 0x7fffffff;
    this.fLen = len;
    this.fType = type;
    this.fFlags = flags;
    this.fStream = sid;
    if (len > this.o.maxFrameSize) {
      return this.failHard(
        C.FRAME_SIZE_ERROR,
        `a frame of ${len} bytes is over our maximum of ${this.o.maxFrameSize}`,
      );
    }
    if (!this.sawSettings && type !== C.FRAME_SETTINGS) {
      return this.failHard(C.PROTOCOL_ERROR, 'the first frame from the peer was not SETTINGS');
    }
    if (this.contStream !== 0 && (type !== C.FRAME_CONTINUATION || sid !== this.contStream)) {
      return this.failHard(C.PROTOCOL_ERROR, 'a header block was interrupted before END_HEADERS');
    }
    if (type !== C.FRAME_DATA) {
      this.rstate = R_PAYLOAD;
      if (len === 0) {
        this.rstate = R_HEADER;
        this.onFrame(EMPTY);
      }
      return;
    }
    // DATA: flow control counts the whole frame, padding included.
    if (sid === 0) return this.failHard(C.PROTOCOL_ERROR, 'DATA on stream 0');
    if (len > this.recvWindow) {
      return this.failHard(C.FLOW_CONTROL_ERROR, 'DATA beyond the connection flow-control window');
    }
    this.recvWindow -= len;
    let s = this.streams.get(sid);
    if (!s) {
      if (this.isIdle(sid)) return this.failHard(C.PROTOCOL_ERROR, `DATA on idle stream ${sid}`);
      this.sendRstStream(sid, C.STREAM_CLOSED);
      this.connectionCredit(len);
    } else if (s.remoteClosed) {
      this.streamError(sid, C.STREAM_CLOSED);
      s = undefined;
      this.connectionCredit(len);
    } else if (len > s.recvWindow) {
      this.streamError(sid, C.FLOW_CONTROL_ERROR);
      s = undefined;
      this.connectionCredit(len);
    } else {
      s.recvWindow -= len;
      s.recvDebt += len;
      s.connDebt += len;
    }
    this.dataStream = s;
    if (flags & C.FLAG_PADDED) {
      if (len === 0) return this.failHard(C.FRAME_SIZE_ERROR, 'padded DATA frame without a pad length');
      this.rstate = R_DATA_PAD;
    } else {
      this.dataLeft = len;
      this.padLeft = 0;
      this.rstate = R_DATA_BODY;
      if (len === 0) this.endData();
    }
  }

  private failHard(code: number, why: string): void {
    this.fail(code, why);
  }

  /** A stream id the peer could still open (or we could), i.e. one no frame has named yet. */
  private isIdle(sid: number): boolean {
    const peerInitiated = (sid & 1) === (this.isServer ? 1 : 0);
    return peerInitiated ? sid > this.lastPeerStreamId : sid >= this.nextStreamId;
  }

  private onFrame(p: Buffer): void {
    const sid = this.fStream;
    const flags = this.fFlags;
    switch (this.fType) {
      case C.FRAME_HEADERS: {
        if (sid === 0) return this.failHard(C.PROTOCOL_ERROR, 'HEADERS on stream 0');
        let off = 0;
        let pad = 0;
        if (flags & C.FLAG_PADDED) {
          if (p.length < 1) return this.failHard(C.FRAME_SIZE_ERROR, 'HEADERS too short');
          pad = p[0]!;
          off = 1;
        }
        if (flags & C.FLAG_PRIORITY) off += 5;
        if (off + pad > p.length)
          return this.failHard(C.PROTOCOL_ERROR, 'HEADERS padding is longer than the frame');
        const frag = p.subarray(off, p.length - pad);
        if (flags & C.FLAG_END_HEADERS) return this.onHeaderBlock(sid, flags, frag);
        this.contStream = sid;
        this.contFlags = flags;
        this.contParts = [Buffer.from(frag)];
        this.contSize = frag.length;
        return;
      }
      case C.FRAME_CONTINUATION: {
        if (this.contStream === 0 || sid !== this.contStream)
          return this.failHard(C.PROTOCOL_ERROR, 'CONTINUATION without a header block in progress');
        this.contSize += p.length;
        if (this.contSize > MAX_HEADER_BLOCK)
          return this.failHard(C.ENHANCE_YOUR_CALM, `header block over ${MAX_HEADER_BLOCK} bytes`);
        this.contParts.push(Buffer.from(p));
        if (flags & C.FLAG_END_HEADERS) {
          const block = Buffer.concat(this.contParts);
          this.contParts = [];
          this.contStream = 0;
          this.onHeaderBlock(sid, this.contFlags, block);
        }
        return;
      }
      case C.FRAME_PRIORITY:
        if (sid === 0) return this.failHard(C.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (p.length !== 5) this.streamError(sid, C.FRAME_SIZE_ERROR);
        return;
      case C.FRAME_RST_STREAM: {
        if (sid === 0) return this.failHard(C.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
        if (p.length !== 4) return this.failHard(C.FRAME_SIZE_ERROR, 'RST_STREAM length is not 4');
        if (this.isIdle(sid)) return this.failHard(C.PROTOCOL_ERROR, `RST_STREAM on idle stream ${sid}`);
        this.streams.get(sid)?.onReset(p.readUInt32BE(0));
        return;
      }
      case C.FRAME_SETTINGS:
        return this.onSettings(p, flags, sid);
      case C.FRAME_PUSH_PROMISE:
        return this.failHard(C.PROTOCOL_ERROR, 'PUSH_PROMISE (push is disabled)');
      case C.FRAME_PING: {
        if (sid !== 0) return this.failHard(C.PROTOCOL_ERROR, 'PING on a stream');
        if (p.length !== 8) return this.failHard(C.FRAME_SIZE_ERROR, 'PING length is not 8');
        if (flags & C.FLAG_ACK) {
          const w = this.pings.shift();
          if (w) w.cb(null, performance.now() - w.at);
        } else p.copy(this.frame(C.FRAME_PING, C.FLAG_ACK, 0, 8));
        return;
      }
      case C.FRAME_GOAWAY: {
        if (sid !== 0) return this.failHard(C.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (p.length < 8) return this.failHard(C.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 bytes');
        const last = p.readUInt32BE(0) & 0x7fffffff;
        const code = p.readUInt32BE(4);
        this.goawayReceived = true;
        this.closed = true;
        if (code !== C.NO_ERROR)
          this.lastError = `peer GOAWAY ${C.errorName(code)}: ${p.toString('utf8', 8)}`;
        for (const s of [...this.streams.values()]) {
          // Streams we opened that the peer never processed are refused (the caller may retry them).
          if ((s.id & 1) === (this.isServer ? 0 : 1) && s.id > last) s.onReset(C.REFUSED_STREAM);
        }
        this.emit('goaway', code, last);
        if (this.streams.size === 0) this.endSocket();
        return;
      }
      case C.FRAME_WINDOW_UPDATE: {
        if (p.length !== 4) return this.failHard(C.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length is not 4');
        const inc = p.readUInt32BE(0) & 0x7fffffff;
        if (sid === 0) {
          if (inc === 0) return this.failHard(C.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0 on the connection');
          if (this.sendWindow + inc > C.MAX_WINDOW)
            return this.failHard(C.FLOW_CONTROL_ERROR, 'connection window over 2^31-1');
          this.sendWindow += inc;
          this.flushBlocked();
          return;
        }
        if (this.isIdle(sid)) return this.failHard(C.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${sid}`);
        const s = this.streams.get(sid);
        if (!s) return;
        if (inc === 0) return this.streamError(sid, C.PROTOCOL_ERROR);
        if (s.sendWindow + inc > C.MAX_WINDOW) return this.streamError(sid, C.FLOW_CONTROL_ERROR);
        s.sendWindow += inc;
        if (s.pending) this.flushStream(s);
        return;
      }
      default:
        return; // unknown frame types are ignored (RFC 9113 section 4.1)
    }
  }

  private onSettings(p: Buffer, flags: number, sid: number): void {
    if (sid !== 0) return this.failHard(C.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & C.FLAG_ACK) {
      if (p.length !== 0) return this.failHard(C.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (p.length % 6 !== 0)
      return this.failHard(C.FRAME_SIZE_ERROR, 'SETTINGS length is not a multiple of 6');
    for (let i = 0; i < p.length; i += 6) {
      const id = p.readUInt16BE(i);
      const v = p.readUInt32BE(i + 2);
      switch (id) {
        case C.SETTINGS_ENABLE_PUSH:
          if (v > 1) return this.failHard(C.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH is not 0 or 1');
          if (v === 1 && this.isServer === false)
            return this.failHard(C.PROTOCOL_ERROR, 'a server sent SETTINGS_ENABLE_PUSH 1');
          break;
        case C.SETTINGS_MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrent = v;
          break;
        case C.SETTINGS_INITIAL_WINDOW_SIZE: {
          if (v > C.MAX_WINDOW)
            return this.failHard(C.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1');
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const s of this.streams.values()) {
            if (s.sendWindow + delta > C.MAX_WINDOW)
              return this.failHard(C.FLOW_CONTROL_ERROR, 'a stream window went over 2^31-1');
            s.sendWindow += delta;
          }
          break;
        }
        case C.SETTINGS_MAX_FRAME_SIZE:
          if (v < C.DEFAULT_MAX_FRAME || v > C.MAX_FRAME_LIMIT)
            return this.failHard(C.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${v} is out of range`);
          this.peerMaxFrame = v;
          break;
        default:
          break; // HEADER_TABLE_SIZE does not matter to an encoder that never indexes; others are ignored
      }
    }
    this.frame(C.FRAME_SETTINGS, C.FLAG_ACK, 0, 0);
    for (const s of this.streams.values()) if (s.pending) this.flushStream(s);
    if (!this.sawSettings) {
      this.sawSettings = true;
      this.emit('remoteSettings');
    }
  }

  private onHeaderBlock(sid: number, flags: number, block: Buffer): void {
    let list: HeaderList;
    try {
      list = this.decoder.decode(block, 1024 * 1024).headers;
    } catch (err) {
      return this.failHard(C.COMPRESSION_ERROR, `bad HPACK header block: ${(err as HpackError).message}`);
    }
    const endStream = (flags & C.FLAG_END_STREAM) !== 0;
    const s = this.streams.get(sid);
    if (s) {
      if (s.remoteClosed) return this.streamError(sid, C.STREAM_CLOSED);
      if (!this.isServer && !s.headersReceived) {
        const v = validateHeaders(list, false);
        if (typeof v === 'string') return this.streamError(sid, C.PROTOCOL_ERROR);
        const status = Number(v[':status']);
        if (status >= 100 && status < 200) {
          if (endStream) this.streamError(sid, C.PROTOCOL_ERROR);
          return;
        }
        s.onResponse(v);
      } else if (!endStream) {
        return this.streamError(sid, C.PROTOCOL_ERROR); // trailers must end the stream
      }
      if (endStream) s.remoteEnd();
      return;
    }
    if (!this.isServer || (sid & 1) === 0) {
      if (this.isIdle(sid) || (sid & 1) === 0)
        return this.failHard(C.PROTOCOL_ERROR, `HEADERS on stream ${sid}, which the peer may not open`);
      return this.streamError(sid, C.STREAM_CLOSED);
    }
    if (sid <= this.lastPeerStreamId)
      return this.failHard(C.STREAM_CLOSED, `HEADERS on closed stream ${sid}`);
    this.lastPeerStreamId = sid;
    if (this.closed) return this.sendRstStream(sid, C.REFUSED_STREAM);
    if (this.streams.size >= (this.o.maxConcurrentStreams ?? Infinity)) {
      return this.sendRstStream(sid, C.REFUSED_STREAM);
    }
    const v = validateHeaders(list, true);
    if (typeof v === 'string') {
      this.lastError = `malformed request on stream ${sid}: ${v}`;
      return this.sendRstStream(sid, C.PROTOCOL_ERROR);
    }
    const ns = new H2Stream(this, sid, this.peerInitialWindow, this.o.streamWindow, false);
    ns.headersReceived = true;
    this.streams.set(sid, ns);
    if (endStream) ns.remoteEnd();
    this.emit('stream', ns, v);
  }
}

const EMPTY = Buffer.alloc(0);

function writeHeader(b: Buffer, len: number, type: number, flags: number, sid: number, at = 0): void {
  b[at] = (len >>> 16) & 0xff;
  b[at + 1] = (len >>> 8) & 0xff;
  b[at + 2] = len & 0xff;
  b[at + 3] = type;
  b[at + 4] = flags;
  b.writeUInt32BE(sid, at + 5);
}

export type { IncomingHttpHeaders };
