// HBONE's own HTTP/2 framer (HBONE_IMPL=own) against node:http2 both ways and against an independent
// stack, Python's h2 (Debian python3-h2), as client and as server: flow control with payloads larger
// than the windows, half-close, resets both ways, many concurrent streams.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import { HboneServer } from '../../../src/hbone/server.js';
import { HbonePool } from '../../../src/hbone/pool.js';
import { CertSlot, type Credentials } from '../../../src/hbone/credentials.js';
import { relayToTcp } from '../../../src/hbone/relay.js';
import { resetStream } from '../../../src/common/pump.js';
import type { HboneImpl } from '../../../src/hbone/settings.js';
import type { HboneStream } from '../../../src/hbone/connection.js';
import { TestPki, uri, echoServer, collect, until } from './fixtures.js';

const PEER = fileURLToPath(new URL('../../../../test/peers/h2_peer.py', import.meta.url));
const PYTHON = '/usr/bin/python3';
const SMALL = 65_535; // the RFC's initial windows: every payload below is larger

const pki = new TestPki();
const serverCreds = pki.credentials('default', 'echo');
const clientCreds = pki.credentials('default', 'curl');
const echo = await echoServer();
let upstreamErr: NodeJS.ErrnoException | undefined;
const resetter = net.createServer({ allowHalfOpen: true }, (s) => {
  s.on('error', (e) => (upstreamErr = e));
  s.once('data', (d) => {
    if (d.toString() === 'reset-me') s.resetAndDestroy();
  });
});
resetter.listen(0, '127.0.0.1');
await once(resetter, 'listening');
const resetPort = (resetter.address() as net.AddressInfo).port;

const dir = mkdtempSync(join(tmpdir(), 'h2-interop-'));
const files = (name: string, c: Credentials): { cert: string; key: string; ca: string } => {
  const f = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), ca: join(dir, 'ca.crt') };
  writeFileSync(f.cert, c.chainPem.join('\n'));
  writeFileSync(f.key, c.keyPem);
  writeFileSync(f.ca, c.rootsPem.join('\n'));
  return f;
};

const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
  echo.server.close();
  resetter.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(impl: HboneImpl, windows = SMALL): Promise<{ server: HboneServer; port: number }> {
  const server = new HboneServer({
    impl,
    certs: new CertSlot(serverCreds),
    streamWindow: windows,
    connectionWindow: windows,
    onRequest: (req) => relayToTcp(req, () => {}, { host: '127.0.0.1', port: req.target.port }),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanup.push(() => server.close());
  return { server, port };
}

function newPool(impl: HboneImpl, windows = SMALL, maxStreamsPerConnection = 100): HbonePool {
  const pool = new HbonePool({
    impl,
    streamWindow: windows,
    connectionWindow: windows,
    maxStreamsPerConnection,
  });
  cleanup.push(() => pool.close());
  return pool;
}

function open(pool: HbonePool, port: number, targetPort = echo.port): Promise<HboneStream> {
  return pool.connect({
    source: clientCreds,
    host: '127.0.0.1',
    port,
    expectedIdentities: [uri('default', 'echo')],
    target: `10.0.0.2:${targetPort}`,
  });
}

const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Sends `payload` and half-closes; resolves with the echo (the tunnel's far side ends after us). */
async function roundTrip(stream: HboneStream, payload: Buffer): Promise<Buffer> {
  const back = collect(stream);
  stream.end(payload);
  return back;
}

/** The checks every client/server pairing must pass. */
async function exercise(clientImpl: HboneImpl, serverImpl: HboneImpl): Promise<void> {
  const { server, port } = await startServer(serverImpl);
  const pool = newPool(clientImpl, SMALL, 200);

  // Flow control: 8 concurrent tunnels of 1 MiB through 64 KiB stream and connection windows.
  const payloads = Array.from({ length: 8 }, () => randomBytes(1024 * 1024));
  const streams = await Promise.all(payloads.map(() => open(pool, port)));
  const echoes = await Promise.all(streams.map((s, i) => roundTrip(s, payloads[i]!)));
  echoes.forEach((e, i) => assert.equal(digest(e), digest(payloads[i]!), `tunnel ${i} intact`));
  assert.equal(pool.connectionCount, 1);

  // Many concurrent streams on one connection.
  const many = await Promise.all(Array.from({ length: 150 }, () => open(pool, port)));
  assert.equal(server.streamCount, 150);
  const answers = await Promise.all(many.map((s, i) => roundTrip(s, Buffer.from(`stream ${i}`))));
  answers.forEach((a, i) => assert.equal(a.toString(), `stream ${i}`));

  // Half-close the other way: the upstream ends first, the client can still send.
  const half = await open(pool, port);
  half.write('ping');
  const [first] = (await once(half, 'data')) as [Buffer];
  assert.equal(first.toString(), 'ping');
  const rest = collect(half);
  half.end('-more');
  assert.equal((await rest).toString(), '-more');

  // RST from the server side: the upstream resets, the client sees RST_STREAM(CONNECT_ERROR).
  const r1 = await open(pool, port, resetPort);
  r1.write('reset-me');
  const [err] = (await once(r1, 'error')) as [Error & { code?: string }];
  assert.equal(err.code, 'ERR_HTTP2_STREAM_ERROR');
  assert.equal(r1.rstCode, 10);

  // RST from the client side reaches the upstream as a TCP reset.
  upstreamErr = undefined;
  const r2 = await open(pool, port, resetPort);
  r2.on('error', () => {});
  r2.write('hello');
  await until(() => server.streamCount >= 1, 2000, 'the server to see the stream');
  await new Promise((r) => setTimeout(r, 30));
  resetStream(r2);
  await until(() => upstreamErr !== undefined, 3000, 'the upstream to see the reset');
  assert.equal(upstreamErr!.code, 'ECONNRESET');

  // The connection is still good for new tunnels after all that.
  assert.equal((await roundTrip(await open(pool, port), Buffer.from('still up'))).toString(), 'still up');
}

test('own client ↔ node:http2 server', () => exercise('own', 'node'));
test('node:http2 client ↔ own server', () => exercise('node', 'own'));
test('own client ↔ own server', () => exercise('own', 'own'));

function runPython(args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(PYTHON, [PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let errOut = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (errOut += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill(), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{'))
        reject(new Error(`python h2 client: exit ${code}: ${errOut || out}`));
      else resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

test('python h2 client → own server: 20 CONNECT streams of 300 KB each through 64 KiB windows, half-close, resets both ways', async () => {
  const { server, port } = await startServer('own');
  const f = files('client', clientCreds);
  const result = await runPython([
    'client',
    '127.0.0.1',
    String(port),
    f.cert,
    f.key,
    f.ca,
    `10.0.0.2:${echo.port}`,
    '20',
    '300000',
    `10.0.0.2:${resetPort}`,
  ]);
  assert.deepEqual(result, {
    streams: 20,
    intact: 20,
    statuses: ['200'],
    bytes: 20 * 300_000,
    cancelSent: true,
    resetCode: 10, // CONNECT_ERROR: the upstream reset
  });
  await until(() => server.streamCount === 0, 3000, 'the server to close every stream');
});

test('own client → python h2 server: 10 tunnels of 1 MiB, half-close, resets both ways, one connection', async () => {
  const f = files('server', serverCreds);
  const child: ChildProcess = spawn(PYTHON, [PEER, 'server', f.cert, f.key, f.ca], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.push(() => child.kill());
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(/listening (\d+)/.exec(line.toString())?.[1]);
  assert.ok(port > 0, `python server said: ${line.toString()}`);
  const pool = newPool('own', SMALL);

  const payloads = Array.from({ length: 10 }, () => randomBytes(1024 * 1024));
  const streams = await Promise.all(payloads.map(() => open(pool, port)));
  const echoes = await Promise.all(streams.map((s, i) => roundTrip(s, payloads[i]!)));
  echoes.forEach((e, i) => assert.equal(digest(e), digest(payloads[i]!), `tunnel ${i} intact`));

  const r1 = await open(pool, port);
  r1.write('reset-me');
  const [err] = (await once(r1, 'error')) as [Error & { code?: string }];
  assert.equal(err.code, 'ERR_HTTP2_STREAM_ERROR');
  assert.equal(r1.rstCode, 10);

  const r2 = await open(pool, port);
  r2.on('error', () => {});
  r2.write('x');
  await once(r2, 'data');
  resetStream(r2);
  assert.equal(r2.rstCode, 10);

  assert.equal((await roundTrip(await open(pool, port), Buffer.from('still up'))).toString(), 'still up');
  assert.equal(pool.connectionCount, 1);
});
