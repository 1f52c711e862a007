import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import http2 from 'node:http2';
import { once } from 'node:events';
import { Registry } from 'prom-client';
import { HboneServer } from '../../../src/hbone/server.js';
import { HbonePool } from '../../../src/hbone/pool.js';
import { CertSlot, type Credentials } from '../../../src/hbone/credentials.js';
import { relayToTcp } from '../../../src/hbone/relay.js';
import { TestPki, uri, echoServer, until, captureLogger, sleep } from './fixtures.js';

// One server takes every kind of bad input while a long-lived tunnel on it keeps working.
const pki = new TestPki();
const echo = await echoServer();
const registry = new Registry();
const log = captureLogger();
const server = new HboneServer({
  certs: new CertSlot(pki.credentials('default', 'echo')),
  logger: log.logger,
  registry,
  handshakeTimeoutMs: 300,
  onRequest: (req) => relayToTcp(req, () => {}, { host: '127.0.0.1', port: echo.port }),
});
const { port } = await server.listen(0, '127.0.0.1');
const good = pki.credentials('default', 'curl');
const pool = new HbonePool();
const longLived = await pool.connect({
  source: good,
  host: '127.0.0.1',
  port,
  expectedIdentities: [uri('default', 'echo')],
  target: `10.0.0.2:${echo.port}`,
});
let longReceived = '';
longLived.on('data', (d: Buffer) => (longReceived += d.toString()));

after(async () => {
  // Every other tunnel kept working through all of the bad input.
  longLived.write('still-alive');
  await until(() => longReceived.endsWith('still-alive'), 3000, 'the long-lived tunnel to echo');
  longLived.end();
  pool.close();
  await server.close();
  echo.server.close();
});

async function refusedCount(reason: string): Promise<number> {
  const m = await registry.getSingleMetric('hbone_server_refused_total')!.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

function logged(fragment: string): boolean {
  return log.lines.some((l) => String(l.msg).includes(fragment));
}

/** Connects with raw TLS; resolves with how the connection ended. */
function rawTls(opts: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false,
      ...opts,
    });
    let state = 'open';
    s.on('secureConnect', () => (state = 'handshaken'));
    s.on('error', (e: Error & { code?: string }) => resolve(`error:${e.code ?? e.message}`));
    s.on('close', () => resolve(`closed-after:${state}`));
    s.resume();
  });
}

function credsOpts(c: Credentials): tls.ConnectionOptions {
  return { key: c.keyPem, cert: c.chainPem.join('\n') };
}

test('plain HTTP/1.1 on the HBONE port is refused and logged', async () => {
  const s = net.connect(port, '127.0.0.1');
  s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  s.resume();
  await once(s, 'close');
  await until(() => logged('did not speak TLS'), 2000, 'the not-TLS log line');
  assert.ok((await refusedCount('not_tls')) >= 1);
});

test('TLS without a client certificate is refused', async () => {
  const end = await rawTls({});
  assert.notEqual(end, 'closed-after:open-with-data');
  await until(() => logged('presented no certificate'), 2000, 'the no-certificate log line');
  assert.ok((await refusedCount('no_client_cert')) >= 1);
});

test('a certificate from another CA is refused', async () => {
  const stranger = new TestPki().credentials('default', 'curl');
  await rawTls(credsOpts(stranger));
  await until(() => logged('does not chain to the mesh trust bundle'), 2000, 'the untrusted-CA log line');
  assert.ok((await refusedCount('untrusted_cert')) >= 1);
});

test('an expired certificate is refused', async () => {
  const expired = pki.credentials('default', 'curl', {
    notBefore: new Date(Date.now() - 7_200_000),
    validityMs: 3_600_000,
  });
  await rawTls(credsOpts(expired));
  await until(() => logged('has expired'), 2000, 'the expired log line');
  assert.ok((await refusedCount('expired_cert')) >= 1);
});

test('a client that completes TCP but never the TLS handshake is dropped after the handshake timeout', async () => {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  const started = Date.now();
  await once(s, 'close');
  assert.ok(Date.now() - started >= 250);
  await until(
    () => logged('did not finish the TLS handshake in time'),
    2000,
    'the handshake-timeout log line',
  );
});

/** A real HTTP/2 session with a good client certificate, for stream-level bad input. */
async function session(options: http2.ClientSessionOptions = {}): Promise<http2.ClientHttp2Session> {
  const s = http2.connect(`https://127.0.0.1:${port}`, {
    ...credsOpts(good),
    ca: [pki.root.rootPem],
    checkServerIdentity: () => undefined,
    ...options,
  } as http2.SecureClientSessionOptions);
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

function answer(stream: http2.ClientHttp2Stream): Promise<string> {
  return new Promise((resolve) => {
    stream.on('response', (h) => resolve(`status:${h[':status']}`));
    stream.on('error', () => resolve(`reset:${stream.rstCode}`));
    stream.on('close', () => resolve(`reset:${stream.rstCode}`));
  });
}

test('a non-CONNECT request gets 400 (not 405), and a malformed authority gets 400', async () => {
  const s = await session();
  assert.equal(await answer(s.request({ ':method': 'GET', ':path': '/' })), 'status:400');
  assert.equal(
    await answer(s.request({ ':method': 'CONNECT', ':authority': 'echo.default:8080' })),
    'status:400',
  );
  assert.equal(
    await answer(s.request({ ':method': 'CONNECT', ':authority': '10.0.0.2:99999' })),
    'status:400',
  );
  assert.ok(logged(':authority must be <ip>:<port>'));
  assert.ok(logged('is not CONNECT'));
  s.close();
});

test('a header list over the limit is refused', async () => {
  const s = await session();
  const result = await answer(
    s.request({ ':method': 'CONNECT', ':authority': `10.0.0.2:${echo.port}`, 'x-big': 'a'.repeat(20_000) }),
  );
  assert.equal(result, 'status:431');
  assert.ok(logged('is over the limit of 16384'));
  s.destroy();
});

test('a flood of streams past the limit: the excess is refused, the rest work', async () => {
  // peerMaxConcurrentStreams makes the client ignore our advertised limit of 200.
  const s = await session({ peerMaxConcurrentStreams: 1000 });
  const streams = Array.from({ length: 260 }, () =>
    s.request({ ':method': 'CONNECT', ':authority': `10.0.0.2:${echo.port}` }),
  );
  const results = await Promise.all(streams.map(answer));
  const ok = results.filter((r) => r === 'status:200').length;
  const refused = results.filter((r) => r === 'reset:7' /* REFUSED_STREAM */).length;
  assert.ok(ok >= 1 && ok <= 200, `accepted ${ok}`);
  assert.ok(refused >= 60, `refused ${refused}`);
  s.destroy();
  await sleep(50);
});
