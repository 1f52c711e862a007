import { test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  LoadBalancing,
  Service as WireService,
  Workload as WireWorkload,
} from '../../../../src/xds/workload-types.js';
import { decideOutbound, type DecideOptions, type Plan } from '../../../../src/ztunnel/outbound/decide.js';
import type { StateStore } from '../../../../src/ztunnel/state/store.js';
import {
  pod,
  seeded,
  type PodOpts,
  storeOf,
  svc,
  svcKey,
  waypointByHost,
  waypointByIp,
  wl,
} from '../fixtures.js';

const WEB = svcKey('web');
const opts = (over: Partial<DecideOptions> = {}): DecideOptions => ({
  selfPorts: [15001, 15006, 15008],
  nodeName: 'node1',
  random: seeded(1),
  ...over,
});

function decide(
  store: StateStore,
  dst: string,
  port: number,
  o: Partial<DecideOptions> = {},
  from = 'client',
): Plan {
  return decideOutbound(wl(store, from), { ip: dst, port }, store, opts(o));
}

const client = (extra: PodOpts = {}): WireWorkload => pod('client', '10.0.1.1', extra);
const backend = (name: string, address: string, extra: Parameters<typeof pod>[2] = {}): WireWorkload =>
  pod(name, address, { services: { [WEB]: [[80, 8080]] }, ...extra });

test('pod-addressed, HBONE destination: tunnel to the pod on 15008 with its identity', () => {
  const store = storeOf([client(), pod('server', '10.0.2.2', { serviceAccount: 'srv' })]);
  const p = decide(store, '10.0.2.2', 9000);
  assert.equal(p.kind, 'hbone');
  if (p.kind !== 'hbone') return;
  assert.deepEqual(p.target, { ip: '10.0.2.2', port: 9000 });
  assert.deepEqual(p.gateway, { ip: '10.0.2.2', port: 15008 });
  assert.deepEqual(p.expectedIdentities, ['spiffe://cluster.local/ns/default/sa/srv']);
  assert.equal(p.dstWorkload.name, 'server');
  assert.equal(p.service, undefined);
});

test('pod-addressed, destination outside ambient (tunnel NONE): plain TCP', () => {
  const store = storeOf([client(), pod('legacy', '10.0.2.3', { tunnelProtocol: 0 })]);
  const p = decide(store, '10.0.2.3', 80);
  assert.deepEqual(p.kind === 'plaintext' && [p.target, p.dstWorkload.name], [
    { ip: '10.0.2.3', port: 80 },
    'legacy',
  ]);
});

test('unknown destination: passthrough to the original address', () => {
  const store = storeOf([client()]);
  assert.deepEqual(decide(store, '93.184.216.34', 443), {
    kind: 'passthrough',
    target: { ip: '93.184.216.34', port: 443 },
  });
});

test('service VIP: an endpoint is chosen and reached on its own target port', () => {
  const store = storeOf([client(), svc('web', '10.96.0.10'), backend('b1', '10.0.2.1')]);
  const p = decide(store, '10.96.0.10', 80);
  assert.equal(p.kind, 'hbone');
  if (p.kind !== 'hbone') return;
  assert.deepEqual(p.target, { ip: '10.0.2.1', port: 8080 });
  assert.deepEqual(p.gateway, { ip: '10.0.2.1', port: 15008 });
  assert.equal(p.service?.key, WEB);
  assert.equal(p.dstWorkload.name, 'b1');
});

test('service VIP with a non-HBONE endpoint: plain TCP to endpoint:targetPort', () => {
  const store = storeOf([
    client(),
    svc('web', '10.96.0.10'),
    backend('b1', '10.0.2.1', { tunnelProtocol: 0 }),
  ]);
  const p = decide(store, '10.96.0.10', 80);
  assert.deepEqual(p.kind === 'plaintext' && p.target, { ip: '10.0.2.1', port: 8080 });
});

test('service subject alt names join the expected identities', () => {
  const store = storeOf([
    client(),
    svc('web', '10.96.0.10', { subjectAltNames: ['spiffe://cluster.local/ns/default/sa/canary'] }),
    backend('b1', '10.0.2.1'),
  ]);
  const p = decide(store, '10.96.0.10', 80);
  assert.deepEqual(p.kind === 'hbone' && p.expectedIdentities, [
    'spiffe://cluster.local/ns/default/sa/b1',
    'spiffe://cluster.local/ns/default/sa/canary',
  ]);
});

test('a port the service does not have: denied, naming service and port', () => {
  const store = storeOf([client(), svc('web', '10.96.0.10'), backend('b1', '10.0.2.1')]);
  assert.deepEqual(decide(store, '10.96.0.10', 81), {
    kind: 'deny',
    code: 'no-service-port',
    reason: `service ${WEB} has no port 81`,
  });
});

test('no endpoints, or only unhealthy ones: denied naming the service; ALLOW_ALL admits unhealthy ones', () => {
  const empty = storeOf([client(), svc('web', '10.96.0.10')]);
  assert.deepEqual(decide(empty, '10.96.0.10', 80), {
    kind: 'deny',
    code: 'no-healthy-endpoint',
    reason: `service ${WEB} has no healthy endpoint for port 80`,
  });
  const sick = storeOf([client(), svc('web', '10.96.0.10'), backend('b1', '10.0.2.1', { status: 1 })]);
  assert.equal(decide(sick, '10.96.0.10', 80).kind, 'deny');
  const allowAll = storeOf([
    client(),
    svc('web', '10.96.0.10', { loadBalancing: { healthPolicy: 1 } }),
    backend('b1', '10.0.2.1', { status: 1 }),
  ]);
  assert.equal(decide(allowAll, '10.96.0.10', 80).kind, 'hbone');
});

test('unhealthy endpoints are skipped while healthy ones exist', () => {
  const store = storeOf([
    client(),
    svc('web', '10.96.0.10'),
    backend('sick', '10.0.2.1', { status: 1 }),
    backend('well', '10.0.2.2'),
  ]);
  const random = seeded(7);
  for (let i = 0; i < 50; i++) {
    const p = decide(store, '10.96.0.10', 80, { random });
    assert.equal(p.kind === 'hbone' && p.dstWorkload.name, 'well');
  }
});

function counts(
  store: StateStore,
  n: number,
  o: Partial<DecideOptions> = {},
  dst = '10.96.0.10',
): Map<string, number> {
  const random = seeded(42);
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const p = decide(store, dst, 80, { random, ...o });
    const name = p.kind === 'hbone' || p.kind === 'plaintext' ? p.dstWorkload.name : p.kind;
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

test('load balancing is random, weighted by capacity', () => {
  const store = storeOf([
    client(),
    svc('web', '10.96.0.10'),
    backend('small', '10.0.2.1'),
    backend('big', '10.0.2.2', { capacity: { value: 3 } }),
    backend('zero', '10.0.2.3', { capacity: { value: 0 } }),
  ]);
  const c = counts(store, 8000);
  const big = (c.get('big') ?? 0) / 8000;
  assert.ok(big > 0.72 && big < 0.78, `big got ${big}`);
  assert.equal(c.get('zero'), undefined, 'capacity 0 is never picked');
  const even = storeOf([
    client(),
    svc('web', '10.96.0.10'),
    ...[1, 2, 3, 4].map((i) => backend(`b${i}`, `10.0.2.${i}`)),
  ]);
  for (const [, n] of counts(even, 8000)) assert.ok(n > 1800 && n < 2200, `uniform share ${n}`);
});

const zoned = (lb: WireService['loadBalancing'], extra: WireWorkload[] = []): StateStore =>
  storeOf([
    client({ locality: { region: 'r1', zone: 'z1' } }),
    svc('web', '10.96.0.10', { loadBalancing: lb }),
    backend('near', '10.0.2.1', { locality: { region: 'r1', zone: 'z1' } }),
    backend('region', '10.0.2.2', { locality: { region: 'r1', zone: 'z2' } }),
    backend('far', '10.0.2.3', { locality: { region: 'r2', zone: 'z1' } }),
    ...extra,
  ]);

test('locality FAILOVER prefers the endpoints sharing the most leading scopes, then fails over', () => {
  const prefs: LoadBalancing = { routingPreference: [1, 2], mode: 2 }; // REGION, ZONE
  assert.deepEqual([...counts(zoned(prefs), 200)], [['near', 200]]);
  // near gone unhealthy: the same-region endpoint is next; zone of 'far' matches but region does not
  const store = storeOf([
    client({ locality: { region: 'r1', zone: 'z1' } }),
    svc('web', '10.96.0.10', { loadBalancing: prefs }),
    backend('near', '10.0.2.1', { locality: { region: 'r1', zone: 'z1' }, status: 1 }),
    backend('region', '10.0.2.2', { locality: { region: 'r1', zone: 'z2' } }),
    backend('far', '10.0.2.3', { locality: { region: 'r2', zone: 'z1' } }),
  ]);
  assert.deepEqual([...counts(store, 200)], [['region', 200]]);
});

test('locality STRICT only uses endpoints that share every scope; none: denied', () => {
  const strict: LoadBalancing = { routingPreference: [1, 2], mode: 1 }; // REGION, ZONE
  assert.deepEqual([...counts(zoned(strict), 100)], [['near', 100]]);
  const none = storeOf([
    client({ locality: { region: 'r1', zone: 'z9' } }),
    svc('web', '10.96.0.10', { loadBalancing: strict }),
    backend('region', '10.0.2.2', { locality: { region: 'r1', zone: 'z2' } }),
  ]);
  assert.equal(decide(none, '10.96.0.10', 80).kind, 'deny');
});

test('routing preferences without a mode are ignored; NODE and CLUSTER scopes compare node and cluster', () => {
  const c = counts(zoned({ routingPreference: [1, 2] }), 3000);
  assert.equal(c.size, 3);
  const store = storeOf([
    client({ node: 'node1', clusterId: 'c1' }),
    svc('web', '10.96.0.10', { loadBalancing: { routingPreference: [5, 4], mode: 2 } }),
    backend('same-node', '10.0.2.1', { node: 'node1', clusterId: 'c1' }),
    backend('other-node', '10.0.2.2', { node: 'node2', clusterId: 'c1' }),
    backend('other-cluster', '10.0.2.3', { node: 'node1', clusterId: 'c2' }),
  ]);
  assert.deepEqual([...counts(store, 100)], [['same-node', 100]]);
});

test('named target ports are resolved per endpoint; an endpoint without that port is not used', () => {
  const store = storeOf([
    client(),
    svc('web', '10.96.0.10', { ports: [{ servicePort: 80, targetPort: 0 }] }),
    pod('a', '10.0.2.1', { services: { [WEB]: [[80, 9000]] } }),
    pod('b', '10.0.2.2', { services: { [WEB]: [[80, 9001]] } }),
    pod('c', '10.0.2.3', { services: { [WEB]: [[443, 8443]] } }),
  ]);
  const seen = new Map<string, number>();
  const random = seeded(3);
  for (let i = 0; i < 200; i++) {
    const p = decide(store, '10.96.0.10', 80, { random });
    if (p.kind !== 'hbone') assert.fail(`unexpected ${p.kind}`);
    seen.set(p.dstWorkload.name, p.target.port);
  }
  assert.deepEqual([...seen].sort(), [
    ['a', 9000],
    ['b', 9001],
  ]);
});

test('target port 0 means the service port (endpoint mapping 0, or a service target 0 with no endpoint ports)', () => {
  const zeroMapped = storeOf([
    client(),
    svc('web', '10.96.0.10'),
    pod('a', '10.0.2.1', { services: { [WEB]: [[80, 0]] } }),
  ]);
  const z = decide(zeroMapped, '10.96.0.10', 80);
  assert.deepEqual(z.kind === 'hbone' && z.target, { ip: '10.0.2.1', port: 80 });
  const bare = storeOf([
    client(),
    svc('web', '10.96.0.10', { ports: [{ servicePort: 80, targetPort: 0 }] }),
    pod('a', '10.0.2.1', { services: { [WEB]: [] } }),
  ]);
  const p = decide(bare, '10.96.0.10', 80);
  assert.deepEqual(p.kind === 'hbone' && p.target, { ip: '10.0.2.1', port: 80 });
});

const WP = svcKey('wp');
const waypointPods = (): WireWorkload[] => [
  pod('wp-1', '10.0.3.1', { serviceAccount: 'wp', services: { [WP]: [[15008, 15008]] } }),
];

test('service with a waypoint: HBONE to a waypoint pod, authority = the original VIP:port', () => {
  const store = storeOf([
    client(),
    svc('wp', '10.96.0.99', { ports: [{ servicePort: 15008, targetPort: 15008 }] }),
    ...waypointPods(),
    svc('web', '10.96.0.10', { waypoint: waypointByHost('wp') }),
    backend('b1', '10.0.2.1'),
  ]);
  const p = decide(store, '10.96.0.10', 80);
  assert.equal(p.kind, 'waypoint');
  if (p.kind !== 'waypoint') return;
  assert.deepEqual(p.target, { ip: '10.96.0.10', port: 80 });
  assert.deepEqual(p.gateway, { ip: '10.0.3.1', port: 15008 });
  assert.deepEqual(p.expectedIdentities, ['spiffe://cluster.local/ns/default/sa/wp']);
  assert.equal(p.service?.key, WEB);
  assert.equal(p.dstWorkload, undefined);
  // a port the service lacks still goes to the waypoint (it decides)
  assert.equal(decide(store, '10.96.0.10', 81).kind, 'waypoint');
});

test('the waypoint itself goes direct to the endpoints (no loop)', () => {
  const store = storeOf([
    client(),
    svc('wp', '10.96.0.99', { ports: [{ servicePort: 15008, targetPort: 15008 }] }),
    ...waypointPods(),
    svc('web', '10.96.0.10', { waypoint: waypointByHost('wp') }),
    backend('b1', '10.0.2.1', { waypoint: waypointByHost('wp') }),
  ]);
  const fromWp = decide(store, '10.96.0.10', 80, {}, 'wp-1');
  assert.deepEqual(fromWp.kind === 'hbone' && fromWp.target, { ip: '10.0.2.1', port: 8080 });
  const podFromWp = decide(store, '10.0.2.1', 8080, {}, 'wp-1');
  assert.equal(podFromWp.kind, 'hbone');
});

test('pod-addressed traffic to a workload with a waypoint: HBONE to the waypoint, authority = pod IP:port', () => {
  const store = storeOf([
    client(),
    svc('wp', '10.96.0.99', { ports: [{ servicePort: 15008, targetPort: 15008 }] }),
    ...waypointPods(),
    svc('web', '10.96.0.10'),
    backend('b1', '10.0.2.1', { waypoint: waypointByHost('wp') }),
  ]);
  const p = decide(store, '10.0.2.1', 8080);
  assert.equal(p.kind, 'waypoint');
  if (p.kind !== 'waypoint') return;
  assert.deepEqual(p.target, { ip: '10.0.2.1', port: 8080 });
  assert.deepEqual(p.gateway, { ip: '10.0.3.1', port: 15008 });
  assert.equal(p.dstWorkload?.name, 'b1');
  // service-addressed traffic follows the service's (absent) waypoint, not the workload's
  assert.equal(decide(store, '10.96.0.10', 80).kind, 'hbone');
});

test('waypoint by address: a workload IP or a waypoint service VIP', () => {
  const byPodIp = storeOf([
    client(),
    ...waypointPods(),
    svc('web', '10.96.0.10', { waypoint: waypointByIp('10.0.3.1') }),
    backend('b1', '10.0.2.1'),
  ]);
  const p = decide(byPodIp, '10.96.0.10', 80);
  assert.deepEqual(p.kind === 'waypoint' && p.gateway, { ip: '10.0.3.1', port: 15008 });
  assert.equal(decide(byPodIp, '10.96.0.10', 80, {}, 'wp-1').kind, 'hbone', 'the waypoint pod is exempt');
  const byVip = storeOf([
    client(),
    svc('wp', '10.96.0.99', { ports: [{ servicePort: 15008, targetPort: 15008 }] }),
    ...waypointPods(),
    backend('b1', '10.0.2.1', { waypoint: waypointByIp('10.96.0.99') }),
  ]);
  const q = decide(byVip, '10.0.2.1', 8080);
  assert.deepEqual(q.kind === 'waypoint' && q.gateway, { ip: '10.0.3.1', port: 15008 });
  assert.equal(decide(byVip, '10.0.2.1', 8080, {}, 'wp-1').kind, 'hbone');
});

test('a waypoint that is unknown or has no endpoint: denied', () => {
  const unknown = storeOf([
    client(),
    svc('web', '10.96.0.10', { waypoint: waypointByHost('ghost') }),
    backend('b1', '10.0.2.1'),
  ]);
  assert.deepEqual(decide(unknown, '10.96.0.10', 80), {
    kind: 'deny',
    code: 'waypoint-not-found',
    reason: `waypoint ${svcKey('ghost')} is not a known service`,
  });
  const empty = storeOf([
    client(),
    svc('wp', '10.96.0.99'),
    svc('web', '10.96.0.10', { waypoint: waypointByHost('wp') }),
    backend('b1', '10.0.2.1'),
  ]);
  assert.equal((decide(empty, '10.96.0.10', 80) as { code?: string }).code, 'waypoint-no-endpoint');
  const badIp = storeOf([client(), svc('web', '10.96.0.10', { waypoint: waypointByIp('10.9.9.9') })]);
  assert.equal((decide(badIp, '10.96.0.10', 80) as { code?: string }).code, 'waypoint-not-found');
});

test("self-calls to ztunnel's own ports are refused; the same port on another pod is not", () => {
  const store = storeOf([client(), pod('server', '10.0.2.2')]);
  for (const [ipText, port] of [
    ['127.0.0.1', 15001],
    ['::1', 15008],
    ['10.0.1.1', 15006],
    ['192.168.0.5', 15008],
  ] as const) {
    const p = decide(store, ipText, port, { nodeIps: ['192.168.0.5'] });
    assert.equal(p.kind === 'deny' && p.code, 'self-call', `${ipText}:${port}`);
  }
  assert.equal(decide(store, '10.0.2.2', 15008).kind, 'hbone');
  assert.equal(decide(store, '127.0.0.1', 8080).kind, 'passthrough');
});

test('a source workload on another node is not proxied', () => {
  const store = storeOf([client({ node: 'node2' })]);
  const p = decide(store, '10.0.2.2', 80);
  assert.equal(p.kind === 'deny' && p.code, 'source-not-local');
  assert.equal(decide(store, '10.0.2.2', 80, { nodeName: '' }).kind, 'passthrough');
});

test('load-balancing mode PASSTHROUGH sends to the original VIP', () => {
  const store = storeOf([
    client(),
    svc('web', '10.96.0.10', { loadBalancing: { mode: 3 } }),
    backend('b1', '10.0.2.1'),
  ]);
  assert.deepEqual(decide(store, '10.96.0.10', 80), {
    kind: 'passthrough',
    target: { ip: '10.96.0.10', port: 80 },
  });
});

test('IPv6: VIPs and pods by IPv6; the endpoint IP of the caller’s family is used', () => {
  const store = storeOf([
    client(),
    svc('web', ['10.96.0.10', 'fd00:96::10']),
    backend('b1', '', { ips: ['10.0.2.1', 'fd00:2::1'] }),
  ]);
  const v6 = decide(store, 'fd00:96::10', 80);
  assert.deepEqual(v6.kind === 'hbone' && [v6.target, v6.gateway], [
    { ip: 'fd00:2::1', port: 8080 },
    { ip: 'fd00:2::1', port: 15008 },
  ]);
  const v4 = decide(store, '10.96.0.10', 80);
  assert.deepEqual(v4.kind === 'hbone' && v4.target, { ip: '10.0.2.1', port: 8080 });
  const pod6 = decide(store, 'fd00:2:0::1', 8080);
  assert.equal(pod6.kind === 'hbone' && pod6.dstWorkload.name, 'b1', 'found in a non-canonical spelling');
});
