import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Address } from '../../../../src/xds/workload-types.js';
import { StateStore, type StateChange } from '../../../../src/ztunnel/state/store.js';
import { ip, pod, policy, svc, svcKey } from '../fixtures.js';

function w(a: Address['workload']): Address {
  return { workload: a };
}
function s(a: Address['service']): Address {
  return { service: a };
}

test('workloads are found by uid and by network/IP, in any IPv6 spelling', () => {
  const store = new StateStore();
  const a = pod('a', ['10.0.0.1', 'fd00::1'], { network: 'n1' });
  const res = store.applyAddresses(new Map([[a.uid!, w(a)]]), []);
  assert.deepEqual(res.errors, []);
  assert.equal(store.workloadByUid(a.uid!)?.name, 'a');
  assert.equal(store.workloadByAddress('n1', '10.0.0.1')?.name, 'a');
  assert.equal(store.workloadByAddress('n1', 'fd00:0:0::0001')?.name, 'a');
  assert.equal(store.workloadByAddress('n1', '::ffff:10.0.0.1')?.name, 'a');
  assert.equal(
    store.workloadByAddress('', '10.0.0.1'),
    undefined,
    'another network is another address space',
  );
});

test('a replaced workload drops its old IPs and service memberships; removal clears every index', () => {
  const store = new StateStore();
  const v1 = pod('a', '10.0.0.1', { services: { [svcKey('x')]: [[80, 8080]], [svcKey('y')]: [[80, 8080]] } });
  store.applyAddresses(new Map([[v1.uid!, w(v1)]]), []);
  assert.equal(store.endpointsOf(svcKey('x')).length, 1);
  const v2 = pod('a', '10.0.0.2', { services: { [svcKey('y')]: [[80, 9090]] } });
  store.applyAddresses(new Map([[v2.uid!, w(v2)]]), []);
  assert.equal(store.workloadByAddress('', '10.0.0.1'), undefined);
  assert.equal(store.workloadByAddress('', '10.0.0.2')?.name, 'a');
  assert.equal(store.endpointsOf(svcKey('x')).length, 0);
  assert.equal(store.endpointsOf(svcKey('y'))[0]?.services.get(svcKey('y'))?.get(80), 9090, 'the new object');
  store.applyAddresses(new Map(), [v2.uid!]);
  assert.equal(store.workloadByUid(v2.uid!), undefined);
  assert.equal(store.workloadByAddress('', '10.0.0.2'), undefined);
  assert.equal(store.endpointsOf(svcKey('y')).length, 0);
  assert.equal(store.counts.workloads, 0);
});

test('endpoint sets are kept per service key, whether the service arrives before or after its workloads', () => {
  const store = new StateStore();
  const pods = [1, 2, 3].map((i) =>
    pod(`p${i}`, `10.0.0.${i}`, { services: { [svcKey('web')]: [[80, 8080]] } }),
  );
  store.applyAddresses(new Map(pods.map((p) => [p.uid!, w(p)])), []);
  assert.equal(store.endpointsOf(svcKey('web')).length, 3);
  store.applyAddresses(new Map([[svcKey('web'), s(svc('web', '10.96.0.1'))]]), []);
  assert.equal(store.serviceByVip('', '10.96.0.1')?.key, svcKey('web'));
  store.applyAddresses(new Map(), [pods[0]!.uid!]);
  assert.deepEqual(
    store
      .endpointsOf(svcKey('web'))
      .map((e) => e.name)
      .sort(),
    ['p2', 'p3'],
  );
  // removing the service leaves the endpoint set (workloads still name it)
  store.applyAddresses(new Map(), [svcKey('web')]);
  assert.equal(store.serviceByVip('', '10.96.0.1'), undefined);
  assert.equal(store.endpointsOf(svcKey('web')).length, 2);
});

test('services are found by VIP, by hostname (all namespaces) and by namespace/hostname; replace moves VIPs', () => {
  const store = new StateStore();
  const a = svc('web', ['10.96.0.1', 'fd00::96:1']);
  const b = { ...svc('web', '10.96.0.9', { namespace: 'other' }), hostname: a.hostname };
  store.applyAddresses(
    new Map([
      ['default/web', s(a)],
      ['other/web', s(b)],
    ]),
    [],
  );
  assert.equal(store.serviceByVip('', 'fd00::96:1')?.name, 'web');
  assert.equal(store.servicesByHostname(a.hostname!).length, 2);
  assert.equal(store.serviceByNamespacedHost('other', a.hostname!)?.vips[0]?.ip, '10.96.0.9');
  store.applyAddresses(new Map([['default/web', s(svc('web', '10.96.0.2'))]]), []);
  assert.equal(store.serviceByVip('', '10.96.0.1'), undefined);
  assert.equal(store.serviceByVip('', '10.96.0.2')?.name, 'web');
  assert.equal(store.servicesByHostname(a.hostname!).length, 2);
  store.applyAddresses(new Map(), ['default/web', 'other/web']);
  assert.equal(store.servicesByHostname(a.hostname!).length, 0);
});

test('a resource name that changes kind (workload → service) is re-indexed', () => {
  const store = new StateStore();
  const p = pod('a', '10.0.0.1');
  store.applyAddresses(new Map([['n', w(p)]]), []);
  store.applyAddresses(new Map([['n', s(svc('web', '10.96.0.1'))]]), []);
  assert.equal(store.workloadByUid(p.uid!), undefined);
  assert.equal(store.serviceByKey(svcKey('web'))?.name, 'web');
  store.applyAddresses(new Map(), ['n']);
  assert.equal(store.counts.services, 0);
});

test('bad resources are rejected with field paths; the rest of the update applies; the old version stays', () => {
  const store = new StateStore();
  const good = pod('good', '10.0.0.1');
  const old = pod('bad', '10.0.0.2');
  store.applyAddresses(new Map([[old.uid!, w(old)]]), []);
  const bad = { ...pod('bad', '10.0.0.2'), addresses: [ip('10.0.0.3'), new Uint8Array(5)] };
  const badSvc = { ...svc('web', '10.96.0.1'), hostname: '' };
  const res = store.applyAddresses(
    new Map<string, Address>([
      [good.uid!, w(good)],
      [bad.uid!, w(bad)],
      ['default/', s(badSvc)],
      ['empty', {}],
    ]),
    [],
  );
  assert.deepEqual(res.errors, [
    { name: bad.uid, errors: ['workload.addresses[1]: 5 bytes is not an IPv4 (4) or IPv6 (16) address'] },
    { name: 'default/', errors: ['service.hostname: empty'] },
    { name: 'empty', errors: ['address: neither workload nor service is set'] },
  ]);
  assert.equal(store.workloadByUid(good.uid!)?.name, 'good');
  assert.equal(store.workloadByAddress('', '10.0.0.2')?.name, 'bad', 'previous version kept');
  assert.equal(store.workloadByAddress('', '10.0.0.3'), undefined);
});

test('policies are indexed by scope; a replacement that changes scope is re-indexed', () => {
  const store = new StateStore();
  const res = store.applyAuthorizations(
    new Map([
      [
        'istio-system/g',
        policy('g', 'DENY', [[{ destinationPorts: [9] }]], { namespace: 'istio-system', scope: 0 }),
      ],
      ['default/n', policy('n', 'ALLOW', [[{ destinationPorts: [80] }]])],
      ['default/s', policy('s', 'ALLOW', [[{ destinationPorts: [81] }]], { scope: 2 })],
    ]),
    [],
  );
  assert.deepEqual(res.errors, []);
  assert.deepEqual([...store.policies.globalKeys()], ['istio-system/g']);
  assert.deepEqual([...store.policies.namespaceKeys('default')], ['default/n']);
  assert.equal(store.policy('default/s')?.scope, 'workload-selector');
  store.applyAuthorizations(new Map([['default/n', policy('n', 'ALLOW', [[]], { scope: 0 })]]), []);
  assert.deepEqual([...store.policies.namespaceKeys('default')], []);
  assert.deepEqual([...store.policies.globalKeys()].sort(), ['default/n', 'istio-system/g']);
  store.applyAuthorizations(new Map(), ['default/n', 'istio-system/g', 'default/s']);
  assert.equal(store.counts.policies, 0);
  assert.deepEqual([...store.policies.globalKeys()], []);
});

test('bad policies are rejected with their field path', () => {
  const store = new StateStore();
  const res = store.applyAuthorizations(
    new Map([
      [
        'default/p',
        policy('p', 'ALLOW', [
          [{ sourceIps: [{ address: ip('10.0.0.0'), length: 40 }] }, { principals: [{}] }],
        ]),
      ],
      ['default/q', policy('q', 'DENY', [[{ destinationPorts: [70000] }]], { action: 7 as 0 })],
    ]),
    [],
  );
  assert.deepEqual(res.errors, [
    {
      name: 'default/p',
      errors: [
        'authorization.groups[0].rules[0].matches[0].sourceIps[0].length: 40 is not a prefix length for a 32-bit address',
        'authorization.groups[0].rules[0].matches[1].principals[0]: exactly one of exact, prefix, suffix, presence must be set (found 0)',
      ],
    },
    {
      name: 'default/q',
      errors: [
        'authorization.groups[0].rules[0].matches[0].destinationPorts[0]: 70000 is not a port (1-65535)',
        'authorization.action: unknown value 7',
      ],
    },
  ]);
  assert.equal(store.counts.policies, 0);
});

test('listeners hear each change once with its names; generations move; no-op updates are silent', () => {
  const store = new StateStore();
  const seen: StateChange[] = [];
  const off = store.onChange((c) => seen.push(c));
  store.onChange(() => {
    throw new Error('a broken listener');
  });
  const p = pod('a', '10.0.0.1');
  store.applyAddresses(new Map([[p.uid!, w(p)]]), ['not-there']);
  const g = store.policyGeneration;
  store.applyAuthorizations(new Map([['default/x', policy('x', 'ALLOW', [[]])]]), []);
  assert.equal(store.policyGeneration, g + 1);
  store.applyAuthorizations(new Map(), ['default/nope']);
  assert.deepEqual(seen, [
    { type: 'addresses', upserted: [p.uid], removed: [] },
    { type: 'authorizations', upserted: ['default/x'], removed: [] },
  ]);
  off();
  store.applyAddresses(new Map(), [p.uid!]);
  assert.equal(seen.length, 2);
});

test('two workloads on one IP: removing the older does not unindex the newer', () => {
  const store = new StateStore();
  const a = pod('a', '10.0.0.1');
  const b = pod('b', '10.0.0.1');
  store.applyAddresses(new Map([[a.uid!, w(a)]]), []);
  store.applyAddresses(new Map([[b.uid!, w(b)]]), []);
  store.applyAddresses(new Map(), [a.uid!]);
  assert.equal(store.workloadByAddress('', '10.0.0.1')?.name, 'b');
});
