import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { HboneServer } from '../../../src/hbone/server.js';
import { HbonePool } from '../../../src/hbone/pool.js';
import { CertSlot } from '../../../src/hbone/credentials.js';
import { relayToTcp, type RelayOutcome } from '../../../src/hbone/relay.js';
import { resetStream } from '../../../src/common/pump.js';
import type { HboneRequest } from '../../../src/hbone/request.js';
import { HboneError } from '../../../src/hbone/errors.js';
import { TestPki, uri, echoServer, collect, until, sleep } from './fixtures.js';

const pki = new TestPki();
const serverCreds = pki.credentials('default', 'echo');
const clientCreds = pki.credentials('default', 'curl');
const echo = await echoServer();
const seen: HboneRequest[] = [];
const outcomes: RelayOutcome[] = [];
const server = new HboneServer({
  certs: new CertSlot(serverCreds),
  onRequest: (req) => {
    seen.push(req);
    // The test routes every CONNECT to a loopback server chosen by the target port.
    relayToTcp(req, (o) => outcomes.push(o), { host: '127.0.0.1', port: req.target.port });
  },
});
const { port } = await server.listen(0, '127.0.0.1');
const pool = new HbonePool();
after(async () => {
  pool.close();
  await server.close();
  echo.server.close();
});

function tunnel(target = `10.0.0.2:${echo.port}`, extra: Partial<Parameters<HbonePool['connect']>[0]> = {}) {
  return pool.connect({
    source: clientCreds,
    host: '127.0.0.1',
    port,
    expectedIdentities: [uri('default', 'echo')],
    target,
    forwarded: 'for="10.0.0.1:40000"',
    baggage: 'k8s.namespace.name=default',
    ...extra,
  });
}

test("a tunnel carries bytes and both sides see each other's SPIFFE identity", async () => {
  const before = seen.length;
  const stream = await tunnel();
  stream.end('hello over hbone');
  const back = await collect(stream);
  assert.equal(back.toString(), 'hello over hbone');
  const req = seen[before]!;
  assert.equal(req.peerUri, uri('default', 'curl'));
  assert.deepEqual(req.peer, { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'curl' });
  assert.equal(req.target.authority, `10.0.0.2:${echo.port}`);
  assert.equal(req.headers.forwarded, 'for="10.0.0.1:40000"');
  assert.equal(req.headers.baggage, 'k8s.namespace.name=default');
  assert.match(String(req.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(req.local.uri, uri('default', 'echo'));
});

test('256 MiB pass through one tunnel intact (digest compared)', async () => {
  // A sink server that hashes everything and answers with the digest after the client half-closes.
  const sink = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => s.end(h.digest('hex')));
  });
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  const sinkPort = (sink.address() as net.AddressInfo).port;
  const stream = await tunnel(`10.0.0.2:${sinkPort}`);
  const total = 256 * 1024 * 1024;
  const block = randomBytes(1024 * 1024);
  const h = createHash('sha256');
  const answer = collect(stream);
  for (let sent = 0; sent < total; sent += block.length) {
    block[0] = sent & 0xff; // vary the content a little
    h.update(block);
    if (!stream.write(Buffer.from(block))) await once(stream, 'drain');
  }
  stream.end();
  assert.equal((await answer).toString(), h.digest('hex'));
  sink.close();
});

test('many concurrent streams share connections, 100 streams per connection at most', async () => {
  const pool2 = new HbonePool();
  const n = 150;
  const streams = await Promise.all(
    Array.from({ length: n }, () =>
      pool2.connect({
        source: clientCreds,
        host: '127.0.0.1',
        port,
        expectedIdentities: [uri('default', 'echo')],
        target: `10.0.0.2:${echo.port}`,
      }),
    ),
  );
  assert.equal(pool2.connectionCount, 2);
  const replies = await Promise.all(
    streams.map((s, i) => {
      s.end(`msg-${i}`);
      return collect(s);
    }),
  );
  replies.forEach((r, i) => assert.equal(r.toString(), `msg-${i}`));
  pool2.close();
});

test('half-close: the client ends its side and still receives; the server side can end first too', async () => {
  // Server that sends first, ends its side, then keeps reading until the client ends.
  const talker = net.createServer({ allowHalfOpen: true }, (s) => {
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.end('server-says-bye');
    s.on('end', () => {
      // The client's bytes arrived after our FIN; report them to the test through a side channel.
      lastGot = got;
    });
  });
  let lastGot = '';
  talker.listen(0, '127.0.0.1');
  await once(talker, 'listening');
  const stream = await tunnel(`10.0.0.2:${(talker.address() as net.AddressInfo).port}`);
  const fromServer = collect(stream);
  assert.equal((await fromServer).toString(), 'server-says-bye');
  // The server has ended its direction; ours is still open.
  stream.end('client-still-talking');
  await until(() => lastGot === 'client-still-talking', 3000, 'bytes sent after the server half-closed');
  talker.close();
});

test('a TCP reset upstream becomes a stream reset for the client, and a client reset reaches upstream', async () => {
  let upstreamErr: NodeJS.ErrnoException | undefined;
  const resetter = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', (e) => (upstreamErr = e));
    s.once('data', (d) => {
      if (d.toString() === 'reset-me') s.resetAndDestroy();
    });
  });
  resetter.listen(0, '127.0.0.1');
  await once(resetter, 'listening');
  const target = `10.0.0.2:${(resetter.address() as net.AddressInfo).port}`;

  const s1 = await tunnel(target);
  s1.write('reset-me');
  const [err] = (await once(s1, 'error')) as [Error & { code?: string }];
  assert.equal(err.code, 'ERR_HTTP2_STREAM_ERROR');
  assert.equal(s1.rstCode, 10 /* CONNECT_ERROR */);

  const s2 = await tunnel(target);
  s2.on('error', () => {}); // our own reset surfaces as an error on our side too
  s2.write('hello');
  await sleep(50);
  resetStream(s2); // what a proxy does when its downstream TCP connection is reset
  await until(() => upstreamErr !== undefined, 3000, 'the upstream to see the reset');
  assert.equal(upstreamErr!.code, 'ECONNRESET');
  resetter.close();
});

test('503 when the upstream refuses, and the client gets a typed error with the status', async () => {
  const closed = net.createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const deadPort = (closed.address() as net.AddressInfo).port;
  closed.close();
  await assert.rejects(
    tunnel(`10.0.0.2:${deadPort}`),
    (e: unknown) => e instanceof HboneError && e.code === 'HBONE_ERR_STATUS' && e.status === 503,
  );
});
