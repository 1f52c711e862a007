import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbientIndex, pod, service, svc, workload } from './fixtures.js';
import { AppProtocol, TunnelProtocol } from '../../../../src/xds/workload-types.js';
import type { ServiceEntryObj } from '../../../../src/istiod/model/inputs.js';

test('a Service becomes a Service resource named namespace/hostname', () => {
  const idx = new AmbientIndex({ network: 'n1' });
  const s = svc(
    'web',
    { app: 'web' },
    {
      ports: [
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'x', port: 81, targetPort: 'named' },
      ],
    },
  );
  s.spec!.clusterIPs = ['10.96.0.10', 'fd00::10'];
  const changes = idx.upsert(s);
  assert.deepEqual([...changes.addresses.upserted.keys()], ['app/web.app.svc.cluster.local']);
  const out = service(idx, 'web');
  assert.equal(out.name, 'web');
  assert.equal(out.namespace, 'app');
  assert.equal(out.hostname, 'web.app.svc.cluster.local');
  assert.deepEqual(out.addresses, [
    { network: 'n1', address: new Uint8Array([10, 96, 0, 10]) },
    { network: 'n1', address: new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]) },
  ]);
  assert.deepEqual(out.ports, [
    { servicePort: 80, targetPort: 8080, appProtocol: AppProtocol.HTTP11 },
    { servicePort: 81, targetPort: 0, appProtocol: AppProtocol.UNKNOWN },
  ]);
  assert.deepEqual(
    [...idx.remove('Service', 'app', 'web').addresses.removed],
    ['app/web.app.svc.cluster.local'],
  );
});

test('app protocol from appProtocol, else the port name prefix', () => {
  const idx = new AmbientIndex();
  idx.upsert(
    svc(
      'p',
      {},
      {
        ports: [
          { name: 'a', port: 1, appProtocol: 'http' },
          { name: 'b', port: 2, appProtocol: 'kubernetes.io/h2c' },
          { name: 'grpc-api', port: 3 },
          { name: 'http2', port: 4 },
          { name: 'tcp-db', port: 5 },
          { name: 'tls-x', port: 6 },
          { name: 'http-x', port: 7, appProtocol: 'grpc' },
          { name: 'weird', port: 8 },
        ],
      },
    ),
  );
  const { HTTP11, HTTP2, GRPC, TCP, TLS, UNKNOWN } = AppProtocol;
  assert.deepEqual(
    service(idx, 'p').ports?.map((p) => p.appProtocol),
    [HTTP11, HTTP2, GRPC, HTTP2, TCP, TLS, GRPC, UNKNOWN],
  );
});

test('headless services have no addresses; a service change re-sends the pods it selects', () => {
  const idx = new AmbientIndex();
  idx.upsert(pod('a', { labels: { app: 'web' } }));
  idx.upsert(pod('b', { labels: { app: 'db' }, ip: '10.0.0.2' }));
  const c = idx.upsert(svc('web', { app: 'web' }, { ip: 'None' }));
  assert.deepEqual(service(idx, 'web').addresses, []);
  assert.deepEqual([...c.addresses.upserted.keys()].sort(), [
    'Kubernetes//Pod/app/a',
    'app/web.app.svc.cluster.local',
  ]);
  // Changing the selector moves the service from pod a to pod b: both are re-sent.
  const moved = idx.upsert(svc('web', { app: 'db' }, { ip: 'None' }));
  assert.deepEqual([...moved.addresses.upserted.keys()].sort(), [
    'Kubernetes//Pod/app/a',
    'Kubernetes//Pod/app/b',
  ]);
  assert.deepEqual(workload(idx, 'a').services, {});
  assert.ok(workload(idx, 'b').services?.['app/web.app.svc.cluster.local']);
});

test('ServiceEntry: one Service per host, inline endpoints as workloads, workloadSelector pods', () => {
  const idx = new AmbientIndex();
  const se: ServiceEntryObj = {
    kind: 'ServiceEntry',
    metadata: { name: 'ext', namespace: 'app' },
    spec: {
      hosts: ['api.example.com', 'api2.example.com'],
      addresses: ['240.0.0.1', '240.0.1.0/24'],
      ports: [
        { number: 443, name: 'tls', protocol: 'TLS' },
        { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 },
      ],
      location: 'MESH_EXTERNAL',
      resolution: 'STATIC',
      endpoints: [
        { address: '1.2.3.4', ports: { tls: 8443 }, labels: { app: 'ext' }, serviceAccount: 'extsa' },
      ],
    },
  };
  idx.upsert(se);
  const s = idx.getAddress('app/api.example.com')?.service;
  assert.ok(s);
  assert.equal(s.name, 'ext');
  assert.deepEqual(s.addresses, [{ network: '', address: new Uint8Array([240, 0, 0, 1]) }]);
  assert.deepEqual(s.ports, [
    { servicePort: 443, targetPort: 0, appProtocol: AppProtocol.TLS },
    { servicePort: 80, targetPort: 8080, appProtocol: AppProtocol.HTTP11 },
  ]);
  assert.ok(idx.getAddress('app/api2.example.com')?.service);
  const ep = idx.getAddress('Kubernetes/networking.istio.io/ServiceEntry/app/ext/1.2.3.4')?.workload;
  assert.ok(ep);
  assert.deepEqual(ep.addresses, [new Uint8Array([1, 2, 3, 4])]);
  assert.equal(ep.serviceAccount, 'extsa');
  assert.equal(ep.canonicalName, 'ext');
  assert.equal(ep.tunnelProtocol, TunnelProtocol.NONE);
  assert.deepEqual(
    ep.services?.['app/api.example.com']?.ports?.map((p) => [p.servicePort, p.targetPort]),
    [
      [443, 8443],
      [80, 8080],
    ],
  );

  // A workloadSelector entry adds its hosts to the selected pods' services.
  idx.upsert(pod('a', { labels: { app: 'vm' } }));
  const sel = idx.upsert({
    kind: 'ServiceEntry',
    metadata: { name: 'sel', namespace: 'app' },
    spec: {
      hosts: ['vm.internal'],
      ports: [{ number: 9000, name: 'tcp' }],
      workloadSelector: { labels: { app: 'vm' } },
    },
  });
  assert.deepEqual([...sel.addresses.upserted.keys()].sort(), ['Kubernetes//Pod/app/a', 'app/vm.internal']);
  assert.deepEqual(workload(idx, 'a').services?.['app/vm.internal'], {
    ports: [{ servicePort: 9000, targetPort: 9000, appProtocol: AppProtocol.TCP }],
  });

  const removed = idx.remove('ServiceEntry', 'app', 'ext');
  assert.deepEqual([...removed.addresses.removed].sort(), [
    'Kubernetes/networking.istio.io/ServiceEntry/app/ext/1.2.3.4',
    'app/api.example.com',
    'app/api2.example.com',
  ]);
});
