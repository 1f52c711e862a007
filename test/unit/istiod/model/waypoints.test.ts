import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbientIndex, ns, pod, service, svc, waypoint, workload } from './fixtures.js';
import { TunnelProtocol } from '../../../../src/xds/workload-types.js';

const AMBIENT = { 'istio.io/dataplane-mode': 'ambient' };
const viaIp = { address: { network: '', address: new Uint8Array([10, 96, 9, 9]) }, hboneMtlsPort: 15008 };

function setup(nsLabels: Record<string, string>): AmbientIndex {
  const idx = new AmbientIndex();
  idx.upsert(ns('app', { ...AMBIENT, ...nsLabels }));
  idx.upsert(pod('a', { labels: { app: 'web' } }));
  idx.upsert(svc('web', { app: 'web' }));
  return idx;
}

test('namespace use-waypoint binds services to a service waypoint (the default), not workloads', () => {
  const idx = setup({ 'istio.io/use-waypoint': 'wp' });
  assert.equal(service(idx, 'web').waypoint, undefined, 'no waypoint until the Gateway exists');
  const c = idx.upsert(waypoint('wp'));
  assert.ok(c.addresses.upserted.has('app/web.app.svc.cluster.local'));
  assert.deepEqual(service(idx, 'web').waypoint, viaIp);
  assert.equal(workload(idx, 'a').waypoint, undefined);
});

test('the waypoint Service gives a hostname address, and is not bound to itself', () => {
  const idx = setup({ 'istio.io/use-waypoint': 'wp' });
  idx.upsert(waypoint('wp'));
  const c = idx.upsert(svc('wp', { 'gateway.networking.k8s.io/gateway-name': 'wp' }, { ip: '10.96.9.9' }));
  assert.ok(c.addresses.upserted.has('app/web.app.svc.cluster.local'));
  assert.deepEqual(service(idx, 'web').waypoint, {
    hostname: { namespace: 'app', hostname: 'wp.app.svc.cluster.local' },
    hboneMtlsPort: 15008,
  });
  assert.equal(service(idx, 'wp').waypoint, undefined);
});

test('waypoint-for workload binds workloads only; all binds both; none binds nothing', () => {
  const idx = setup({ 'istio.io/use-waypoint': 'wp' });
  idx.upsert(waypoint('wp', { for: 'workload' }));
  assert.deepEqual(workload(idx, 'a').waypoint, viaIp);
  assert.equal(service(idx, 'web').waypoint, undefined);
  idx.upsert(waypoint('wp', { for: 'all' }));
  assert.deepEqual(workload(idx, 'a').waypoint, viaIp);
  assert.deepEqual(service(idx, 'web').waypoint, viaIp);
  idx.upsert(waypoint('wp', { for: 'none' }));
  assert.equal(workload(idx, 'a').waypoint, undefined);
  assert.equal(service(idx, 'web').waypoint, undefined);
});

test('narrower wins: pod label over namespace, service label over namespace; none opts out', () => {
  const idx = setup({ 'istio.io/use-waypoint': 'nswp' });
  idx.upsert(waypoint('nswp', { for: 'all' }));
  const podwp = waypoint('podwp', { for: 'all' });
  podwp.status = { addresses: [{ type: 'IPAddress', value: '10.96.9.10' }] };
  idx.upsert(podwp);
  idx.upsert(pod('a', { labels: { app: 'web', 'istio.io/use-waypoint': 'podwp' } }));
  idx.upsert(pod('b', { labels: { 'istio.io/use-waypoint': 'none' }, ip: '10.0.0.2' }));
  idx.upsert(pod('c', { ip: '10.0.0.3' }));
  assert.deepEqual(workload(idx, 'a').waypoint?.address?.address, new Uint8Array([10, 96, 9, 10]));
  assert.equal(workload(idx, 'b').waypoint, undefined);
  assert.deepEqual(workload(idx, 'c').waypoint, viaIp);
  idx.upsert(svc('web', { app: 'web' }, { labels: { 'istio.io/use-waypoint': 'podwp' } }));
  idx.upsert(svc('off', {}, { labels: { 'istio.io/use-waypoint': 'none' }, ip: '10.96.0.12' }));
  assert.deepEqual(service(idx, 'web').waypoint?.address?.address, new Uint8Array([10, 96, 9, 10]));
  assert.equal(service(idx, 'off').waypoint, undefined);
});

test('use-waypoint-namespace points to a waypoint in another namespace', () => {
  const idx = setup({ 'istio.io/use-waypoint': 'shared', 'istio.io/use-waypoint-namespace': 'infra' });
  idx.upsert(waypoint('shared', { ns: 'infra' }));
  assert.deepEqual(service(idx, 'web').waypoint, viaIp);
  idx.remove('Gateway', 'infra', 'shared');
  assert.equal(service(idx, 'web').waypoint, undefined);
});

test("a waypoint's own pods get no waypoint and speak HBONE natively", () => {
  const idx = setup({ 'istio.io/use-waypoint': 'wp' });
  idx.upsert(waypoint('wp', { for: 'all' }));
  idx.upsert(pod('wp-abc', { labels: { 'gateway.networking.k8s.io/gateway-name': 'wp' }, ip: '10.0.0.9' }));
  const w = workload(idx, 'wp-abc');
  assert.equal(w.waypoint, undefined);
  assert.equal(w.tunnelProtocol, TunnelProtocol.HBONE);
  assert.equal(w.nativeTunnel, true);
});

test('a Gateway of another class or without an HBONE listener is not a waypoint', () => {
  const idx = setup({ 'istio.io/use-waypoint': 'wp' });
  const gw = waypoint('wp');
  gw.spec.gatewayClassName = 'istio';
  idx.upsert(gw);
  assert.equal(service(idx, 'web').waypoint, undefined);
  const gw2 = waypoint('wp');
  gw2.spec.listeners = [{ name: 'http', port: 80, protocol: 'HTTP' }];
  idx.upsert(gw2);
  assert.equal(service(idx, 'web').waypoint, undefined);
});

test('workloads outside the mesh get no waypoint', () => {
  const idx = new AmbientIndex();
  idx.upsert(ns('app', { 'istio.io/use-waypoint': 'wp' }));
  idx.upsert(waypoint('wp', { for: 'workload' }));
  idx.upsert(pod('a'));
  assert.equal(workload(idx, 'a').waypoint, undefined);
});
