import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { CertificateManager } from '../../../src/identity/certificate-manager.js';
import type { Credentials } from '../../../src/hbone/credentials.js';
import { createRootCa } from '../../../src/pki/ca.js';
import { InProcessFetcher, sid, sleep, until } from './fixtures.js';

function serialOf(c: Credentials): string {
  return new X509Certificate(c.chainPem[0] as string).serialNumber;
}

test('one certificate per identity: concurrent first uses share one fetch', async () => {
  const f = new InProcessFetcher();
  const m = new CertificateManager({ fetcher: f });
  try {
    const [a, b] = await Promise.all([m.get(sid('app', 'web')), m.get(sid('app', 'web'))]);
    assert.equal(a, b);
    assert.equal(await m.get(sid('app', 'web')), a);
    assert.deepEqual(f.calls, ['app/web']);
    assert.equal(a.uri, 'spiffe://cluster.local/ns/app/sa/web');
    assert.deepEqual([...a.rootsPem], [f.ca.authority.rootPem], "the CA's root is trusted");
    assert.equal(a.chainPem.length, 1, 'the root is not presented');
    const src = await m.source(sid('app', 'web'));
    assert.equal(src.current(), a);
  } finally {
    m.close();
  }
});

test('prewarm fetches in the background; a later get uses that certificate', async () => {
  const f = new InProcessFetcher();
  const m = new CertificateManager({ fetcher: f });
  try {
    m.prewarm(sid('app', 'db'));
    m.prewarm(sid('app', 'db'));
    await until(() => m.status()[0]?.state === 'ready', 2000, 'prewarmed');
    await m.get(sid('app', 'db'));
    assert.deepEqual(f.calls, ['app/db']);
  } finally {
    m.close();
  }
});

test('a bounded number of fetches at once; a waiting connection overtakes pre-warming', async () => {
  const f = new InProcessFetcher();
  f.delayMs = 20;
  const m = new CertificateManager({ fetcher: f, concurrency: 3 });
  try {
    for (let i = 0; i < 20; i++) m.prewarm(sid('app', `bg${i}`));
    await m.get(sid('app', 'urgent'));
    assert.ok(
      f.calls.indexOf('app/urgent') <= 3,
      `urgent fetched at position ${f.calls.indexOf('app/urgent')}`,
    );
    await until(() => m.status().every((s) => s.state === 'ready'), 5000, 'all ready');
    assert.equal(f.maxInFlight, 3);
  } finally {
    m.close();
  }
});

test('renewal at half-life installs a new certificate in the same source', async () => {
  const f = new InProcessFetcher({ validityMs: 2000 });
  const m = new CertificateManager({ fetcher: f });
  try {
    const src = await m.source(sid('app', 'web'));
    const first = src.current();
    const changed: Credentials[] = [];
    src.onChange((c) => changed.push(c));
    await until(() => changed.length > 0, 4000, 'renewal');
    assert.notEqual(serialOf(src.current()), serialOf(first));
    assert.ok(Date.now() < first.notAfter.getTime(), 'renewed before the old certificate expired');
  } finally {
    m.close();
  }
});

test('CA unreachable at renewal: the current certificate keeps serving, retries back off, renewal succeeds later', async () => {
  const f = new InProcessFetcher({ validityMs: 4000 });
  const m = new CertificateManager({ fetcher: f, backoff: { initialMs: 100, maxMs: 400 } });
  try {
    const first = await m.get(sid('app', 'web'));
    f.down = true;
    await until(() => (m.status()[0]?.failures ?? 0) >= 2, 4000, 'failed renewals');
    assert.equal(m.status()[0]?.state, 'retrying');
    assert.match(m.status()[0]?.lastError ?? '', /CA down/);
    assert.equal(await m.get(sid('app', 'web')), first, 'the still-valid certificate is served');
    f.down = false;
    await until(() => m.status()[0]?.failures === 0, 2000, 'renewed');
    const next = await m.get(sid('app', 'web'));
    assert.notEqual(serialOf(next), serialOf(first));
  } finally {
    m.close();
  }
});

test('a first fetch that fails rejects get() with the reason; a later get succeeds', async () => {
  const f = new InProcessFetcher();
  f.down = true;
  const m = new CertificateManager({ fetcher: f, backoff: { initialMs: 60_000, maxMs: 60_000 } });
  try {
    await assert.rejects(
      m.get(sid('app', 'web')),
      /certificate request for spiffe:\/\/cluster.local\/ns\/app\/sa\/web failed: .*CA down/,
    );
    assert.equal(m.status()[0]?.state, 'failed');
    f.down = false;
    assert.ok(await m.get(sid('app', 'web')));
  } finally {
    m.close();
  }
});

test('forget stops renewals of an identity', async () => {
  const f = new InProcessFetcher({ validityMs: 1000 });
  const m = new CertificateManager({ fetcher: f });
  try {
    await m.get(sid('app', 'web'));
    m.forget(sid('app', 'web'));
    assert.equal(m.has(sid('app', 'web')), false);
    await sleep(1200);
    assert.deepEqual(f.calls, ['app/web']);
  } finally {
    m.close();
  }
});

test('CA rotation: a chain from a new root adds it; every identity then trusts old and new roots', async () => {
  const f = new InProcessFetcher();
  const m = new CertificateManager({ fetcher: f });
  try {
    const web = await m.source(sid('app', 'web'));
    const oldRoot = f.ca.authority.rootPem;
    await f.ca.rotateRoot();
    const db = await m.get(sid('app', 'db'));
    assert.equal(db.rootsPem.length, 2);
    assert.deepEqual(new Set(web.current().rootsPem), new Set([oldRoot, f.ca.authority.rootPem]));
    // The published bundle drops the old root: it leaves every identity's trust.
    m.trustBundle.set([f.ca.authority.rootPem]);
    assert.deepEqual([...web.current().rootsPem], [f.ca.authority.rootPem]);
  } finally {
    m.close();
  }
});

test('an explicitly given root bundle is trusted before any fetch', async () => {
  const extra = createRootCa().rootPem;
  const f = new InProcessFetcher();
  const m = new CertificateManager({ fetcher: f, roots: [extra] });
  try {
    const c = await m.get(sid('app', 'web'));
    assert.deepEqual(new Set(c.rootsPem), new Set([extra, f.ca.authority.rootPem]));
  } finally {
    m.close();
  }
});
