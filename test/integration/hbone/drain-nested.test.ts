import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HboneServer } from '../../../src/hbone/server.js';
import { HbonePool } from '../../../src/hbone/pool.js';
import { HboneConnection } from '../../../src/hbone/connection.js';
import { CertSlot } from '../../../src/hbone/credentials.js';
import { relayToTcp } from '../../../src/hbone/relay.js';
import { HboneError } from '../../../src/hbone/errors.js';
import { TestPki, uri, echoServer, collect, until } from './fixtures.js';

const pki = new TestPki();

test('drain: GOAWAY, open tunnels finish, new ones are refused, then it resolves', async () => {
  const echo = await echoServer();
  const server = new HboneServer({
    certs: new CertSlot(pki.credentials('default', 'echo')),
    onRequest: (req) => relayToTcp(req, () => {}, { host: '127.0.0.1', port: echo.port }),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const pool = new HbonePool();
  const req = {
    source: pki.credentials('default', 'curl'),
    host: '127.0.0.1',
    port,
    expectedIdentities: [uri('default', 'echo')],
    target: `10.0.0.2:${echo.port}`,
  };
  const open = await pool.connect(req);
  const reply = collect(open);
  open.write('in-flight ');

  const drained = server.drain(5_000);
  // The draining server accepts no new tunnels, on the old connection (GOAWAY) or a new one.
  await assert.rejects(pool.connect(req), (e: unknown) => e instanceof HboneError);
  // The open one still carries bytes both ways and finishes normally.
  open.end('and done');
  assert.equal((await reply).toString(), 'in-flight and done');
  const r = await drained;
  assert.equal(r.forced, false);
  pool.close();
  echo.server.close();
});

test('drain: at the deadline, tunnels still open are closed', async () => {
  const echo = await echoServer();
  const server = new HboneServer({
    certs: new CertSlot(pki.credentials('default', 'echo')),
    onRequest: (req) => relayToTcp(req, () => {}, { host: '127.0.0.1', port: echo.port }),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const pool = new HbonePool();
  const open = await pool.connect({
    source: pki.credentials('default', 'curl'),
    host: '127.0.0.1',
    port,
    expectedIdentities: [uri('default', 'echo')],
    target: `10.0.0.2:${echo.port}`,
  });
  open.on('error', () => {});
  let closed = false;
  open.on('close', () => (closed = true));
  const r = await server.drain(200);
  assert.equal(r.forced, true);
  assert.equal(r.remaining, 1);
  await until(() => closed, 2000, 'the open tunnel to be closed');
  pool.close();
  echo.server.close();
});

test('nested tunnels: a second TLS + HTTP/2 session inside a CONNECT stream (double HBONE)', async () => {
  const echo = await echoServer();
  // Inner server: the final destination's HBONE endpoint, fed by streams rather than a listener.
  const inner = new HboneServer({
    certs: new CertSlot(pki.credentials('default', 'echo')),
    onRequest: (req) => relayToTcp(req, () => {}, { host: '127.0.0.1', port: echo.port }),
  });
  // Outer server (a gateway): every CONNECT stream it accepts is handed to the inner server as a connection.
  const seenOuter: string[] = [];
  const outer = new HboneServer({
    certs: new CertSlot(pki.credentials('istio-system', 'gateway')),
    onRequest: (req) => {
      seenOuter.push(`${req.peerUri} -> ${req.target.authority}`);
      const stream = req.accept();
      if (stream) inner.handleConnection(stream);
    },
  });
  const { port } = await outer.listen(0, '127.0.0.1');
  const pool = new HbonePool();
  const curl = pki.credentials('default', 'curl');
  const carrier = await pool.connect({
    source: curl,
    host: '127.0.0.1',
    port,
    expectedIdentities: [uri('istio-system', 'gateway')],
    target: '10.0.0.2:15008',
  });
  const innerConn = await HboneConnection.connect({
    credentials: curl,
    host: 'unused',
    port: 0,
    socket: carrier,
    expectedIdentities: [uri('default', 'echo')],
  });
  assert.equal(innerConn.peerUri, uri('default', 'echo'));
  const s1 = await innerConn.open(`10.0.0.2:${echo.port}`, {}, 5_000);
  const s2 = await innerConn.open(`10.0.0.2:${echo.port}`, {}, 5_000);
  s1.end('inner-one');
  s2.end('inner-two');
  assert.equal((await collect(s1)).toString(), 'inner-one');
  assert.equal((await collect(s2)).toString(), 'inner-two');
  assert.deepEqual(seenOuter, [`${uri('default', 'curl')} -> 10.0.0.2:15008`]);
  innerConn.close();
  pool.close();
  await outer.close();
  await inner.close();
  echo.server.close();
});
