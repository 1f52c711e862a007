/**
 * The waypoint controller's wanted objects and Gateway status, without a cluster: owned by the
 * Gateway, labelled as Istio labels them, valid against the Kubernetes schemas; status conditions that
 * keep their transition time while unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  gatewayObjects,
  gatewayStatus,
  INGRESS_PROFILE,
  notAWaypoint,
  waypointObjects,
  waypointStatus,
  type GatewayObject,
} from '../../../src/istiod/kube-waypoint-objects.js';
import { schemaProblems } from '../kube/install/schema-validate.js';
import type { KubeObject } from '../../../src/kube/install/objects.js';

const GW: GatewayObject = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'waypoint', namespace: 'demo', uid: 'u-1', generation: 3, labels: { team: 'a' } },
  spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
};
const SETTINGS = {
  image: 'meshlite/waypoint:0.1.0',
  xdsAddress: 'istiod.istio-system.svc:15010',
  trustDomain: 'cluster.local',
  clusterId: 'Kubernetes',
};

test('a waypoint Gateway gets a ServiceAccount, Deployment and Service it owns, valid for the API server', async () => {
  const objs = waypointObjects(GW, SETTINGS);
  assert.deepEqual(
    objs.map((o) => o.kind),
    ['ServiceAccount', 'Deployment', 'Service'],
  );
  for (const o of objs) {
    assert.deepEqual(await schemaProblems(o as KubeObject), [], o.kind);
    assert.deepEqual(o.metadata.ownerReferences, [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        name: 'waypoint',
        uid: 'u-1',
        controller: true,
      },
    ]);
    assert.equal(o.metadata.labels?.['gateway.istio.io/managed'], 'istio.io-mesh-controller');
    assert.equal(o.metadata.labels?.['gateway.networking.k8s.io/gateway-name'], 'waypoint');
    assert.equal(o.metadata.labels?.team, 'a', "the Gateway's labels are carried");
  }
  const svc = objs[2] as KubeObject & {
    spec: { ports: Array<{ name: string; port: number; appProtocol?: string }> };
  };
  assert.deepEqual(
    svc.spec.ports.map((p) => [p.name, p.port, p.appProtocol]),
    [
      ['status-port', 15021, undefined],
      ['mesh', 15008, 'hbone'],
    ],
  );
  const pod = (
    objs[1] as KubeObject & {
      spec: {
        template: { metadata: { labels: Record<string, string> }; spec: { serviceAccountName: string } };
      };
    }
  ).spec.template;
  assert.equal(
    pod.spec.serviceAccountName,
    'waypoint',
    'identity spiffe://cluster.local/ns/demo/sa/waypoint',
  );
  assert.equal(pod.metadata.labels['istio.io/dataplane-mode'], 'none');
});

test('the service-account annotation renames the account; other classes and deleted Gateways are not handled', () => {
  const gw = {
    ...GW,
    metadata: { ...GW.metadata, annotations: { 'gateway.istio.io/service-account': 'wp-sa' } },
  };
  const objs = waypointObjects(gw, SETTINGS);
  assert.equal(objs[0]!.metadata.name, 'wp-sa');
  assert.equal(notAWaypoint(GW), undefined);
  assert.match(notAWaypoint({ ...GW, spec: { gatewayClassName: 'istio' } }) ?? '', /not istio-waypoint/);
  assert.equal(
    notAWaypoint({ ...GW, metadata: { ...GW.metadata, deletionTimestamp: 'x' } }),
    'being deleted',
  );
});

test('status: Programmed with the cluster IP and host name; a conflict or no IP is not Programmed', () => {
  const s = waypointStatus(GW, '10.96.0.20', { now: 't1' });
  assert.deepEqual(s.addresses, [
    { type: 'IPAddress', value: '10.96.0.20' },
    { type: 'Hostname', value: 'waypoint.demo.svc.cluster.local' },
  ]);
  const programmed = s.conditions!.find((c) => c.type === 'Programmed')!;
  assert.equal(programmed.status, 'True');
  assert.equal(
    programmed.message,
    'Resource programmed, assigned to service(s) waypoint.demo.svc.cluster.local:15008',
  );
  assert.equal(programmed.observedGeneration, 3);
  // Unchanged conditions keep their transition time; a change takes the new one.
  const again = waypointStatus({ ...GW, status: s }, '10.96.0.20', { now: 't2' });
  assert.equal(again.conditions!.find((c) => c.type === 'Programmed')!.lastTransitionTime, 't1');
  const conflict = waypointStatus({ ...GW, status: s }, undefined, {
    now: 't3',
    conflict: 'Service demo/waypoint exists',
  });
  const p2 = conflict.conditions!.find((c) => c.type === 'Programmed')!;
  assert.deepEqual([p2.status, p2.reason, p2.lastTransitionTime], ['False', 'Invalid', 't3']);
  assert.deepEqual(conflict.addresses, s.addresses, 'addresses are never removed');
});

test('class istio: <gw>-istio objects, a LoadBalancer Service with one port per listener port, valid', async () => {
  const gw: GatewayObject = {
    ...GW,
    metadata: { ...GW.metadata, name: 'ingress' },
    spec: {
      gatewayClassName: 'istio',
      listeners: [
        { name: 'http', port: 80, protocol: 'HTTP' },
        { name: 'http-alt', port: 80, protocol: 'HTTP' },
        { name: 'web', port: 8080, protocol: 'HTTP' },
      ],
    },
  };
  const objs = gatewayObjects(gw, INGRESS_PROFILE, { ...SETTINGS, image: 'meshlite/gateway:0.1.0' });
  assert.deepEqual(
    objs.map((o) => `${o.kind}/${o.metadata.name}`),
    ['ServiceAccount/ingress-istio', 'Deployment/ingress-istio', 'Service/ingress-istio'],
  );
  for (const o of objs) {
    assert.deepEqual(await schemaProblems(o as KubeObject), [], o.kind);
    assert.equal(o.metadata.labels?.['gateway.istio.io/managed'], 'istio.io-gateway-controller');
    assert.equal(o.metadata.ownerReferences?.[0]?.name, 'ingress');
  }
  const svc = objs[2] as KubeObject & {
    spec: { type: string; ports: Array<{ name: string; port: number }> };
  };
  assert.equal(svc.spec.type, 'LoadBalancer');
  assert.deepEqual(
    svc.spec.ports.map((p) => [p.name, p.port]),
    [
      ['status-port', 15021],
      ['http', 80],
      ['web', 8080],
    ],
  );
  const container = (
    objs[1] as unknown as {
      spec: {
        template: {
          spec: { containers: Array<{ args: string[]; ports: Array<{ containerPort: number }> }> };
        };
      };
    }
  ).spec.template.spec.containers[0]!;
  assert.deepEqual(container.args, ['--name', 'ingress-istio']);
  assert.deepEqual(
    container.ports.map((p) => p.containerPort),
    [15020, 15021, 80, 8080],
  );
  // The annotation Istio reads picks another Service type.
  const cip = gatewayObjects(
    { ...gw, metadata: { ...gw.metadata, annotations: { 'networking.istio.io/service-type': 'ClusterIP' } } },
    INGRESS_PROFILE,
    SETTINGS,
  )[2] as KubeObject & { spec: { type: string } };
  assert.equal(cip.spec.type, 'ClusterIP');

  // Status: a LoadBalancer without an address is not Programmed (AddressNotAssigned); with one it is.
  const pending = gatewayStatus(
    gw,
    INGRESS_PROFILE,
    { clusterIp: '10.96.0.9', type: 'LoadBalancer' },
    { now: 't' },
  );
  const p1 = pending.conditions!.find((c) => c.type === 'Programmed')!;
  assert.deepEqual([p1.status, p1.reason], ['False', 'AddressNotAssigned']);
  assert.deepEqual(pending.addresses, []);
  const ready = gatewayStatus(
    gw,
    INGRESS_PROFILE,
    { clusterIp: '10.96.0.9', type: 'LoadBalancer', ingress: [{ ip: '203.0.113.7' }] },
    { now: 't' },
  );
  assert.deepEqual(ready.addresses, [
    { type: 'IPAddress', value: '203.0.113.7' },
    { type: 'Hostname', value: 'ingress-istio.demo.svc.cluster.local' },
  ]);
  assert.equal(
    ready.conditions!.find((c) => c.type === 'Programmed')!.message,
    'Resource programmed, assigned to service(s) ingress-istio.demo.svc.cluster.local:80,8080',
  );
});
