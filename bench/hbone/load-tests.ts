/**
 * The load generator's four tests, written against raw `net` sockets with `performance.now()` (a
 * monotonic high-resolution clock) so the generator stays light next to the proxies it measures.
 */
import net from 'node:net';
import { MESSAGE_SIZE, Mode, type LoadTest, type TestResult } from './protocol.js';
import { Samples } from './stats.js';

const request = Buffer.alloc(MESSAGE_SIZE, 0x71);
export const now = (): number => performance.now();

export class ErrorLog {
  count = 0;
  first: string | undefined;
  add(err: unknown): void {
    this.count++;
    this.first ??= err instanceof Error ? err.message : String(err);
  }
}

function open(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Opens a request/response connection and does one round trip, so any tunnel behind it is up. */
async function openRequestResponse(port: number): Promise<net.Socket> {
  const s = await open(port);
  s.write(Buffer.of(Mode.RequestResponse));
  s.write(request);
  await new Promise<void>((resolve, reject) => {
    let got = 0;
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got >= MESSAGE_SIZE) {
        s.off('data', onData);
        s.off('error', reject);
        resolve();
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
  return s;
}

/**
 * Open-loop load: requests are due at fixed intervals, round-robin over the connections, and each
 * latency is measured from when the request was due (not when it went out), so a stall anywhere
 * counts against every request it delayed (no coordinated omission).
 */
async function fixedRate(t: Extract<LoadTest, { kind: 'fixedRate' }>): Promise<TestResult> {
  const socks = await Promise.all(Array.from({ length: t.connections }, () => openRequestResponse(t.port)));
  return runFixedRate(socks, t.rate, t.durationMs, request, () => {
    let rx = 0;
    return (chunk) => {
      rx += chunk.length;
      const n = Math.floor(rx / MESSAGE_SIZE);
      rx -= n * MESSAGE_SIZE;
      return n;
    };
  });
}

/**
 * The open-loop engine shared by the benchmarks: `rate` requests/s round-robin over `socks` for
 * `durationMs`, each reply's latency counted from when its request was due (and, as service time, from
 * when it went out). `replies()` makes, per connection, a counter of the replies completed by a chunk.
 */
export async function runFixedRate(
  socks: net.Socket[],
  rate: number,
  durationMs: number,
  request: Buffer,
  replies: () => (chunk: Buffer) => number,
): Promise<TestResult & { kind: 'fixedRate' }> {
  const errors = new ErrorLog();
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const interval = 1000 / rate;
  const latency = new Samples(total);
  const service = new Samples(total);
  const perConn = Math.ceil(total / socks.length);
  const due = socks.map(() => new Float64Array(perConn));
  const sentAt = socks.map(() => new Float64Array(perConn));
  const head = socks.map(() => 0);
  let received = 0;
  let sent = 0;
  const start = now() + 5;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  socks.forEach((s, i) => {
    const count = replies();
    s.on('error', (e) => errors.add(e));
    s.on('data', (chunk: Buffer) => {
      const at = now();
      for (let n = count(chunk); n > 0; n--) {
        const k = head[i]!++;
        latency.push(at - due[i]![k]!);
        service.push(at - sentAt[i]![k]!);
        received++;
      }
      if (received === total) finish();
    });
  });
  const tick = (): void => {
    const t0 = now();
    let next = start + sent * interval;
    while (next <= t0 && sent < total) {
      const i = sent % socks.length;
      const k = Math.floor(sent / socks.length);
      due[i]![k] = next;
      sentAt[i]![k] = t0;
      socks[i]!.write(request);
      sent++;
      next = start + sent * interval;
    }
    if (sent < total) setTimeout(tick, Math.max(0, next - now()));
  };
  setTimeout(tick, 5);
  const timeout = setTimeout(finish, durationMs + 10_000);
  await finished;
  clearTimeout(timeout);
  const elapsedMs = now() - start;
  for (const s of socks) s.destroy();
  if (received < total) errors.add(new Error(`${total - received} of ${total} requests got no answer`));
  return {
    kind: 'fixedRate',
    count: received,
    errors: errors.count,
    firstError: errors.first,
    elapsedMs,
    latencyMs: latency.percentiles(),
    serviceMs: service.percentiles(),
    perSec: (received * 1000) / elapsedMs,
  };
}

async function closedLoop(t: Extract<LoadTest, { kind: 'closedLoop' }>): Promise<TestResult> {
  const errors = new ErrorLog();
  const s = await openRequestResponse(t.port);
  const latency = new Samples(1 << 16);
  let start = 0;
  let sentAt = 0;
  let rx = 0;
  let warm = 100; // round trips not measured
  await new Promise<void>((resolve) => {
    s.on('error', (e) => {
      errors.add(e);
      resolve();
    });
    s.on('data', (chunk: Buffer) => {
      rx += chunk.length;
      if (rx < MESSAGE_SIZE) return;
      rx -= MESSAGE_SIZE;
      const at = now();
      if (warm > 0) {
        if (--warm === 0) start = at;
      } else {
        latency.push(at - sentAt);
        if (at - start >= t.durationMs) {
          resolve();
          return;
        }
      }
      sentAt = now();
      s.write(request);
    });
    sentAt = now();
    s.write(request);
  });
  const elapsedMs = now() - start;
  s.destroy();
  return {
    kind: 'closedLoop',
    count: latency.length,
    errors: errors.count,
    firstError: errors.first,
    elapsedMs,
    latencyMs: latency.percentiles(),
    perSec: (latency.length * 1000) / elapsedMs,
  };
}

/**
 * One connection, one direction: writes as fast as backpressure allows for the duration, half-closes,
 * and stops the clock when the server reports how many bytes it received (all of them, or an error).
 */
async function bulk(t: Extract<LoadTest, { kind: 'bulk' }>): Promise<TestResult> {
  const errors = new ErrorLog();
  const chunk = Buffer.alloc(t.chunkSize, 0x62);
  const s = await open(t.port);
  s.write(Buffer.of(Mode.Sink));
  const start = now();
  let sent = 0;
  const reply: Buffer[] = [];
  const answered = new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => reply.push(d));
    s.on('end', resolve);
    s.on('error', (e) => {
      errors.add(e);
      resolve();
    });
  });
  const write = (): void => {
    while (now() - start < t.durationMs) {
      sent += chunk.length;
      if (!s.write(chunk)) {
        s.once('drain', write);
        return;
      }
    }
    s.end();
  };
  write();
  await answered;
  const elapsedMs = now() - start;
  s.destroy();
  const got = Buffer.concat(reply);
  const bytes = got.length === 8 ? Number(got.readBigUInt64BE()) : 0;
  if (bytes !== sent) errors.add(new Error(`the server received ${bytes} of ${sent} bytes`));
  return {
    kind: 'bulk',
    count: bytes,
    errors: errors.count,
    firstError: errors.first,
    elapsedMs,
    perSec: (bytes * 1000) / elapsedMs,
  };
}

/** One new connection: connect, one tiny round trip, half-close, wait for the server's close. */
function oneTunnel(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('error', reject);
    s.once('connect', () => s.write(Buffer.of(Mode.Ping, 0x21)));
    s.once('data', () => s.end());
    s.once('close', (hadError) => (hadError ? undefined : resolve()));
    s.resume();
  });
}

/** `workers` loops, each opening connections one after another, for the duration. */
async function tunnels(t: Extract<LoadTest, { kind: 'tunnels' }>): Promise<TestResult> {
  const errors = new ErrorLog();
  const latency = new Samples(1 << 14);
  const start = now();
  const worker = async (): Promise<void> => {
    while (now() - start < t.durationMs) {
      const t0 = now();
      try {
        await oneTunnel(t.port);
        latency.push(now() - t0);
      } catch (err) {
        errors.add(err);
      }
    }
  };
  await Promise.all(Array.from({ length: t.workers }, worker));
  const elapsedMs = now() - start;
  return {
    kind: 'tunnels',
    count: latency.length,
    errors: errors.count,
    firstError: errors.first,
    elapsedMs,
    latencyMs: latency.percentiles(),
    perSec: (latency.length * 1000) / elapsedMs,
  };
}

export function runLoadTest(t: LoadTest): Promise<TestResult> {
  switch (t.kind) {
    case 'fixedRate':
      return fixedRate(t);
    case 'closedLoop':
      return closedLoop(t);
    case 'bulk':
      return bulk(t);
    case 'tunnels':
      return tunnels(t);
  }
}
