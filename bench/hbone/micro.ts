/**
 * Micro-benchmark of one HBONE two-hop path in ONE process (client, proxy A, proxy B and an echo server
 * on one event loop, real TLS and TCP on loopback): CPU µs per 1 KiB round trip and per bulk MB, read
 * from process.cpuUsage(). Less exposed to a shared machine's noise than the multi-process benchmark
 * (no scheduling between processes), so it tells apart two versions of the hot path in a few seconds.
 * Round-trip latency percentiles too: in one process a GC pause shows up in every round trip it holds.
 * Usage: node dist/bench/hbone/micro.js [node|own] [--round-trips N] [--conns N] [--bulk-mb N] [--reps N]
 */
import net, { type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HbonePool } from '../../src/hbone/pool.js';
import { HboneServer } from '../../src/hbone/server.js';
import { CertSlot } from '../../src/hbone/credentials.js';
import { relayFromStream, relayToTcp } from '../../src/hbone/relay.js';
import type { HboneImpl } from '../../src/hbone/settings.js';
import { loadCredentials, spiffeOf, writeMaterials } from './materials.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'round-trips': { type: 'string', default: '20000' },
    conns: { type: 'string', default: '4' },
    'bulk-mb': { type: 'string', default: '256' },
    reps: { type: 'string', default: '3' },
  },
});
const impl = (positionals[0] ?? 'own') as HboneImpl;
const MSG = 1024;

const dir = mkdtempSync(join(tmpdir(), 'hbone-micro-'));
writeMaterials(dir);

// Echo server: echoes ping-pong bytes; a connection whose first byte is 'B' is a sink that answers
// with one byte at its end.
const echo = net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => {
  let sink = -1;
  let got = 0;
  s.on('error', () => undefined);
  s.on('data', (c: Buffer) => {
    if (sink === -1) sink = c[0] === 0x42 ? 1 : 0;
    if (sink === 1) got += c.length;
    else s.write(c);
  });
  s.on('end', () => (sink === 1 ? s.end(String(got)) : s.end()));
});
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
const echoPort = (echo.address() as AddressInfo).port;

const hb = new HboneServer({
  impl,
  certs: new CertSlot(loadCredentials(dir, 'b')),
  onRequest: (req) => relayToTcp(req, () => undefined),
});
const { port: bPort } = await hb.listen(0, '127.0.0.1');
const pool = new HbonePool({ impl });
const source = loadCredentials(dir, 'a');
const proxyA = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
  sock.on('error', () => undefined);
  relayFromStream(
    sock,
    pool,
    {
      source,
      host: '127.0.0.1',
      port: bPort,
      expectedIdentities: [spiffeOf('b')],
      target: `127.0.0.1:${echoPort}`,
      forwarded: 'for="127.0.0.1"',
    },
    () => undefined,
  );
});
await new Promise<void>((r) => proxyA.listen(0, '127.0.0.1', r));
const aPort = (proxyA.address() as AddressInfo).port;

/** Round-trip times of the current measurement, in ms. */
let rtts: number[] = [];

function pingPong(n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: aPort, host: '127.0.0.1', noDelay: true });
    const msg = Buffer.alloc(MSG, 0x61);
    let left = n;
    let got = 0;
    let sentAt = 0;
    s.on('error', reject);
    s.on('connect', () => {
      sentAt = performance.now();
      s.write(msg);
    });
    s.on('data', (c: Buffer) => {
      got += c.length;
      while (got >= MSG) {
        got -= MSG;
        const now = performance.now();
        rtts.push(now - sentAt);
        sentAt = now;
        if (--left === 0) {
          s.end();
          resolve();
          return;
        }
        s.write(msg);
      }
    });
  });
}

function bulk(bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: aPort, host: '127.0.0.1', noDelay: true });
    const chunk = Buffer.alloc(64 * 1024, 0x42);
    let sent = 0;
    let answer = '';
    s.on('error', reject);
    const more = (): void => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!s.write(chunk)) return;
      }
      s.end();
    };
    s.on('drain', more);
    s.on('connect', more);
    s.on('data', (c: Buffer) => (answer += c.toString()));
    s.on('end', () => {
      if (Number(answer) !== sent) reject(new Error(`bulk: sent ${sent}, server got ${answer}`));
      else resolve();
    });
  });
}

async function measure(fn: () => Promise<void>): Promise<{ cpuUs: number; wallMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { cpuUs: c.user + c.system, wallMs: performance.now() - t0 };
}

const rt = Number(values['round-trips']);
const conns = Number(values.conns);
const mb = Number(values['bulk-mb']);
await pingPong(500); // warm-up: JIT, pooled connection
await bulk(8 * 1024 * 1024);
const pct = (sorted: number[], q: number): string =>
  (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(3);
for (let rep = 0; rep < Number(values.reps); rep++) {
  rtts = [];
  const p = await measure(() =>
    Promise.all(Array.from({ length: conns }, () => pingPong(Math.ceil(rt / conns)))).then(() => undefined),
  );
  const sorted = rtts.sort((x, y) => x - y);
  const b = await measure(() => bulk(mb * 1024 * 1024));
  process.stdout.write(
    `${impl} rep ${rep + 1}: round trip ${(p.cpuUs / rt).toFixed(1)} µs CPU (${((rt / p.wallMs) * 1000).toFixed(0)}/s, ` +
      `p50 ${pct(sorted, 0.5)} p99 ${pct(sorted, 0.99)} p99.9 ${pct(sorted, 0.999)} ms), ` +
      `bulk ${(b.cpuUs / 1000 / mb).toFixed(2)} ms CPU/MB (${(mb / (b.wallMs / 1000)).toFixed(0)} MB/s)\n`,
  );
}
pool.close();
await hb.close();
proxyA.close();
echo.close();
rmSync(dir, { recursive: true, force: true });
