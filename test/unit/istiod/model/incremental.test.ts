import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbientIndex, authz, ns, pod, svc, uid } from './fixtures.js';
import type { ChangeSet } from '../../../../src/istiod/model/ambient-index.js';

function build(): AmbientIndex {
  const idx = new AmbientIndex();
  idx.batch(() => {
    for (const n of ['a', 'b']) {
      idx.upsert(ns(n));
      for (let i = 0; i < 50; i++) {
        idx.upsert(
          pod(`p${i}`, { ns: n, labels: { app: `app${i % 5}` }, ip: `10.${n === 'a' ? 1 : 2}.0.${i}` }),
        );
      }
      for (let s = 0; s < 5; s++)
        idx.upsert(svc(`s${s}`, { app: `app${s}` }, { ns: n, ip: `10.96.${n === 'a' ? 1 : 2}.${s}` }));
    }
  });
  return idx;
}

const names = (c: ChangeSet): string[] => [...c.addresses.upserted.keys()].sort();

test('one pod change reports exactly that one workload', () => {
  const idx = build();
  const c = idx.upsert(pod('p7', { ns: 'a', labels: { app: 'app2' }, ip: '10.1.0.200' }));
  assert.deepEqual(names(c), [uid('p7', 'a')]);
  assert.equal(c.addresses.removed.size + c.authorizations.upserted.size + c.authorizations.removed.size, 0);
});

test('re-applying an identical object reports nothing and calls no listener', () => {
  const idx = build();
  let calls = 0;
  const off = idx.onChange(() => calls++);
  const c = idx.upsert(svc('s1', { app: 'app1' }, { ns: 'a', ip: '10.96.1.1' }));
  assert.deepEqual(names(c), []);
  assert.equal(calls, 0);
  idx.upsert(pod('new', { ns: 'a' }));
  assert.equal(calls, 1);
  off();
});

test("a namespace relabel reports that namespace's pods only", () => {
  const idx = build();
  const c = idx.upsert(ns('b', { 'istio.io/dataplane-mode': 'ambient' }));
  const expected = Array.from({ length: 50 }, (_, i) => uid(`p${i}`, 'b')).sort();
  assert.deepEqual(names(c), expected);
});

test('a selector policy reports itself and the pods it selects', () => {
  const idx = build();
  const c = idx.upsert(authz('x', { selector: { matchLabels: { app: 'app3' } }, rules: [{}] }, 'a'));
  assert.deepEqual([...c.authorizations.upserted.keys()], ['a/x']);
  assert.deepEqual(names(c), Array.from({ length: 10 }, (_, k) => uid(`p${3 + 5 * k}`, 'a')).sort());
  const again = idx.upsert(authz('x', { selector: { matchLabels: { app: 'app3' } }, rules: [{}, {}] }, 'a'));
  assert.deepEqual(names(again), [], 'a rule change with the same selector does not touch workloads');
  assert.deepEqual([...again.authorizations.upserted.keys()], ['a/x']);
});

test('a service port change reports the service and the pods it selects', () => {
  const idx = build();
  const c = idx.upsert(
    svc(
      's0',
      { app: 'app0' },
      { ns: 'b', ip: '10.96.2.0', ports: [{ name: 'http', port: 81, targetPort: 8080 }] },
    ),
  );
  const pods = Array.from({ length: 10 }, (_, k) => uid(`p${5 * k}`, 'b'));
  assert.deepEqual(names(c), [...pods, 'b/s0.b.svc.cluster.local'].sort());
});

test('snapshot holds everything; apply() takes a list of events', () => {
  const idx = build();
  assert.equal(idx.snapshot().addresses.size, 110);
  const c = idx.apply([
    { type: 'remove', kind: 'Pod', namespace: 'a', name: 'p0' },
    { type: 'upsert', object: pod('p0', { ns: 'a', ip: '10.1.0.250' }) },
    { type: 'remove', kind: 'Pod', namespace: 'a', name: 'p1' },
  ]);
  assert.deepEqual(names(c), [uid('p0', 'a')]);
  assert.deepEqual([...c.addresses.removed], [uid('p1', 'a')]);
});
