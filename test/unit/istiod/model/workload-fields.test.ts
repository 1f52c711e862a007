import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbientIndex, ns, pod, svc, workload } from './fixtures.js';
import { WorkloadStatus, WorkloadType } from '../../../../src/xds/workload-types.js';

test('identity, node, addresses and cluster fields of a pod workload', () => {
  const idx = new AmbientIndex({ trustDomain: 'example.org', clusterId: 'c1', network: 'net1' });
  idx.upsert(ns('app'));
  const p = pod('a', { sa: 'reviews', node: 'n7' });
  p.status!.podIPs = [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }];
  idx.upsert(p);
  const w = idx.getAddress('c1//Pod/app/a')?.workload;
  assert.ok(w);
  assert.equal(w.uid, 'c1//Pod/app/a');
  assert.equal(w.name, 'a');
  assert.equal(w.namespace, 'app');
  assert.equal(w.serviceAccount, 'reviews');
  assert.equal(w.trustDomain, 'example.org');
  assert.equal(w.node, 'n7');
  assert.equal(w.clusterId, 'c1');
  assert.equal(w.network, 'net1');
  assert.deepEqual(w.addresses, [
    new Uint8Array([10, 0, 0, 1]),
    new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
  ]);
});

test('defaults: service account default, trust domain cluster.local', () => {
  const idx = new AmbientIndex();
  idx.upsert(pod('a'));
  const w = workload(idx, 'a');
  assert.equal(w.serviceAccount, 'default');
  assert.equal(w.trustDomain, 'cluster.local');
});

test('status is HEALTHY only with Ready=True and an IP', () => {
  const idx = new AmbientIndex();
  idx.upsert(pod('ready'));
  idx.upsert(pod('notready', { ready: false, ip: '10.0.0.2' }));
  const noIp = pod('noip');
  noIp.status = { phase: 'Pending', conditions: [{ type: 'Ready', status: 'True' }] };
  idx.upsert(noIp);
  assert.equal(workload(idx, 'ready').status, WorkloadStatus.HEALTHY);
  assert.equal(workload(idx, 'notready').status, WorkloadStatus.UNHEALTHY);
  assert.equal(workload(idx, 'noip').status, WorkloadStatus.UNHEALTHY);
  assert.deepEqual(workload(idx, 'noip').addresses, []);
});

test('canonical name and revision follow Istio label precedence', () => {
  const idx = new AmbientIndex();
  idx.upsert(
    pod('a', {
      labels: {
        'service.istio.io/canonical-name': 'canon',
        'app.kubernetes.io/name': 'k8sname',
        app: 'appname',
        'service.istio.io/canonical-revision': 'r1',
        version: 'v9',
      },
    }),
  );
  idx.upsert(
    pod('b', {
      labels: { 'app.kubernetes.io/name': 'k8sname', app: 'appname', 'app.kubernetes.io/version': 'v2' },
    }),
  );
  idx.upsert(pod('c', { labels: { app: 'appname', version: 'v3' } }));
  idx.upsert(pod('plain-7d9f8b6c5d-x2x9k', { labels: { 'pod-template-hash': '7d9f8b6c5d' } }));
  assert.deepEqual([workload(idx, 'a').canonicalName, workload(idx, 'a').canonicalRevision], ['canon', 'r1']);
  assert.deepEqual(
    [workload(idx, 'b').canonicalName, workload(idx, 'b').canonicalRevision],
    ['k8sname', 'v2'],
  );
  assert.deepEqual(
    [workload(idx, 'c').canonicalName, workload(idx, 'c').canonicalRevision],
    ['appname', 'v3'],
  );
  const d = workload(idx, 'plain-7d9f8b6c5d-x2x9k');
  assert.deepEqual([d.canonicalName, d.canonicalRevision], ['plain', 'latest']);
});

test('workload name strips the ReplicaSet hash; bare pods keep their name', () => {
  const idx = new AmbientIndex();
  const owned = pod('reviews-v1-5b8f7c9d4-abcde', { labels: { 'pod-template-hash': '5b8f7c9d4' } });
  owned.metadata.ownerReferences = [{ kind: 'ReplicaSet', name: 'reviews-v1-5b8f7c9d4', controller: true }];
  idx.upsert(owned);
  idx.upsert(pod('unowned-6c4d8f7b9-qwert', { labels: { 'pod-template-hash': '6c4d8f7b9' } }));
  idx.upsert(pod('standalone'));
  const job = pod('backup-28123456-zz1pq');
  job.metadata.ownerReferences = [{ kind: 'Job', name: 'backup-28123456', controller: true }];
  idx.upsert(job);
  const w1 = workload(idx, 'reviews-v1-5b8f7c9d4-abcde');
  assert.equal(w1.workloadName, 'reviews-v1');
  assert.equal(w1.workloadType, WorkloadType.DEPLOYMENT);
  assert.equal(workload(idx, 'unowned-6c4d8f7b9-qwert').workloadName, 'unowned');
  assert.equal(workload(idx, 'standalone').workloadName, 'standalone');
  assert.equal(workload(idx, 'standalone').workloadType, WorkloadType.POD);
  assert.equal(workload(idx, 'backup-28123456-zz1pq').workloadName, 'backup');
  assert.equal(workload(idx, 'backup-28123456-zz1pq').workloadType, WorkloadType.CRONJOB);
});

test('services map: selected services with named target ports resolved against container ports', () => {
  const idx = new AmbientIndex();
  idx.upsert(
    pod('a', {
      labels: { app: 'web' },
      containers: [
        {
          name: 'main',
          ports: [
            { name: 'http-web', containerPort: 9080 },
            { name: 'admin', containerPort: 9901 },
          ],
        },
      ],
    }),
  );
  idx.upsert(
    svc(
      'web',
      { app: 'web' },
      {
        ports: [
          { name: 'http', port: 80, targetPort: 'http-web' },
          { name: 'grpc', port: 90, targetPort: 9090 },
          { name: 'tcp-plain', port: 100 },
          { name: 'missing', port: 110, targetPort: 'nope' },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
      },
    ),
  );
  idx.upsert(svc('other', { app: 'other' }, { ip: '10.96.0.11' }));
  const w = workload(idx, 'a');
  assert.deepEqual(Object.keys(w.services ?? {}), ['app/web.app.svc.cluster.local']);
  assert.deepEqual(
    w.services?.['app/web.app.svc.cluster.local']?.ports?.map((p) => [p.servicePort, p.targetPort]),
    [
      [80, 9080],
      [90, 9090],
      [100, 100],
    ],
  );
});
