import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
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
