import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { constants as h2 } from 'node:http2';

/**
 * The one L4 byte pump: copies bytes both ways between two duplex streams (a TCP socket, an HTTP/2
 * CONNECT stream, a TLS socket) until both directions are done.
 *
 * - Half-close aware: when one side ends its sending direction (TCP FIN, HTTP/2 END_STREAM), the pump
 *   ends the other side's writing direction and keeps copying the opposite way.
 * - Backpressure through `write()`'s return value and `drain`: a slow reader pauses the fast writer, so
 *   memory per tunnel stays bounded by the streams' high-water marks.
 * - Abnormal close is propagated as a reset: a TCP RST becomes an HTTP/2 RST_STREAM(CONNECT_ERROR) and the
 *   other way round (`resetStream`).
 * - Byte counts per direction are reported once, at close.
 *
 * Hot-path shape: per tunnel, two `Direction` objects with handlers bound once; per chunk, one call and
 * one counter add. No closures or allocations per chunk.
 */
export interface PumpResult {
  /** Bytes read from `a` and written to `b`. */
  aToB: number;
  /** Bytes read from `b` and written to `a`. */
  bToA: number;
  /** The first error either side raised, if any. */
  error: Error | undefined;
  /** Which side closed abnormally first (and so caused a reset of the other), if either did. */
  abortedBy: 'a' | 'b' | undefined;
  durationMs: number;
}

export type PumpDone = (result: PumpResult) => void;

/** Resets a stream so the peer sees an error rather than a clean end: RST for TCP, RST_STREAM for HTTP/2. */
export function resetStream(stream: Duplex): void {
  if (stream.destroyed) return;
  if (stream instanceof Socket && stream.constructor === Socket) {
    // A TCP RST, unless our FIN is already on its way: libuv cannot reset a socket with a pending
    // shutdown (the handle is then never closed), and the peer has seen our end anyway.
    if (stream.writableEnded) stream.destroy();
    else stream.resetAndDestroy();
    return;
  }
  const maybeH2 = stream as Duplex & {
    close?: (code?: number) => void;
    rstCode?: number;
    _writableState?: { ending: boolean };
  };
  if (typeof maybeH2.close === 'function' && 'rstCode' in maybeH2) {
    // Node's Http2Stream.close(code) first ends the writable side (an END_STREAM the peer reads as a
    // clean half-close) and only then sends RST_STREAM. Marking the writable side as ending skips that
    // END_STREAM, so the peer sees only RST_STREAM(CONNECT_ERROR), as RFC 9113 section 8.5 asks.
    if (maybeH2._writableState && !maybeH2._writableState.ending) maybeH2._writableState.ending = true;
    maybeH2.close(h2.NGHTTP2_CONNECT_ERROR);
    return;
  }
  stream.destroy();
}

/** Bytes queued on the destination before the source is paused. */
const PAUSE_AT = 1024 * 1024;

/**
 * A chunk at least this large starts a burst: chunks that follow in the same event-loop turn go to a
 * TCP destination in one writev at the end of the turn (see Direction.onData). Smaller chunks (a
 * request, a response) are written at once, as before.
 */
const BURST_MIN = 4096;
const COALESCE = process.env.MESHLITE_PUMP_COALESCE !== '0';

/** An HTTP/2 stream closed by RST_STREAM with an error code (clean closes carry NO_ERROR). */
function wasReset(stream: Duplex): boolean {
  const code = (stream as Duplex & { rstCode?: number }).rstCode;
  return code !== undefined && code !== h2.NGHTTP2_NO_ERROR;
}

/**
 * A source that can hand its data to one function directly (HBONE's own HTTP/2 stream), skipping the
 * `Readable` buffer and its nextTick per chunk; pausing it holds the data (and, for HTTP/2, the peer).
 */
interface DirectSource {
  attachSink(fn: (chunk: Buffer) => void): boolean;
  pauseSink(): void;
  resumeSink(): void;
}

/** A destination that takes writes past the `Writable` state machine; false = wait for 'drain'. */
interface DirectSink {
  writeDirect(chunk: Buffer): boolean;
}

function directSource(s: Duplex): DirectSource | undefined {
  return typeof (s as Partial<DirectSource>).attachSink === 'function'
    ? (s as unknown as DirectSource)
    : undefined;
}

function directSink(s: Duplex): DirectSink | undefined {
  return typeof (s as Partial<DirectSink>).writeDirect === 'function'
    ? (s as unknown as DirectSink)
    : undefined;
}

class Direction {
  bytes = 0;
  /** The source's readable side ended cleanly (FIN / END_STREAM received). */
  ended = false;
  private readonly src: Duplex;
  private readonly dst: Duplex;
  /**
   * Node ends an HTTP/2 stream's readable side just before it reports an RST_STREAM, so for those a
   * FIN is passed on one turn later, once we know the end was not a reset.
   */
  private readonly deferEnd: boolean;
  /** The source's direct hand-over, when it has one and it was free to attach. */
  private directSrc: DirectSource | undefined = undefined;
  private readonly directDst: DirectSink | undefined;
  private paused = false;
  /** A TCP destination, whose writes in one turn can be gathered into one writev. */
  private readonly coalesce: boolean;
  /** Chunks held for the end-of-turn writev; undefined outside a burst. */
  private burst: Buffer[] | undefined = undefined;

  constructor(src: Duplex, dst: Duplex) {
    this.src = src;
    this.dst = dst;
    this.deferEnd = 'rstCode' in src;
    this.directDst = directSink(dst);
    this.coalesce = COALESCE && dst instanceof Socket && this.directDst === undefined;
    this.onData = this.onData.bind(this);
    this.flush = this.flush.bind(this);
    this.onDrain = this.onDrain.bind(this);
    this.onEnd = this.onEnd.bind(this);
    this.passEnd = this.passEnd.bind(this);
  }

  start(): void {
    const direct = directSource(this.src);
    if (direct?.attachSink(this.onData)) {
      this.directSrc = direct;
      this.src.on('end', this.onEnd);
      this.src.resume(); // no data flows through the Readable; this lets it emit 'end'
      return;
    }
    this.src.on('data', this.onData);
    this.src.on('end', this.onEnd);
  }

  onData(chunk: Buffer): void {
    this.bytes += chunk.length;
    const dd = this.directDst;
    if (dd !== undefined && this.dst.writableLength === 0) {
      // Past the Writable machinery; false means the chunk waits for window or socket: pause.
      if (!dd.writeDirect(chunk)) this.pause();
      return;
    }
    // An HTTP/2 source hands over one TLS read as several DATA pieces (8 KiB on average), each in its
    // own callback. Written one by one, each is a syscall that wakes the reader; in a burst the pieces
    // after the first wait for the end of the loop turn (setImmediate runs after every callback of this
    // poll) and leave in one writev.
    if (this.burst !== undefined) {
      this.burst.push(chunk);
      return;
    }
    // HTTP/2 streams have a 16 KiB write high-water mark that Node does not let us raise, so write()
    // says "full" after every 64 KiB read. Pausing only past PAUSE_AT keeps memory per tunnel bounded
    // while saving a pause/resume per chunk (+8% bulk throughput measured in bench/hbone).
    if (!this.dst.write(chunk) && this.dst.writableLength >= PAUSE_AT) this.pause();
    else if (this.coalesce && chunk.length >= BURST_MIN) {
      this.burst = [];
      setImmediate(this.flush);
    }
  }

  /** Writes the chunks gathered since the burst began, in one writev. */
  flush(): void {
    const burst = this.burst;
    this.burst = undefined;
    if (burst === undefined || burst.length === 0 || this.dst.destroyed || this.dst.writableEnded) return;
    if (burst.length === 1) this.dst.write(burst[0]);
    else {
      this.dst.cork();
      for (const c of burst) this.dst.write(c);
      this.dst.uncork();
    }
    if (this.dst.writableLength >= PAUSE_AT) this.pause();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    if (this.directSrc) this.directSrc.pauseSink();
    else this.src.pause();
    this.dst.once('drain', this.onDrain);
  }

  onDrain(): void {
    this.paused = false;
    if (this.directSrc) this.directSrc.resumeSink();
    else this.src.resume();
  }

  onEnd(): void {
    this.ended = true;
    if (this.deferEnd) setImmediate(this.passEnd);
    else this.passEnd();
  }

  passEnd(): void {
    if (this.src.errored || wasReset(this.src)) return;
    this.flush();
    if (!this.dst.destroyed && !this.dst.writableEnded) this.dst.end();
  }
}

export class BytePump {
  private readonly a: Duplex;
  private readonly b: Duplex;
  private readonly ab: Direction;
  private readonly ba: Direction;
  private readonly done: PumpDone;
  private readonly startedAt = performance.now();
  private closedA = false;
  private closedB = false;
  private error: Error | undefined;
  private abortedBy: 'a' | 'b' | undefined;
  private finished = false;
  private erroredA = false;
  private erroredB = false;

  constructor(a: Duplex, b: Duplex, done: PumpDone) {
    this.a = a;
    this.b = b;
    this.done = done;
    this.ab = new Direction(a, b);
    this.ba = new Direction(b, a);
    this.onErrorA = this.onErrorA.bind(this);
    this.onErrorB = this.onErrorB.bind(this);
    this.onCloseA = this.onCloseA.bind(this);
    this.onCloseB = this.onCloseB.bind(this);
    a.on('error', this.onErrorA);
    b.on('error', this.onErrorB);
    a.on('close', this.onCloseA);
    b.on('close', this.onCloseB);
    this.ab.start();
    this.ba.start();
    // A side that was already gone before the pump started behaves as if it closed now.
    if (a.destroyed) queueMicrotask(this.onCloseA);
    if (b.destroyed) queueMicrotask(this.onCloseB);
  }

  /** Tears down both sides with resets (used by policy changes and drain deadlines). */
  abort(reason?: Error): void {
    if (reason && !this.error) this.error = reason;
    resetStream(this.a);
    resetStream(this.b);
  }

  get bytesAToB(): number {
    return this.ab.bytes;
  }

  get bytesBToA(): number {
    return this.ba.bytes;
  }

  private onErrorA(err: Error): void {
    this.erroredA = true;
    if (!this.error) this.error = err;
  }

  private onErrorB(err: Error): void {
    this.erroredB = true;
    if (!this.error) this.error = err;
  }

  private onCloseA(): void {
    if (this.closedA) return;
    this.closedA = true;
    if (this.erroredA || wasReset(this.a) || !(this.ab.ended && this.a.writableFinished)) {
      this.abortedBy ??= 'a';
      resetStream(this.b);
    }
    this.maybeFinish();
  }

  private onCloseB(): void {
    if (this.closedB) return;
    this.closedB = true;
    if (this.erroredB || wasReset(this.b) || !(this.ba.ended && this.b.writableFinished)) {
      this.abortedBy ??= 'b';
      resetStream(this.a);
    }
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || !this.closedA || !this.closedB) return;
    this.finished = true;
    this.done({
      aToB: this.ab.bytes,
      bToA: this.ba.bytes,
      error: this.error,
      abortedBy: this.abortedBy,
      durationMs: performance.now() - this.startedAt,
    });
  }
}

/** Starts a pump between `a` and `b`; `done` runs once both are closed. */
export function pump(a: Duplex, b: Duplex, done: PumpDone): BytePump {
  return new BytePump(a, b, done);
}
