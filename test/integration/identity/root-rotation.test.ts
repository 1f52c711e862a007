import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { CertificateManager } from '../../../src/identity/certificate-manager.js';
import { HboneServer } from '../../../src/hbone/server.js';
import { HbonePool } from '../../../src/hbone/pool.js';
import { relayToTcp } from '../../../src/hbone/relay.js';
import type { Credentials } from '../../../src/hbone/credentials.js';
import { verifyChain } from '../../../src/pki/verify.js';
import { CaHarness, sid } from './harness.js';

const WEB = sid('app', 'web');
const OLD = sid('app', 'old-client');
const NEW = sid('app', 'new-client');

const h = await CaHarness.start();
h.nodes.set('web-1', 'node1', WEB);
h.nodes.set('old-1', 'node2', OLD);
h.nodes.set('new-1', 'node3', NEW);
const clients = [
  h.client(await h.nodeToken('node1'), { validitySeconds: 3 }),
  h.client(await h.nodeToken('node2')),
  h.client(await h.nodeToken('node3')),
];
const [server1, old2, new3] = clients.map((fetcher) => new CertificateManager({ fetcher })) as [
  CertificateManager,
  CertificateManager,
  CertificateManager,
];

const echo = net.createServer((s) => {
  s.on('error', () => {});
  s.pipe(s);
});
echo.listen(0, '127.0.0.1');
await once(echo, 'listening');
const echoPort = (echo.address() as net.AddressInfo).port;
const server = new HboneServer({
  certs: await server1.source(WEB),
  onRequest: (req) => relayToTcp(req, () => {}, { host: '127.0.0.1', port: echoPort }),
});
const { port } = await server.listen(0, '127.0.0.1');
const pool = new HbonePool();

after(async () => {
  pool.close();
  await server.close();
  echo.close();
  for (const m of [server1, old2, new3]) m.close();
  for (const c of clients) c.close();
  await h.close();
});

/** What each node does when the published root bundle changes (a file watch in local mode). */
function publish(): void {
  for (const m of [server1, old2, new3]) m.trustBundle.set(h.ca.rootsPem);
}

async function reach(source: Credentials): Promise<string> {
  const s = await pool.connect({
    source,
    host: '127.0.0.1',
    port,
    expectedIdentities: ['spiffe://cluster.local/ns/app/sa/web'],
    target: `10.0.0.1:${echoPort}`,
  });
  s.end('ping');
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

test('during the overlap a client with an old-root certificate and one with a new-root certificate are both accepted', async () => {
  const oldRoot = h.ca.authority.rootPem;
  const oldCreds = await old2.get(OLD);
  await h.ca.rotateRoot();
  publish();
  const newCreds = await new3.get(NEW);
  assert.ok(verifyChain([...oldCreds.chainPem], [oldRoot]).ok, 'old client: chained to the old root');
  assert.ok(
    verifyChain([...newCreds.chainPem], [h.ca.authority.rootPem]).ok,
    'new client: chained to the new root',
  );
  assert.ok(!verifyChain([...newCreds.chainPem], [oldRoot]).ok);
  assert.equal(await reach(await old2.get(OLD)), 'ping');
  assert.equal(await reach(await new3.get(NEW)), 'ping');

  // The server renews onto the new root; both clients still reach it during the overlap.
  const src = await server1.source(WEB);
  await new Promise<void>((resolve) => {
    const off = src.onChange((c) => {
      if (verifyChain([...c.chainPem], [h.ca.authority.rootPem]).ok) {
        off();
        resolve();
      }
    });
  });
  assert.equal(await reach(await old2.get(OLD)), 'ping');
  assert.equal(await reach(await new3.get(NEW)), 'ping');
});

test('after the overlap ends, the old-root certificate is refused and the new one accepted', async () => {
  await h.ca.retireOldRoots();
  publish();
  assert.equal(h.ca.rootsPem.length, 1);
  await assert.rejects(reach(await old2.get(OLD)));
  assert.equal(await reach(await new3.get(NEW)), 'ping');
});
