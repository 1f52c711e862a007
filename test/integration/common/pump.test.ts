import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { pump, type PumpResult } from '../../../src/common/pump.js';

/** A TCP proxy on loopback built from the pump: client -> proxy -> server. */
async function proxyTo(
  serverPort: number,
): Promise<{ port: number; results: PumpResult[]; close: () => void }> {
  const results: PumpResult[] = [];
  const srv = net.createServer({ allowHalfOpen: true }, (down) => {
    const up = net.connect({ port: serverPort, host: '127.0.0.1', allowHalfOpen: true });
    pump(down, up, (r) => results.push(r));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { port: (srv.address() as net.AddressInfo).port, results, close: () => srv.close() };
}

test('the pump carries bytes both ways, keeps half-close and counts bytes', async () => {
  // Server: reads everything until the client half-closes, then answers with a digest and more bytes.
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => {
      s.write(h.digest('hex'));
      s.end('|bye');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const proxy = await proxyTo((server.address() as net.AddressInfo).port);

  const payload = randomBytes(8 * 1024 * 1024);
  const c = net.connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  c.on('data', (d: Buffer) => chunks.push(d));
  c.end(payload); // half-close after sending
  await once(c, 'end');
  const answer = Buffer.concat(chunks).toString();
  assert.equal(answer, `${createHash('sha256').update(payload).digest('hex')}|bye`);
  c.destroy();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(proxy.results.length, 1);
  assert.equal(proxy.results[0]!.aToB, payload.length);
  assert.equal(proxy.results[0]!.bToA, answer.length);
  assert.equal(proxy.results[0]!.abortedBy, undefined);
  proxy.close();
  server.close();
});

test('a reset on one side reaches the other as a reset', async () => {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.once('data', () => s.resetAndDestroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const proxy = await proxyTo((server.address() as net.AddressInfo).port);
  const c = net.connect({ port: proxy.port, host: '127.0.0.1' });
  c.write('hello');
  const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(proxy.results[0]!.abortedBy, 'b');
  proxy.close();
  server.close();
});

test('chunks that arrive in one turn and the end right after them reach a TCP peer in order, then the FIN', async () => {
  // An HTTP/2 stream hands over one TLS read as several DATA pieces and may end in the same turn; the
  // pump gathers such a burst for one writev at the end of the turn, and must still end after it.
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  const [dst] = (await once(server, 'connection')) as [net.Socket];
  const src = new Duplex({ allowHalfOpen: true, read() {}, write: (_c, _e, cb) => cb() });
  try {
    const done = new Promise<PumpResult>((resolve) => pump(src, dst, resolve));
    const received: Buffer[] = [];
    client.on('data', (d: Buffer) => received.push(d));
    const ended = once(client, 'end');

    const pieces = Array.from({ length: 6 }, (_, i) => Buffer.alloc(16 * 1024 + i, 65 + i));
    for (const p of pieces) src.push(p);
    src.push(null);
    await ended;
    const got = Buffer.concat(received);
    const sent = Buffer.concat(pieces);
    assert.ok(got.equals(sent), `${got.length} bytes received in order of ${sent.length} sent`);

    client.end();
    src.destroy();
    assert.equal((await done).aToB, Buffer.concat(pieces).length);
  } finally {
    client.destroy();
    dst.destroy();
    server.close();
  }
});
