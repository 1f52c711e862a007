import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigStore } from '../../../../src/istiod/config/store.js';
import type { ConfigEvent } from '../../../../src/istiod/config/source.js';
import type { ConfigObject, Service } from '../../../../src/istiod/config/types.js';

function svc(ns: string, name: string, ip = '10.96.0.1'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { clusterIP: ip } };
}
const add = (o: ConfigObject): ConfigEvent => ({
  type: 'add',
  key: `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`,
  object: o,
});

test('get and list by kind and namespace, sorted; listeners see every change', () => {
  const store = new ConfigStore();
  const seen: string[] = [];
  const off = store.onChange((e) => seen.push(`${e.type} ${e.key}`));
  store.apply(add(svc('b', 'x')));
  store.apply(add(svc('a', 'y')));
  store.apply(add(svc('a', 'b')));
  store.apply(add({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }));
  assert.deepEqual(
    store.list('Service').map((s) => `${s.metadata.namespace}/${s.metadata.name}`),
    ['a/b', 'a/y', 'b/x'],
  );
  assert.deepEqual(
    store.list('Service', 'a').map((s) => s.metadata.name),
    ['b', 'y'],
  );
  assert.equal(store.get('Service', 'b', 'x')?.spec.clusterIP, '10.96.0.1');
  assert.equal(store.get('Namespace', undefined, 'a')?.kind, 'Namespace');
  const prev = svc('b', 'x');
  store.apply({ type: 'update', key: 'Service/b/x', object: svc('b', 'x', '10.96.0.2'), previous: prev });
  assert.equal(store.get('Service', 'b', 'x')?.spec.clusterIP, '10.96.0.2');
  store.apply({ type: 'delete', key: 'Service/b/x', object: prev });
  assert.equal(store.get('Service', 'b', 'x'), undefined);
  assert.equal(store.size, 3);
  off();
  store.apply(add(svc('c', 'z')));
  assert.equal(seen.length, 6);
  assert.equal(seen[4], 'update Service/b/x');
});

test('Istio’s Gateway and Gateway API’s Gateway of the same name are two objects', () => {
  const store = new ConfigStore();
  const meta = { name: 'bookinfo-gateway', namespace: 'bookinfo' };
  const classic = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: meta,
    spec: { selector: { istio: 'ingressgateway' }, servers: [] },
  } as ConfigObject;
  const gwApi = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: meta,
    spec: { gatewayClassName: 'istio', listeners: [] },
  } as ConfigObject;
  store.apply({ type: 'add', key: 'IstioGateway/bookinfo/bookinfo-gateway', object: classic });
  store.apply({ type: 'add', key: 'Gateway/bookinfo/bookinfo-gateway', object: gwApi });
  assert.equal(
    store.get('IstioGateway', 'bookinfo', 'bookinfo-gateway')?.spec.selector?.istio,
    'ingressgateway',
  );
  assert.equal(store.get('Gateway', 'bookinfo', 'bookinfo-gateway')?.spec.gatewayClassName, 'istio');
  store.apply({ type: 'delete', key: 'IstioGateway/bookinfo/bookinfo-gateway', object: classic });
  assert.equal(store.list('IstioGateway').length, 0);
  assert.equal(store.list('Gateway').length, 1, 'deleting one leaves the other');
});
