import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertService } from '../../../../src/ztunnel/state/convert-service.js';
import { convertWorkload } from '../../../../src/ztunnel/state/convert-workload.js';
import {
  bytesToIp,
  cidrContains,
  isLoopback,
  normalizeIp,
  parseIp,
} from '../../../../src/ztunnel/state/ip.js';
import { ip, pod, svc, waypointByHost } from '../fixtures.js';

test('workload defaults: trust domain cluster.local, service account default, capacity 1, healthy, HBONE word', () => {
  const c = convertWorkload({
    uid: 'u',
    name: 'a',
    namespace: 'ns',
    addresses: [ip('10.0.0.1')],
    tunnelProtocol: 1,
  });
  assert.ok(c.ok);
  const w = c.value;
  assert.deepEqual(w.identity, { trustDomain: 'cluster.local', namespace: 'ns', serviceAccount: 'default' });
  assert.equal(w.identityUri, 'spiffe://cluster.local/ns/ns/sa/default');
  assert.equal(w.capacity, 1);
  assert.equal(w.healthy, true);
  assert.equal(w.protocol, 'HBONE');
  assert.equal(w.workloadType, 'deployment');
  assert.deepEqual(w.ips, ['10.0.0.1']);
});

test('workload fields convert: waypoint by hostname, services map, locality, status, capacity', () => {
  const c = convertWorkload({
    ...pod('a', 'fd00::1', { services: { 'default/web.default.svc.cluster.local': [[80, 0]] } }),
    trustDomain: 'td.example',
    waypoint: waypointByHost('wp'),
    locality: { region: 'r', zone: 'z' },
    status: 1,
    capacity: { value: 3 },
    workloadType: 2,
    authorizationPolicies: ['default/p'],
  });
  assert.ok(c.ok);
  const w = c.value;
  assert.equal(w.identityUri, 'spiffe://td.example/ns/default/sa/a');
  assert.deepEqual(w.waypoint, {
    kind: 'hostname',
    namespace: 'default',
    hostname: 'wp.default.svc.cluster.local',
    key: 'default/wp.default.svc.cluster.local',
    hbonePort: 15008,
  });
  assert.equal(w.services.get('default/web.default.svc.cluster.local')?.get(80), 0);
  assert.deepEqual(w.locality, { region: 'r', zone: 'z', subzone: '' });
  assert.equal(w.healthy, false);
  assert.equal(w.capacity, 3);
  assert.equal(w.workloadType, 'pod');
  assert.deepEqual(w.ips, ['fd00::1']);
});

test('workload validation names every bad field', () => {
  const c = convertWorkload({
    uid: '',
    name: 'a',
    namespace: 'ns',
    addresses: [new Uint8Array(3)],
    tunnelProtocol: 2,
    serviceAccount: 'bad/sa',
    services: { nokey: { ports: [] }, 'ns/h': { ports: [{ servicePort: 0, targetPort: 1 }] } },
    waypoint: { hostname: { namespace: 'ns' } },
    authorizationPolicies: ['nope'],
    status: 9 as 0,
  });
  assert.ok(!c.ok);
  assert.deepEqual(c.errors, [
    'workload.uid: empty',
    'workload.addresses[0]: 3 bytes is not an IPv4 (4) or IPv6 (16) address',
    'workload.tunnelProtocol: LEGACY_ISTIO_MTLS is not supported by this ztunnel',
    'workload.trustDomain/serviceAccount: "spiffe://cluster.local/ns/ns/sa/bad/sa" is not a valid SPIFFE id (trust domain: lowercase letters, digits, ".-_"; segments: letters, digits, ".-_")',
    'workload.services["nokey"]: key must be "<namespace>/<hostname>"',
    'workload.services["ns/h"].ports[0].servicePort: 0 is not a port (1-65535)',
    'workload.authorizationPolicies[0]: "nope" is not "<namespace>/<name>"',
    'workload.waypoint.hostname.hostname: empty',
    'workload.status: unknown value 9',
  ]);
});

test('service conversion: ports by service port, load balancing words, VIP validation', () => {
  const ok = convertService({
    ...svc('web', ['10.96.0.1', 'fd00::96']),
    ports: [
      { servicePort: 80, targetPort: 8080, appProtocol: 1 },
      { servicePort: 90, targetPort: 0 },
    ],
    loadBalancing: { routingPreference: [1, 2], mode: 2, healthPolicy: 1 },
  });
  assert.ok(ok.ok);
  assert.equal(ok.value.key, 'default/web.default.svc.cluster.local');
  assert.deepEqual(ok.value.ports.get(80), { servicePort: 80, targetPort: 8080, appProtocol: 'http11' });
  assert.deepEqual(ok.value.loadBalancing, {
    routingPreference: ['region', 'zone'],
    mode: 'failover',
    healthPolicy: 'allow-all',
  });
  assert.deepEqual(
    ok.value.vips.map((v) => v.ip),
    ['10.96.0.1', 'fd00::96'],
  );
  const bad = convertService({
    name: 'x',
    namespace: 'ns',
    hostname: '',
    addresses: [{ address: ip('10.0.0.0'), length: 8 }],
    ports: [
      { servicePort: 80, targetPort: 1 },
      { servicePort: 80, targetPort: 2 },
    ],
    loadBalancing: { routingPreference: [0] },
    waypoint: { hostname: { namespace: 'a', hostname: 'b' }, address: { address: ip('1.1.1.1') } },
  });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors, [
    'service.hostname: empty',
    'service.addresses[0].length: a service VIP is one address, not a /8 range',
    'service.ports[1].servicePort: 80 is listed twice',
    'service.loadBalancing.routingPreference[0]: unknown scope 0',
    'service.waypoint: both hostname and address are set; exactly one is allowed',
  ]);
});

test('IP helpers: canonical text, IPv4-mapped folding, loopback, CIDR containment', () => {
  assert.equal(bytesToIp(ip('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
  assert.equal(bytesToIp(ip('fd00::')), 'fd00::');
  assert.equal(bytesToIp(ip('::')), '::');
  assert.equal(
    bytesToIp(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1])),
    '10.0.0.1',
  );
  assert.equal(normalizeIp('FD00:0::1'), 'fd00::1');
  assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeIp('nope'), undefined);
  assert.ok(isLoopback('127.0.0.5') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1'));
  assert.ok(!isLoopback('10.0.0.1') && !isLoopback('fd00::1'));
  const net = { bytes: ip('10.1.0.0'), length: 16 };
  assert.ok(cidrContains(net, parseIp('10.1.200.3')!));
  assert.ok(!cidrContains(net, parseIp('10.2.0.1')!));
  assert.ok(cidrContains({ bytes: ip('10.0.0.0'), length: 0 }, parseIp('192.168.1.1')!));
  assert.ok(cidrContains({ bytes: ip('fd00::'), length: 12 }, parseIp('fd0f::1')!));
  assert.ok(!cidrContains({ bytes: ip('fd00::'), length: 12 }, parseIp('10.0.0.1')!), 'families differ');
  assert.ok(cidrContains({ bytes: ip('10.0.0.1'), length: 31 }, parseIp('10.0.0.0')!));
});
