import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { HboneServer } from '../../../src/hbone/server.js';
import { HbonePool } from '../../../src/hbone/pool.js';
import { CertSlot } from '../../../src/hbone/credentials.js';
import { relayToTcp } from '../../../src/hbone/relay.js';
import type { HboneRequest } from '../../../src/hbone/request.js';
import { HboneError } from '../../../src/hbone/errors.js';
import { TestPki, uri, echoServer, collect, until, captureLogger } from './fixtures.js';

const pki = new TestPki();
const echo = await echoServer();
const serverSlot = new CertSlot(pki.credentials('default', 'echo'));
const seen: HboneRequest[] = [];
const serverLog = captureLogger();
const server = new HboneServer({
  certs: serverSlot,
  logger: serverLog.logger,
  onRequest: (req) => {
    seen.push(req);
    relayToTcp(req, () => {}, { host: '127.0.0.1', port: echo.port });
  },
});
const { port } = await server.listen(0, '127.0.0.1');
after(async () => {
  await server.close();
  echo.server.close();
});

async function roundTrip(
  pool: HbonePool,
  source = pki.credentials('default', 'curl'),
  expected = [uri('default', 'echo')],
) {
  const s = await pool.connect({
    source,
    host: '127.0.0.1',
    port,
    expectedIdentities: expected,
    target: `10.0.0.2:${echo.port}`,
  });
  s.end('ping');
  return (await collect(s)).toString();
}

test('sequential tunnels reuse one connection; an idle connection is released', async () => {
  const pool = new HbonePool({ idleTimeoutMs: 300 });
  const curl = pki.credentials('default', 'curl');
  for (let i = 0; i < 5; i++) assert.equal(await roundTrip(pool, curl), 'ping');
  assert.equal(pool.connectionCount, 1);
  await until(() => pool.connectionCount === 0, 3000, 'the idle connection to be released');
  // A new tunnel after release opens a fresh connection and works.
  assert.equal(await roundTrip(pool, curl), 'ping');
  assert.equal(pool.connectionCount, 1);
  pool.close();
});

test('different source identities never share a connection', async () => {
  const pool = new HbonePool();
  await roundTrip(pool, pki.credentials('default', 'curl'));
  await roundTrip(pool, pki.credentials('default', 'other'));
  assert.equal(pool.connectionCount, 2);
  const peers = seen.slice(-2).map((r) => r.peerUri);
  assert.deepEqual(peers, [uri('default', 'curl'), uri('default', 'other')]);
  pool.close();
});

test('the client refuses a server whose identity is not the expected one', async () => {
  const pool = new HbonePool();
  await assert.rejects(
    roundTrip(pool, pki.credentials('default', 'curl'), [uri('default', 'not-echo')]),
    (e: unknown) =>
      e instanceof HboneError &&
      e.code === 'HBONE_ERR_IDENTITY' &&
      e.message.includes('spiffe://cluster.local/ns/default/sa/echo') &&
      e.message.includes('not one of the expected identities'),
  );
  assert.equal(pool.connectionCount, 0);
  pool.close();
});

test('the server refuses a client from another trust domain, and says why', async () => {
  const pool = new HbonePool({ trustDomains: ['cluster.local', 'other.domain'] });
  const foreign = pki.credentials('default', 'curl', { trustDomain: 'other.domain' });
  await assert.rejects(roundTrip(pool, foreign), (e: unknown) => e instanceof HboneError);
  await until(
    () => serverLog.lines.some((l) => String(l.msg).includes('trust domain "other.domain"')),
    3000,
    'the server log line naming the trust domain',
  );
  pool.close();
});

test('replacing certificates: new tunnels use the new one, an open tunnel goes on', async () => {
  const pool = new HbonePool();
  const first = pki.credentials('default', 'curl');
  const open = await pool.connect({
    source: first,
    host: '127.0.0.1',
    port,
    expectedIdentities: [uri('default', 'echo')],
    target: `10.0.0.2:${echo.port}`,
  });
  const openReply = collect(open);
  open.write('before-');
  const firstSerial = seen.at(-1)!.stream.session!.socket;
  assert.ok(firstSerial);

  // Both sides renew.
  const renewed = pki.credentials('default', 'curl');
  serverSlot.set(pki.credentials('default', 'echo'));
  assert.equal(await roundTrip(pool, renewed), 'ping');
  assert.equal(pool.connectionCount, 2, 'the renewed identity opened a new connection');
  assert.notEqual(seen.at(-1)!.local, seen.at(-2)!.local, 'the server presented its renewed certificate');

  open.end('after');
  assert.equal((await openReply).toString(), 'before-after');
  pool.close();
});
