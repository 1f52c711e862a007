import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreakers, type Slot } from '../../../../src/l7/cluster/circuit-breaker.js';
import { OutlierDetector } from '../../../../src/l7/cluster/outlier.js';
import type { Cluster } from '../../../../src/l7/model.js';
import { cluster } from '../fixtures.js';

function withPool(pool: Cluster['connectionPool']): Cluster {
  return { ...cluster('c', ['10.0.0.1']), connectionPool: pool };
}

test('connection pool: maxConnections 1 with 1 pending: one in flight, one waits, the third overflows at once', async () => {
  const b = new CircuitBreakers();
  const c = withPool({ maxConnections: 1, maxPendingRequests: 1 });
  const first = b.admit(c, true) as Slot;
  assert.ok(first && !(first instanceof Promise));
  const second = b.admit(c, true);
  assert.ok(second instanceof Promise, 'the second waits for the connection');
  assert.equal(b.admit(c, true), undefined, 'the third is refused (503 UO)');
  first.release();
  const got = await second;
  assert.ok(got);
  assert.deepEqual(b.snapshot('c'), { requests: 1, connections: 1, pending: 0, retries: 0 });
  got.release();
  assert.deepEqual(b.snapshot('c'), { requests: 0, connections: 0, pending: 0, retries: 0 });
});

test('connection pool: http2MaxRequests limits every protocol; maxRetries limits retries; no pool: unlimited', () => {
  const b = new CircuitBreakers();
  const c = withPool({ maxRequests: 2, maxRetries: 1 });
  const a = b.admit(c, false) as Slot;
  b.admit(c, false);
  assert.equal(b.admit(c, false), undefined);
  a.release();
  assert.ok(b.admit(c, false));
  const r = b.retry(c)!;
  assert.equal(b.retry(c), undefined);
  r.release();
  assert.ok(b.retry(c));
  const free = cluster('free');
  for (let i = 0; i < 1000; i++) assert.ok(b.admit(free, true));
});

function outlierCluster(n: number, over: Partial<NonNullable<Cluster['outlier']>> = {}): Cluster {
  const ips = Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}`);
  return {
    ...cluster('o', ips),
    outlier: {
      consecutive5xxErrors: 3,
      consecutiveGatewayErrors: 0,
      intervalMs: 1000,
      baseEjectionTimeMs: 30_000,
      maxEjectionPercent: 100,
      minHealthPercent: 0,
      ...over,
    },
  };
}

test('outlier: 3 consecutive 5xx eject an endpoint; a success in between resets the count', () => {
  let now = 1_000_000;
  const o = new OutlierDetector(undefined, () => now);
  const c = outlierCluster(3);
  const bad = c.endpoints[0]!;
  o.report(c, bad, { status: 500 });
  o.report(c, bad, { status: 500 });
  o.report(c, bad, { status: 200 });
  o.report(c, bad, { status: 500 });
  assert.equal(o.view(c).endpoints.length, 3);
  o.report(c, bad, { status: 503 });
  o.report(c, bad, { status: 500 });
  assert.deepEqual(
    o.view(c).endpoints.map((e) => e.ip),
    ['10.0.0.2', '10.0.0.3'],
  );
  const h = o.health(c)[0]!;
  assert.equal(h.health, 'EJECTED');
  assert.equal(h.reason, 'consecutive_5xx');
  assert.equal(h.timesEjected, 1);
  // Back after the ejection time, at the next interval sweep.
  now += 29_000;
  o.sweep('o');
  assert.equal(o.view(c).endpoints.length, 2);
  now += 2_000;
  o.sweep('o');
  assert.equal(o.view(c).endpoints.length, 3);
  // Ejected again: twice the base time.
  for (let i = 0; i < 3; i++) o.report(c, bad, { status: 500 });
  assert.equal(o.health(c)[0]!.timesEjected, 2);
  now += 59_000;
  o.sweep('o');
  assert.equal(o.view(c).endpoints.length, 2);
  now += 2_000;
  o.sweep('o');
  assert.equal(o.view(c).endpoints.length, 3);
  o.close();
});

test('outlier: gateway errors and connect failures; maxEjectionPercent caps ejections; panic threshold', () => {
  const o = new OutlierDetector();
  const c = outlierCluster(4, {
    consecutive5xxErrors: 0,
    consecutiveGatewayErrors: 2,
    maxEjectionPercent: 50,
  });
  const [a, b, d] = c.endpoints;
  o.report(c, a!, { status: 500 });
  o.report(c, a!, { status: 500 });
  assert.equal(o.view(c).endpoints.length, 4, '500 is not a gateway error');
  o.report(c, a!, { failure: 'connect' });
  o.report(c, a!, { status: 502 });
  assert.equal(o.view(c).endpoints.length, 3);
  o.report(c, b!, { status: 504 });
  o.report(c, b!, { status: 503 });
  assert.equal(o.view(c).endpoints.length, 2);
  o.report(c, d!, { status: 503 });
  o.report(c, d!, { status: 503 });
  assert.equal(o.view(c).endpoints.length, 2, 'no more than 50 % out');
  o.close();
  // minHealthPercent: when fewer are healthy than that, every endpoint is used (panic).
  const p = new OutlierDetector();
  const one = outlierCluster(2, { consecutive5xxErrors: 1, minHealthPercent: 60 });
  p.report(one, one.endpoints[0]!, { status: 500 });
  assert.equal(p.view(one).endpoints.length, 2);
  p.close();
  const q = new OutlierDetector();
  const strict = outlierCluster(2, { consecutive5xxErrors: 1 });
  q.report(strict, strict.endpoints[0]!, { status: 500 });
  q.report(strict, strict.endpoints[1]!, { status: 500 });
  assert.equal(q.view(strict).endpoints.length, 0, 'panic off: all ejected, none left (503 UH)');
  q.close();
});
