import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubeStatus, podMesh, type KubeStatusInput } from '../../../src/meshctl/kube-status.js';

const ready = [{ type: 'Ready', status: 'True' }];
const pod = (
  ns: string,
  name: string,
  extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  containers = 1,
): KubeStatusInput['pods'][number] => ({
  metadata: { name, namespace: ns, creationTimestamp: '2026-01-01T00:00:00Z', ...extra },
  spec: { nodeName: 'node-1', containers: Array.from({ length: containers }, (_, i) => ({ name: `c${i}` })) },
  status: {
    phase: 'Running',
    podIP: '10.244.1.5',
    conditions: ready,
    containerStatuses: Array.from({ length: containers }, () => ({ ready: true, restartCount: 1 })),
  },
});

test('how a pod is in the mesh: sidecar, waypoint, ambient once enrolled, opted out', () => {
  const amb = { 'istio.io/dataplane-mode': 'ambient' };
  assert.equal(podMesh(pod('a', 'x', { annotations: { 'sidecar.istio.io/status': '{}' } }), amb), 'sidecar');
  assert.equal(
    podMesh(pod('a', 'w', { labels: { 'gateway.istio.io/managed': 'istio.io-mesh-controller' } }), amb),
    'waypoint',
  );
  assert.equal(podMesh(pod('a', 'x'), amb), 'ambient (not enrolled)');
  assert.equal(
    podMesh(pod('a', 'x', { annotations: { 'ambient.istio.io/redirection': 'enabled' } }), amb),
    'ambient',
  );
  assert.equal(podMesh(pod('a', 'x', { labels: { 'istio.io/dataplane-mode': 'none' } }), amb), '-');
  assert.equal(podMesh(pod('b', 'x'), {}), '-');
});

test('the status: nodes, pods with their mesh mode, waypoints and who uses them', () => {
  const out = kubeStatus(
    { name: 'k8s', server: 'https://10.244.255.1:6443', kubeconfig: '/s/kubeconfig' },
    {
      nodes: [
        {
          metadata: { name: 'node-1' },
          status: { addresses: [{ type: 'InternalIP', address: '10.244.255.2' }], conditions: ready },
        },
      ],
      namespaces: [
        {
          metadata: {
            name: 'shop',
            labels: { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' },
          },
        },
      ],
      pods: [
        pod('shop', 'web-1', { annotations: { 'ambient.istio.io/redirection': 'enabled' } }),
        pod('shop', 'waypoint-1', {
          labels: {
            'gateway.istio.io/managed': 'istio.io-mesh-controller',
            'gateway.networking.k8s.io/gateway-name': 'waypoint',
          },
        }),
        pod('legacy', 'echo-1', { annotations: { 'sidecar.istio.io/status': '{}' } }, 2),
      ],
      services: [
        { metadata: { name: 'db', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'waypoint' } } },
      ],
      gateways: [
        {
          metadata: { name: 'waypoint', namespace: 'shop' },
          spec: { gatewayClassName: 'istio-waypoint' },
          status: {
            addresses: [{ value: '10.96.7.79' }],
            conditions: [{ type: 'Programmed', status: 'True' }],
          },
        },
      ],
    },
    Date.parse('2026-01-01T00:01:00Z'),
  );
  assert.match(out, /export KUBECONFIG=\/s\/kubeconfig/);
  assert.match(out, /node-1\s+10\.244\.255\.2\s+True\s+3/);
  assert.match(out, /legacy\/echo-1\s+10\.244\.1\.5\s+node-1\s+Running\s+2\/2\s+sidecar\s+2\s+60s/);
  assert.match(out, /shop\/web-1\s.*\s1\/1\s+ambient\s/);
  assert.match(out, /shop\/waypoint-1\s.*\swaypoint\s/);
  assert.match(out, /shop\/waypoint\s+10\.96\.7\.79\s+True\s+1\/1\s+namespace shop, service db/);
});
