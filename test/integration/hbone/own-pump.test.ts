// The byte pump on HBONE's own framer, both hops, as the mesh uses it (client → proxy A → HBONE →
// proxy B → app): DATA goes between the HTTP/2 stream and the TCP sockets past the stream's
// Readable/Writable, and the TLS sockets read into one reused buffer. A slow app must hold the sender
// through HTTP/2 flow control (nothing lost, nothing unbounded), both directions must stay intact.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { HboneServer } from '../../../src/hbone/server.js';
import { HbonePool } from '../../../src/hbone/pool.js';
import { CertSlot } from '../../../src/hbone/credentials.js';
import { relayFromStream, relayToTcp, type RelayOutcome } from '../../../src/hbone/relay.js';
import { TestPki, uri, sleep } from './fixtures.js';

const pki = new TestPki();
const WINDOW = 65_535;
const cleanup: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** An app that does not read for `stallMs`, then hashes all it gets and answers digest + `tail` at the end. */
async function slowApp(stallMs: number, tail: Buffer): Promise<{ port: number; resumedAt: () => number }> {
  let resumedAt = 0;
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    s.pause();
    setTimeout(() => {
      resumedAt = performance.now();
      s.on('data', (d: Buffer) => h.update(d));
      s.resume();
    }, stallMs);
    s.on('end', () => {
      s.write(h.digest('hex'));
      s.end(tail);
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanup.push(() => srv.close());
  return { port: (srv.address() as net.AddressInfo).port, resumedAt: () => resumedAt };
}

async function twoHops(appPort: number): Promise<{ port: number; outcomes: RelayOutcome[] }> {
  const outcomes: RelayOutcome[] = [];
  const b = new HboneServer({
    impl: 'own',
    certs: new CertSlot(pki.credentials('default', 'app')),
    streamWindow: WINDOW,
    connectionWindow: WINDOW,
    onRequest: (req) => relayToTcp(req, (o) => outcomes.push(o), { host: '127.0.0.1', port: appPort }),
  });
  const { port: bPort } = await b.listen(0, '127.0.0.1');
  const pool = new HbonePool({ impl: 'own', streamWindow: WINDOW, connectionWindow: WINDOW });
  const source = pki.credentials('default', 'client');
  const a = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.on('error', () => undefined);
    relayFromStream(
      sock,
      pool,
      {
        source,
        host: '127.0.0.1',
        port: bPort,
        expectedIdentities: [uri('default', 'app')],
        target: `10.0.0.2:${appPort}`,
      },
      (o) => outcomes.push(o),
    );
  });
  a.listen(0, '127.0.0.1');
  await once(a, 'listening');
  cleanup.push(
    () => b.close(),
    () => pool.close(),
    () => a.close(),
  );
  return { port: (a.address() as net.AddressInfo).port, outcomes };
}

test('own framer through the pump: a stalled app holds the sender, then every byte arrives both ways', async () => {
  const tail = randomBytes(3 * 1024 * 1024); // the answer is larger than the windows too
  const app = await slowApp(400, tail);
  const path = await twoHops(app.port);
  const payload = randomBytes(24 * 1024 * 1024);

  const c = net.connect({ port: path.port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  c.on('data', (d: Buffer) => chunks.push(d));
  // Write in 64 KiB pieces as fast as backpressure allows, noting how much got out before the app
  // started reading.
  let sent = 0;
  let sentBeforeResume = -1;
  while (sent < payload.length) {
    const piece = payload.subarray(sent, sent + 65_536);
    sent += piece.length;
    if (!c.write(piece)) await once(c, 'drain');
    if (sentBeforeResume < 0 && app.resumedAt() > 0) sentBeforeResume = sent;
  }
  c.end();
  await once(c, 'end');

  const answer = Buffer.concat(chunks);
  const digest = createHash('sha256').update(payload).digest('hex');
  assert.equal(answer.subarray(0, 64).toString(), digest, 'the app got every byte, in order');
  assert.ok(answer.subarray(64).equals(tail), 'the answer came back intact');
  // While the app did not read, the sender was held: far less than the payload got out (windows,
  // the pump's 1 MiB and the kernel's socket buffers on each hop), not all 24 MiB into memory.
  assert.ok(
    sentBeforeResume > 0 && sentBeforeResume < 16 * 1024 * 1024,
    `sent before resume ${sentBeforeResume}`,
  );

  c.destroy();
  await sleep(50);
  const ok = path.outcomes.filter((o) => o.status === 200);
  assert.equal(ok.length, 2, 'both hops report one tunnel');
  for (const o of ok) {
    assert.equal(o.result?.abortedBy, undefined);
    const counts = [o.result!.aToB, o.result!.bToA].sort((x, y) => x - y);
    assert.deepEqual(
      counts,
      [64 + tail.length, payload.length].sort((x, y) => x - y),
    );
  }
});
