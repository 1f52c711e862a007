/**
 * The load generator's tests, on raw sockets with the tiny HTTP/1.1 of http1.ts: fixed-rate requests
 * (latency from the intended send time, no coordinated omission), new connections per second, and
 * a set of idle connections held open for the memory measurement.
 */
import net from 'node:net';
import { Samples } from '../hbone/stats.js';
import { MessageSplitter, REQUEST, REQUEST_CLOSE } from './http1.js';
import type { Target, ZtLoadTest, ZtTestResult } from './protocol.js';
import { socks5Connect } from './socks5-client.js';

const now = (): number => performance.now();

class ErrorLog {
  count = 0;
  first: string | undefined;
  add(err: unknown): void {
    this.count++;
    this.first ??= err instanceof Error ? err.message : String(err);
  }
}

/** A connection to the target, with the SOCKS5 handshake done when the target is a ztunnel. */
export function connect(t: Target): Promise<net.Socket> {
  if (t.via === 'socks5') return socks5Connect(t);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: t.host, port: t.port, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Sends one request and waits for its response. */
function exchange(s: net.Socket, req: Buffer): Promise<void> {
  const parser = new MessageSplitter();
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      if (parser.push(d) === 0) return;
      s.off('data', onData);
      s.off('error', reject);
      s.off('close', onClose);
      resolve();
    };
    const onClose = (): void => reject(new Error('connection closed before the response'));
    s.on('data', onData);
    s.once('error', reject);
    s.once('close', onClose);
    s.write(req);
  });
}

/** A warm keep-alive connection (one request done, so any tunnel behind it is up). */
async function openWarm(t: Target): Promise<net.Socket> {
  const s = await connect(t);
  await exchange(s, REQUEST);
  return s;
}

async function fixedRate(t: Extract<ZtLoadTest, { kind: 'fixedRate' }>): Promise<ZtTestResult> {
  const errors = new ErrorLog();
  const socks = await Promise.all(Array.from({ length: t.connections }, () => openWarm(t.target)));
  const total = Math.max(1, Math.round((t.rate * t.durationMs) / 1000));
  const interval = 1000 / t.rate;
  const latency = new Samples(total);
  const service = new Samples(total);
  const perConn = Math.ceil(total / t.connections);
  const due = socks.map(() => new Float64Array(perConn));
  const sentAt = socks.map(() => new Float64Array(perConn));
  const head = socks.map(() => 0);
  let received = 0;
  let sent = 0;
  const start = now() + 5;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  socks.forEach((s, i) => {
    const parser = new MessageSplitter();
    s.on('error', (e) => errors.add(e));
    s.on('data', (chunk: Buffer) => {
      const at = now();
      for (let n = parser.push(chunk); n > 0; n--) {
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
      socks[i]!.write(REQUEST);
      sent++;
      next = start + sent * interval;
    }
    if (sent < total) setTimeout(tick, Math.max(0, next - now()));
  };
  setTimeout(tick, 5);
  const timeout = setTimeout(finish, t.durationMs + 10_000);
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

/** One new connection: connect (and SOCKS5), one `Connection: close` request, wait for the close. */
async function oneConnection(t: Target): Promise<void> {
  const s = await connect(t);
  try {
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    await exchange(s, REQUEST_CLOSE);
    await closed;
  } finally {
    s.destroy();
  }
}

async function connRate(t: Extract<ZtLoadTest, { kind: 'connRate' }>): Promise<ZtTestResult> {
  const errors = new ErrorLog();
  const latency = new Samples(1 << 14);
  const start = now();
  const loop = async (): Promise<void> => {
    while (now() - start < t.durationMs) {
      const t0 = now();
      try {
        await oneConnection(t.target);
        latency.push(now() - t0);
      } catch (err) {
        errors.add(err);
      }
    }
  };
  await Promise.all(Array.from({ length: t.workers }, loop));
  const elapsedMs = now() - start;
  return {
    kind: 'connRate',
    count: latency.length,
    errors: errors.count,
    firstError: errors.first,
    elapsedMs,
    latencyMs: latency.percentiles(),
    perSec: (latency.length * 1000) / elapsedMs,
  };
}

const held: net.Socket[] = [];

async function idleOpen(t: Extract<ZtLoadTest, { kind: 'idleOpen' }>): Promise<ZtTestResult> {
  const errors = new ErrorLog();
  const start = now();
  const BATCH = 50;
  for (let i = 0; i < t.count; i += BATCH) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(BATCH, t.count - i) }, () => openWarm(t.target)),
    );
    for (const r of batch) {
      if (r.status === 'fulfilled') {
        r.value.on('error', (e) => errors.add(e));
        held.push(r.value);
      } else errors.add(r.reason);
    }
  }
  const elapsedMs = now() - start;
  return {
    kind: 'idleOpen',
    count: held.length,
    errors: errors.count,
    firstError: errors.first,
    elapsedMs,
    perSec: (held.length * 1000) / elapsedMs,
  };
}

function idleClose(): ZtTestResult {
  const n = held.length;
  for (const s of held.splice(0)) s.destroy();
  return { kind: 'idleClose', count: n, errors: 0, elapsedMs: 0, perSec: 0 };
}

export async function runZtLoadTest(t: ZtLoadTest): Promise<ZtTestResult> {
  switch (t.kind) {
    case 'fixedRate':
      return fixedRate(t);
    case 'connRate':
      return connRate(t);
    case 'idleOpen':
      return idleOpen(t);
    case 'idleClose':
      return idleClose();
  }
}
