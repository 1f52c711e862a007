/**
 * The load generator of `meshctl bench`, run INSIDE the client pod's network namespace (through
 * `meshctl exec`), so its traffic takes the pod's real path (captured by ztunnel when ambient).
 * Prints one JSON line on stdout.
 *
 *   rate: HTTP/1.1 GET /bytes/1024 at a fixed rate over N keep-alive connections, open loop: each
 *         request has a due time (t0 + i/rate) and its latency counts from then, so a stall counts
 *         against every request it held up (no coordinated omission). Latencies in µs, raw.
 *   bulk: one connection, GET /bytes/<chunk> back to back for the duration: bytes/s received.
 *
 * Usage: node loadgen.js --mode rate|bulk --host IP --port N [--rate 1000 --conns 4 --seconds 5
 *        --warmup 1 --size 1024 --chunk 67108864]
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface RateOutput {
  mode: 'rate';
  sent: number;
  completed: number;
  errors: number;
  seconds: number;
  /**
   * Wall seconds from the first measured request's due time to the last completion: more than
   * `seconds` when the path could not keep up (the rate sweep's achieved rate is completed / this).
   */
  wallSeconds: number;
  /** Latency from the due time, µs, warm-up excluded, in completion order. */
  latencyUs: number[];
  /** Latency from the actual write, µs (what a closed-loop tool would report). */
  serviceUs: number[];
}

export interface BulkOutput {
  mode: 'bulk';
  bytes: number;
  seconds: number;
  errors: number;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

/** One keep-alive HTTP/1.1 connection that runs one request at a time and counts body bytes. */
class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private need = -1;
  private onDone: ((ok: boolean) => void) | undefined;
  readonly sock: net.Socket;
  busy = false;
  bodyBytes = 0;

  constructor(host: string, port: number) {
    this.sock = net.connect({ host, port, noDelay: true });
    this.sock.on('data', (d: Buffer) => this.data(d));
    this.sock.on('error', () => undefined);
    this.sock.on('close', () => this.finish(false));
  }

  request(path: string, done: (ok: boolean) => void): void {
    this.busy = true;
    this.onDone = done;
    this.need = -1;
    this.sock.write(`GET ${path} HTTP/1.1\r\nhost: echo\r\nuser-agent: meshlite-bench\r\n\r\n`);
  }

  private data(d: Buffer): void {
    if (this.need < 0) {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1');
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const ok = head.startsWith('HTTP/1.1 200');
      if (!m || !ok) return this.finish(false);
      this.need = Number(m[1]);
      d = this.buf.subarray(end + 4);
      this.buf = Buffer.alloc(0);
    }
    this.need -= d.length;
    this.bodyBytes += d.length;
    if (this.need <= 0) this.finish(true);
  }

  private finish(ok: boolean): void {
    const cb = this.onDone;
    this.onDone = undefined;
    this.busy = false;
    cb?.(ok);
  }
}

async function connectAll(conns: Conn[]): Promise<void> {
  await Promise.all(
    conns.map(
      (c) =>
        new Promise<void>((res, rej) => {
          c.sock.once('connect', () => res());
          c.sock.once('error', rej);
        }),
    ),
  );
}

export async function runRate(o: {
  host: string;
  port: number;
  rate: number;
  conns: number;
  seconds: number;
  warmup: number;
  size: number;
}): Promise<RateOutput> {
  const conns = Array.from({ length: o.conns }, () => new Conn(o.host, o.port));
  await connectAll(conns);
  const path = `/bytes/${o.size}`;
  const interval = 1000 / o.rate;
  const total = Math.round((o.seconds + o.warmup) * o.rate);
  const warm = Math.round(o.warmup * o.rate);
  const out: RateOutput = {
    mode: 'rate',
    sent: 0,
    completed: 0,
    errors: 0,
    seconds: o.seconds,
    wallSeconds: o.seconds,
    latencyUs: [],
    serviceUs: [],
  };
  const queue: Array<{ i: number; due: number }> = [];
  const t0 = performance.now() + 5;
  let next = 0;
  let settled = 0;
  let rr = 0;
  let last = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((r) => (finish = r));
  const dispatch = (): void => {
    while (queue.length > 0) {
      let c: Conn | undefined;
      for (let k = 0; k < conns.length && !c; k++) {
        const cand = conns[(rr + k) % conns.length]!;
        if (!cand.busy && !cand.sock.destroyed) c = cand;
      }
      if (!c) return;
      rr = (conns.indexOf(c) + 1) % conns.length;
      const r = queue.shift()!;
      const sentAt = performance.now();
      out.sent++;
      c.request(path, (ok) => {
        const now = performance.now();
        last = now;
        if (r.i >= warm) {
          if (ok) {
            out.completed++;
            out.latencyUs.push(Math.round((now - r.due) * 1000));
            out.serviceUs.push(Math.round((now - sentAt) * 1000));
          } else out.errors++;
        }
        if (++settled === total) finish();
        else dispatch();
      });
    }
  };
  const pump = (): void => {
    const now = performance.now();
    while (next < total && t0 + next * interval <= now) {
      queue.push({ i: next, due: t0 + next * interval });
      next++;
    }
    dispatch();
    if (next < total) setTimeout(pump, Math.max(0, t0 + next * interval - performance.now()));
  };
  setTimeout(pump, 5);
  const limit = setTimeout(finish, (o.seconds + o.warmup) * 1000 + 10_000);
  await done;
  clearTimeout(limit);
  out.errors += total - settled;
  out.wallSeconds = Math.max(1e-3, (last - (t0 + warm * interval)) / 1000);
  for (const c of conns) c.sock.destroy();
  return out;
}

export async function runBulk(o: {
  host: string;
  port: number;
  seconds: number;
  chunk: number;
}): Promise<BulkOutput> {
  const c = new Conn(o.host, o.port);
  await connectAll([c]);
  const start = performance.now();
  const end = start + o.seconds * 1000;
  let errors = 0;
  while (performance.now() < end) {
    const ok = await new Promise<boolean>((r) => c.request(`/bytes/${o.chunk}`, r));
    if (!ok) {
      errors++;
      break;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  c.sock.destroy();
  return { mode: 'bulk', bytes: c.bodyBytes, seconds, errors };
}

async function main(): Promise<void> {
  const host = arg('host', '127.0.0.1');
  const port = Number(arg('port', '8080'));
  const seconds = Number(arg('seconds', '5'));
  const result =
    arg('mode', 'rate') === 'bulk'
      ? await runBulk({ host, port, seconds, chunk: Number(arg('chunk', String(64 * 1024 * 1024))) })
      : await runRate({
          host,
          port,
          seconds,
          rate: Number(arg('rate', '1000')),
          conns: Number(arg('conns', '4')),
          warmup: Number(arg('warmup', '1')),
          size: Number(arg('size', '1024')),
        });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1]?.endsWith('loadgen.js')) {
  main().catch((err: unknown) => {
    process.stderr.write(`loadgen: ${String(err)}\n`);
    process.exit(1);
  });
}
