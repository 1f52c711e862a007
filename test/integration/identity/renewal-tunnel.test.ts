import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import type { TLSSocket } from 'node:tls';
import type { HboneStream } from '../../../src/hbone/connection.js';
import { CertificateManager } from '../../../src/identity/certificate-manager.js';
import { HboneServer } from '../../../src/hbone/server.js';
import { HbonePool } from '../../../src/hbone/pool.js';
import { relayToTcp } from '../../../src/hbone/relay.js';
import type { HboneRequest } from '../../../src/hbone/request.js';
import type { Credentials } from '../../../src/hbone/credentials.js';
import { CaHarness, sid } from './harness.js';

const WEB = sid('app', 'web');
const CURL = sid('app', 'curl');

const h = await CaHarness.start();
h.nodes.set('web-1', 'node1', WEB);
h.nodes.set('curl-1', 'node2', CURL);
const backoff = { initialMs: 100, maxMs: 400 };
const ca1 = h.client(await h.nodeToken('node1'), { validitySeconds: 4 });
const ca2 = h.client(await h.nodeToken('node2'), { validitySeconds: 4 });
const node1 = new CertificateManager({ fetcher: ca1, backoff });
const node2 = new CertificateManager({ fetcher: ca2, backoff });

const echo = net.createServer({ allowHalfOpen: true }, (s) => {
  s.on('error', () => {});
  s.pipe(s);
});
echo.listen(0, '127.0.0.1');
await once(echo, 'listening');
const echoPort = (echo.address() as net.AddressInfo).port;

/** The client certificate serial of each accepted CONNECT, and the server's own serial. */
const seen: Array<{ peerSerial: string; localSerial: string }> = [];
const server = new HboneServer({
  certs: await node1.source(WEB),
  onRequest: (req: HboneRequest) => {
    const sock = req.stream.session?.socket as TLSSocket | undefined;
    seen.push({ peerSerial: sock?.getPeerCertificate().serialNumber ?? '', localSerial: serial(req.local) });
    relayToTcp(req, () => {}, { host: '127.0.0.1', port: echoPort });
  },
});
const { port } = await server.listen(0, '127.0.0.1');
const pool = new HbonePool();

after(async () => {
  pool.close();
  await server.close();
  echo.close();
  node1.close();
  node2.close();
  ca1.close();
  ca2.close();
  await h.close();
});

function serial(c: Credentials): string {
  return new X509Certificate(c.chainPem[0] as string).serialNumber;
}

async function tunnel(): Promise<HboneStream> {
  return pool.connect({
    source: await node2.get(CURL),
    host: '127.0.0.1',
    port,
    expectedIdentities: ['spiffe://cluster.local/ns/app/sa/web'],
    target: `10.0.0.1:${echoPort}`,
  });
}

async function roundTrip(s: HboneStream, text: string): Promise<string> {
  s.write(text);
  const [chunk] = (await once(s, 'data')) as [Buffer];
  return chunk.toString();
}

async function nextChange(m: CertificateManager, id: typeof WEB): Promise<Credentials> {
  const src = await m.source(id);
  return new Promise((resolve) => {
    const off = src.onChange((c) => {
      off();
      resolve(c);
    });
  });
}

test('renewal before expiry while a tunnel stays open: the tunnel keeps working, new tunnels use the new certificate', async () => {
  const t1 = await tunnel();
  assert.equal(await roundTrip(t1, 'one'), 'one');
  const first = seen[seen.length - 1]!;
  const oldClient = await node2.get(CURL);
  const renewedClient = await nextChange(node2, CURL);
  assert.notEqual(serial(renewedClient), serial(oldClient));
  assert.ok(Date.now() < oldClient.notAfter.getTime(), 'renewed before expiry');
  await nextChange(node1, WEB); // the server side renews too
  assert.equal(await roundTrip(t1, 'still open'), 'still open');
  const t2 = await tunnel();
  assert.equal(await roundTrip(t2, 'two'), 'two');
  const second = seen[seen.length - 1]!;
  assert.notEqual(second.peerSerial, first.peerSerial, 'the new tunnel presents the new client certificate');
  assert.equal(second.peerSerial.toLowerCase(), serial(await node2.get(CURL)).toLowerCase());
  assert.notEqual(second.localSerial, first.localSerial, 'the server presents its renewed certificate');
  t1.end();
  t2.end();
});

test('CA unreachable during renewal: the current certificate keeps serving; renewal succeeds when the CA returns', async () => {
  const before = await node2.get(CURL);
  h.stop();
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if ((node2.status().find((s) => s.uri.endsWith('/sa/curl'))?.failures ?? 0) >= 1) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });
  const during = await node2.get(CURL);
  assert.equal(during, before, 'the old certificate is still used');
  assert.ok(Date.now() < during.notAfter.getTime());
  const t = await tunnel();
  assert.equal(await roundTrip(t, 'during outage'), 'during outage');
  t.end();
  const renewed = nextChange(node2, CURL);
  await h.listen(); // same port
  const next = await renewed;
  assert.notEqual(serial(next), serial(before));
  assert.equal(node2.status().find((s) => s.uri.endsWith('/sa/curl'))?.failures, 0);
});
