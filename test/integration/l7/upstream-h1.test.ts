// The engine's own HTTP/1.1 upstream client against real sockets on loopback: raw servers that
// misbehave on purpose, node:http servers for the ordinary cases.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { H1Pool } from '../../../src/l7/cluster/h1-pool.js';
import { UpstreamError, type Connector, type UpstreamRequest } from '../../../src/l7/cluster/upstream.js';
import type { Endpoint } from '../../../src/l7/model.js';

const servers: net.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

let connects = 0;
const tcp: Connector = {
  connect: (ep) =>
    new Promise((resolve, reject) => {
      connects++;
      const s = net.connect(ep.port, ep.ip, () => resolve(s));
      s.once('error', reject);
    }),
};

async function listen(srv: net.Server): Promise<Endpoint> {
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  servers.push(srv);
  return {
    ip: '127.0.0.1',
    port: (srv.address() as AddressInfo).port,
    identity: '',
    hbone: false,
    workload: 'w',
    namespace: 'ns',
  };
}

/** A server that answers every request on a connection with the next canned reply of `replies(n)`. */
function raw(reply: (conn: number, sock: net.Socket, data: string) => void): Promise<Endpoint> {
  let conns = 0;
  return listen(
    net.createServer((sock) => {
      const n = conns++;
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) {
          const req = buf;
          buf = '';
          reply(n, sock, req);
        }
      });
      sock.on('error', () => {});
    }),
  );
}

function req(extra: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return { method: 'GET', path: '/', authority: 'svc:80', headers: {}, body: undefined, ...extra };
}

async function text(body: Readable): Promise<string> {
  let s = '';
  for await (const c of body) s += (c as Buffer).toString('latin1');
  return s;
}

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const err = await p.then(
    () => assert.fail('expected the request to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UpstreamError, String(err));
  return err;
}

test('keep-alive: requests share one connection; trailers and a chunked body come through', async () => {
  const ep = await listen(
    http.createServer((rq, rs) => {
      rs.writeHead(200, { trailer: 'x-t' });
      rs.write('a');
      rs.addTrailers({ 'x-t': 'done' });
      rs.end('b');
    }),
  );
  const pool = new H1Pool(tcp);
  const before = connects;
  for (let i = 0; i < 3; i++) {
    const r = await pool.request(ep, req());
    assert.equal(r.status, 200);
    assert.equal(await text(r.body), 'ab');
    assert.deepEqual(r.trailers(), { 'x-t': 'done' });
  }
  assert.equal(connects - before, 1);
  pool.close();
});

test('request bodies: whole (content-length), streamed with a length, streamed chunked', async () => {
  const seen: { te?: string; cl?: string; n: number }[] = [];
  const ep = await listen(
    http.createServer((rq, rs) => {
      let n = 0;
      rq.on('data', (c: Buffer) => (n += c.length));
      rq.on('end', () => {
        seen.push({ te: rq.headers['transfer-encoding'], cl: rq.headers['content-length'], n });
        rs.end(String(n));
      });
    }),
  );
  const pool = new H1Pool(tcp);
  const big = Buffer.alloc(3_000_000, 1);
  let r = await pool.request(ep, req({ method: 'POST', bytes: Buffer.from('hello') }));
  assert.equal(await text(r.body), '5');
  r = await pool.request(
    ep,
    req({
      method: 'PUT',
      headers: { 'content-length': String(big.length) },
      body: Readable.from([big.subarray(0, 1e6), big.subarray(1e6)]),
    }),
  );
  assert.equal(await text(r.body), '3000000');
  r = await pool.request(
    ep,
    req({ method: 'POST', body: Readable.from([Buffer.from('ab'), Buffer.from('cde')]) }),
  );
  assert.equal(await text(r.body), '5');
  assert.deepEqual(seen, [
    { te: undefined, cl: '5', n: 5 },
    { te: undefined, cl: '3000000', n: 3_000_000 },
    { te: 'chunked', cl: undefined, n: 5 },
  ]);
  pool.close();
});

test('a slow reader pauses the upstream socket; the whole body still arrives', async () => {
  const size = 8 * 1024 * 1024;
  const ep = await listen(
    http.createServer((_rq, rs) => {
      rs.writeHead(200, { 'content-length': size });
      rs.end(Buffer.alloc(size, 7));
    }),
  );
  const pool = new H1Pool(tcp);
  const r = await pool.request(ep, req());
  await sleep(200); // nobody reads: the body's buffer fills and the socket stops
  assert.ok(r.body.readableLength <= 256 * 1024, `buffered ${r.body.readableLength} bytes while unread`);
  let n = 0;
  for await (const c of r.body) n += (c as Buffer).length;
  assert.equal(n, size);
  pool.close();
});

test('an idle connection the server closed is dropped; a request that met the close is sent once more', async () => {
  // Connection 0 answers once, then closes without answering the second request (it never saw it
  // as a request: the server shut it while idle). Later connections answer normally.
  const ep = await raw((conn, sock, data) => {
    if (conn === 0 && data.includes('/first')) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    else if (conn === 0) sock.destroy();
    else sock.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfresh');
  });
  const pool = new H1Pool(tcp);
  const r1 = await pool.request(ep, req({ path: '/first' }));
  assert.equal(await text(r1.body), 'ok');
  const r2 = await pool.request(ep, req({ path: '/second' }));
  assert.equal(await text(r2.body), 'fresh');

  // A server that closes idle connections: the pool notices before reuse.
  const ep2 = await raw((_c, sock) => {
    sock.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx');
    setTimeout(() => sock.end(), 20);
  });
  await text((await pool.request(ep2, req())).body);
  await sleep(100);
  assert.equal(pool.idleCount(ep2), 0);
  assert.equal(await text((await pool.request(ep2, req())).body), 'x');
  pool.close();
});

test('a streamed body is not sent again: the close before the response fails the request', async () => {
  const ep = await raw((conn, sock, data) => {
    if (conn === 0 && data.includes('/first')) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    else sock.destroy();
  });
  const pool = new H1Pool(tcp);
  await text((await pool.request(ep, req({ path: '/first' }))).body);
  const err = await failure(
    pool.request(ep, req({ method: 'POST', body: Readable.from([Buffer.from('x')]) })),
  );
  assert.equal(err.failure, 'reset');
  pool.close();
});

test('malformed responses fail as protocol errors; a cut body errors the body stream', async () => {
  const bad = [
    'HTTP/1.1 abc\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx',
    `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`,
  ];
  const pool = new H1Pool(tcp);
  for (const reply of bad) {
    const ep = await raw((_c, sock) => sock.write(reply));
    const err = await failure(pool.request(ep, req()));
    assert.equal(err.failure, 'protocol', reply.slice(0, 40));
    assert.match(err.message, /malformed HTTP\/1\.1 response/);
  }
  const cut = await raw((_c, sock) =>
    sock.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab'),
  );
  const r = await pool.request(cut, req());
  await assert.rejects(text(r.body), /chunked body/);
  const early = await raw((_c, sock) => sock.end());
  assert.equal((await failure(pool.request(early, req()))).failure, 'reset');
  pool.close();
});

test('maxRequestsPerConnection, idle timeout and connect timeout', async () => {
  const closes: string[] = [];
  const srv = http.createServer((rq, rs) => {
    closes.push(String(rq.headers.connection ?? ''));
    rs.end('y');
  });
  const ep = await listen(srv);
  const pool = new H1Pool(tcp);
  let before = connects;
  for (let i = 0; i < 4; i++) await text((await pool.request(ep, req({ maxRequestsPerConnection: 2 }))).body);
  assert.equal(connects - before, 2);
  assert.deepEqual(closes, ['', 'close', '', 'close']);

  await text((await pool.request(ep, req({ idleTimeoutMs: 50 }))).body);
  assert.equal(pool.idleCount(ep), 1);
  await sleep(150);
  assert.equal(pool.idleCount(ep), 0);

  const never: Connector = { connect: () => new Promise(() => {}) };
  const slow = new H1Pool(never);
  const err = await failure(slow.request(ep, req({ connectTimeoutMs: 50 })));
  assert.equal(err.failure, 'connect');
  assert.match(err.message, /connectTimeout/);
  before = connects;
  pool.close();
});
