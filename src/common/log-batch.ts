/**
 * A log destination that writes at most once per interval: a line that comes while the previous write
 * is fresher than `intervalMs` waits (at most that long, or until 16 KiB gather) and goes out with the
 * others in one write. Quiet logs are written at once, as before; a per-request access log at
 * 1000 req/s becomes ~50 writes a second instead of 1000 (each write(2) through libuv's thread pool
 * cost the waypoint more CPU than the request's HTTP handling; bench/README.md, the waypoint section).
 * Whatever is held is written at exit.
 */
import { pino } from 'pino';

/**
 * The interval of the processes with a per-request access log (waypoint, sidecar, ingress gateway):
 * lines wait at most this long under load.
 */
export const ACCESS_LOG_BATCH_MS = 20;

/** Held bytes that trigger a write at once (SonicBoom writes at most 16 KiB per call). */
const MAX_HELD = 16 * 1024;

type Sink = { write(s: string): boolean; flush?(cb?: (err?: Error) => void): void };

export class BatchedDestination {
  private held = '';
  private last = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private readonly sink: Sink;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flush();
  };

  constructor(
    dest: number | Sink,
    private readonly intervalMs: number,
  ) {
    // Registered before pino's own exit hook (made with the destination below), so held lines reach
    // the destination before pino flushes it synchronously.
    const drain = (): void => void this.flush();
    process.on('beforeExit', drain);
    process.on('exit', drain);
    this.sink = typeof dest === 'number' ? pino.destination({ dest, sync: false }) : dest;
  }

  write(line: string): boolean {
    const now = performance.now();
    if (this.held === '' && now - this.last >= this.intervalMs) {
      this.last = now;
      return this.sink.write(line);
    }
    this.held += line;
    if (this.held.length >= MAX_HELD) return this.flush();
    this.timer ??= setTimeout(this.onTimer, Math.max(1, this.last + this.intervalMs - now)).unref();
    return true;
  }

  /** Writes what is held now; `cb` (pino's `logger.flush(cb)`) once the destination has it all. */
  flush(cb?: (err?: Error) => void): boolean {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    let ok = true;
    if (this.held !== '') {
      const s = this.held;
      this.held = '';
      this.last = performance.now();
      ok = this.sink.write(s);
    }
    if (cb) {
      if (this.sink.flush) this.sink.flush(cb);
      else cb();
    }
    return ok;
  }
}
