import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStateFile, parseStateFile } from '../../../../src/ztunnel/state/state-file.js';
import { StateStore } from '../../../../src/ztunnel/state/store.js';

const YAML = `
workloads:
  - uid: c1//Pod/shop/web-1
    name: web-1
    namespace: shop
    addresses: [10.0.0.1, "fd00::1"]
    tunnelProtocol: HBONE
    serviceAccount: web
    node: node1
    capacity: 2
    waypoint: { hostname: { namespace: shop, hostname: wp.shop.svc.cluster.local } }
    services:
      shop/web.shop.svc.cluster.local: [{ servicePort: 80, targetPort: 8080 }]
  - uid: c1//Pod/shop/db-1
    name: db-1
    namespace: shop
    addresses: [10.0.0.2]
    status: UNHEALTHY
services:
  - name: web
    namespace: shop
    hostname: web.shop.svc.cluster.local
    addresses: [10.96.0.10, { network: "", address: "fd00::96:10" }]
    ports: [{ servicePort: 80, targetPort: 8080, appProtocol: HTTP11 }]
    loadBalancing: { routingPreference: [ZONE, NODE], mode: FAILOVER }
policies:
  - name: strict
    namespace: istio-system
    scope: GLOBAL
    action: DENY
    groups: [{ rules: [{ matches: [{ notPrincipals: [{ presence: {} }], notDestinationPorts: [15021] }] }] }]
  - name: office
    namespace: shop
    scope: NAMESPACE
    groups: [{ rules: [{ matches: [{ sourceIps: ["192.168.0.0/16", "10.0.0.7"] }] }] }]
`;

test('a YAML state file loads: text IPs, enum names, the services shorthand, CIDRs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zt-state-'));
  try {
    const path = join(dir, 'state.yaml');
    await writeFile(path, YAML);
    const { store, errors } = await loadStateFile(path);
    assert.deepEqual(errors, []);
    const web = store.workloadByAddress('', 'fd00::1');
    assert.equal(web?.identityUri, 'spiffe://cluster.local/ns/shop/sa/web');
    assert.equal(web?.protocol, 'HBONE');
    assert.equal(web?.capacity, 2);
    assert.equal(web?.waypoint?.kind, 'hostname');
    assert.equal(store.workloadByAddress('', '10.0.0.2')?.healthy, false);
    const svc = store.serviceByVip('', 'fd00::96:10');
    assert.equal(svc?.loadBalancing?.mode, 'failover');
    assert.deepEqual(svc?.loadBalancing?.routingPreference, ['zone', 'node']);
    assert.equal(svc?.ports.get(80)?.appProtocol, 'http11');
    assert.deepEqual(
      store.endpointsOf('shop/web.shop.svc.cluster.local').map((w) => w.name),
      ['web-1'],
    );
    const strict = store.policy('istio-system/strict');
    assert.equal(strict?.scope, 'global');
    assert.equal(strict?.action, 'deny');
    const office = store.policy('shop/office')?.groups[0]?.[0]?.[0];
    assert.deepEqual(
      office?.sourceIps.map((c) => c.length),
      [16, 32],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('reloading a file is a full snapshot: what left the file leaves the store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zt-state-'));
  try {
    const path = join(dir, 'state.json');
    await writeFile(
      path,
      JSON.stringify({ workloads: [{ uid: 'u1', name: 'a', namespace: 'n', addresses: ['10.0.0.1'] }] }),
    );
    const store = new StateStore();
    await loadStateFile(path, store);
    assert.equal(store.counts.workloads, 1);
    await writeFile(
      path,
      JSON.stringify({ workloads: [{ uid: 'u2', name: 'b', namespace: 'n', addresses: ['10.0.0.2'] }] }),
    );
    await loadStateFile(path, store);
    assert.equal(store.workloadByUid('u1'), undefined);
    assert.equal(store.workloadByAddress('', '10.0.0.2')?.name, 'b');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad entries are reported by name and path; good ones load', () => {
  const snap = parseStateFile(`
workloads:
  - { uid: u1, name: a, namespace: n, addresses: [10.0.0.300] }
  - { uid: u2, name: b, namespace: n, tunnelProtocol: QUIC }
  - { uid: u3, name: c, namespace: n, addresses: [10.0.0.3] }
`);
  assert.deepEqual(snap.errors, [
    { name: 'u1', errors: ['workload.addresses[0]: "10.0.0.300" is not an IP address'] },
    {
      name: 'u2',
      errors: ['workload.tunnelProtocol: unknown value "QUIC" (one of NONE, HBONE, LEGACY_ISTIO_MTLS)'],
    },
  ]);
  assert.deepEqual([...snap.addresses.keys()], ['u3']);
});

test('a file that is not a state file is refused with a clear error', async () => {
  assert.throws(() => parseStateFile('workloads: {a: 1}'), /"workloads" must be a list/);
  assert.throws(() => parseStateFile('pods: []'), /unknown top-level keys pods/);
  assert.throws(() => parseStateFile('[1, 2]'), /expected a mapping/);
  assert.throws(
    () => parseStateFile('a: [b'),
    (e: Error & { code?: string }) => e.code === 'ZT_ERR_STATE_FILE',
  );
  await assert.rejects(loadStateFile('/nonexistent/zt-state.yaml'), /cannot read state file/);
  assert.equal(parseStateFile('').addresses.size, 0);
});
