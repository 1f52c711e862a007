/**
 * The load generator's tests, on raw sockets with the tiny HTTP/1.1 of http1.ts: fixed-rate requests
 * (latency from the intended send time, no coordinated omission), new connections per second, and
 * a set of idle connections held open for the memory measurement.
 */
import net from 'node:net';
import { Samples } from '../hbone/stats.js';
import { ErrorLog, now, runFixedRate } from '../hbone/load-tests.js';
import { MessageSplitter, REQUEST, REQUEST_CLOSE } from './http1.js';
import type { Target, ZtLoadTest, ZtTestResult } from './protocol.js';
import { socks5Connect } from './socks5-client.js';

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
  const socks = await Promise.all(Array.from({ length: t.connections }, () => openWarm(t.target)));
  return runFixedRate(socks, t.rate, t.durationMs, REQUEST, () => {
    const parser = new MessageSplitter();
    return (chunk) => parser.push(chunk);
  });
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
  // With a reset, not a FIN: a clean close would leave every one of them in TIME_WAIT on the client pod's
  // address for a minute, and each later connect() bound to that address (the connection-rate test)
  // then searches past them for a free port: 10,000 of them cut that test's rate by a factor of 3 (the
  // load generator's own CPU, not the proxies').
  for (const s of held.splice(0)) s.resetAndDestroy();
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
