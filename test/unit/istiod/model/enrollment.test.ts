import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbientIndex, ns, pod, uid, workload } from './fixtures.js';
import { TunnelProtocol } from '../../../../src/xds/workload-types.js';

const { HBONE, NONE } = TunnelProtocol;

test('a pod in a namespace labelled istio.io/dataplane-mode=ambient is HBONE', () => {
  const idx = new AmbientIndex();
  idx.upsert(ns('app', { 'istio.io/dataplane-mode': 'ambient' }));
  idx.upsert(pod('a'));
  assert.equal(workload(idx, 'a').tunnelProtocol, HBONE);
});

test('a pod outside the mesh is still a Workload, with tunnel NONE', () => {
  const idx = new AmbientIndex();
  idx.upsert(ns('app'));
  const changes = idx.upsert(pod('a'));
  assert.deepEqual([...changes.addresses.upserted.keys()], [uid('a')]);
  assert.equal(workload(idx, 'a').tunnelProtocol, NONE);
});

test('the pod label alone enrolls, and the short alias dataplane-mode=ambient works on both levels', () => {
  const idx = new AmbientIndex();
  idx.upsert(ns('app'));
  idx.upsert(ns('other', { 'dataplane-mode': 'ambient' }));
  idx.upsert(pod('a', { labels: { 'istio.io/dataplane-mode': 'ambient' } }));
  idx.upsert(pod('b', { labels: { 'dataplane-mode': 'ambient' }, ip: '10.0.0.2' }));
  idx.upsert(pod('c', { ns: 'other', ip: '10.0.0.3' }));
  assert.equal(workload(idx, 'a').tunnelProtocol, HBONE);
  assert.equal(workload(idx, 'b').tunnelProtocol, HBONE);
  assert.equal(workload(idx, 'c', 'other').tunnelProtocol, HBONE);
});

test('the pod label none overrides an ambient namespace', () => {
  const idx = new AmbientIndex();
  idx.upsert(ns('app', { 'istio.io/dataplane-mode': 'ambient' }));
  idx.upsert(pod('a', { labels: { 'istio.io/dataplane-mode': 'none' } }));
  assert.equal(workload(idx, 'a').tunnelProtocol, NONE);
});

test('sidecar pods and host-network pods are not enrolled', () => {
  const idx = new AmbientIndex();
  idx.upsert(ns('app', { 'istio.io/dataplane-mode': 'ambient' }));
  idx.upsert(pod('injected', { annotations: { 'sidecar.istio.io/status': '{}' } }));
  idx.upsert(
    pod('tls', {
      labels: { 'security.istio.io/tlsMode': 'istio' },
      containers: [{ name: 'main' }, { name: 'istio-proxy' }],
      ip: '10.0.0.2',
    }),
  );
  idx.upsert(pod('labelonly', { labels: { 'security.istio.io/tlsMode': 'istio' }, ip: '10.0.0.4' }));
  idx.upsert(pod('hostnet', { hostNetwork: true, ip: '192.168.1.5' }));
  assert.equal(workload(idx, 'injected').tunnelProtocol, NONE);
  assert.equal(workload(idx, 'tls').tunnelProtocol, NONE);
  assert.equal(
    workload(idx, 'labelonly').tunnelProtocol,
    HBONE,
    'tlsMode label without istio-proxy is not a sidecar',
  );
  assert.equal(workload(idx, 'hostnet').tunnelProtocol, NONE);
  // An injected pod whose sidecar accepts HBONE (networking.istio.io/tunnel=http): ztunnels tunnel to
  // it directly, and none captures it.
  idx.upsert(
    pod('hbone-sidecar', {
      annotations: { 'sidecar.istio.io/status': '{}' },
      labels: { 'networking.istio.io/tunnel': 'http' },
      ip: '10.0.0.6',
    }),
  );
  assert.equal(workload(idx, 'hbone-sidecar').tunnelProtocol, HBONE);
  assert.equal(workload(idx, 'hbone-sidecar').nativeTunnel, true);
});

test('relabelling the namespace or the pod at runtime flips the tunnel protocol', () => {
  const idx = new AmbientIndex();
  idx.upsert(ns('app'));
  idx.upsert(pod('a'));
  assert.equal(workload(idx, 'a').tunnelProtocol, NONE);
  const on = idx.upsert(ns('app', { 'istio.io/dataplane-mode': 'ambient' }));
  assert.ok(on.addresses.upserted.has(uid('a')));
  assert.equal(workload(idx, 'a').tunnelProtocol, HBONE);
  idx.upsert(pod('a', { labels: { 'istio.io/dataplane-mode': 'none' } }));
  assert.equal(workload(idx, 'a').tunnelProtocol, NONE);
  idx.upsert(pod('a'));
  assert.equal(workload(idx, 'a').tunnelProtocol, HBONE);
  idx.remove('Namespace', '', 'app');
  assert.equal(workload(idx, 'a').tunnelProtocol, NONE);
});

test('pods that finished are removed; pod removal removes the workload', () => {
  const idx = new AmbientIndex();
  idx.upsert(pod('a'));
  const done = pod('a');
  done.status!.phase = 'Succeeded';
  const c1 = idx.upsert(done);
  assert.deepEqual([...c1.addresses.removed], [uid('a')]);
  idx.upsert(pod('b'));
  const c2 = idx.remove('Pod', 'app', 'b');
  assert.deepEqual([...c2.addresses.removed], [uid('b')]);
  assert.equal(idx.snapshot().addresses.size, 0);
});
