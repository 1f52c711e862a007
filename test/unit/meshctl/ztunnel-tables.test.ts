import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDump, unreachableLine } from '../../../src/meshctl/ztunnel-dump.js';
import {
  certificateTable,
  mergeDumps,
  policyTable,
  serviceTable,
  waypointName,
  workloadTable,
} from '../../../src/meshctl/ztunnel-tables.js';

const wl = (name: string, node: string, ip: string, extra: Record<string, unknown> = {}) => ({
  uid: `Kubernetes//Pod/default/${name}`,
  name,
  namespace: 'default',
  addresses: [ip],
  node,
  protocol: 'HBONE',
  identity: `spiffe://cluster.local/ns/default/sa/${name}`,
  healthy: true,
  services: {},
  authorizationPolicies: [],
  ...extra,
});

const WAYPOINT = {
  kind: 'hostname',
  namespace: 'default',
  hostname: 'waypoint.default.svc.cluster.local',
  key: 'default/waypoint.default.svc.cluster.local',
  hbonePort: 15008,
};

const dump1 = parseDump('127.0.0.1:15000', {
  node: 'node-1',
  workloads: [
    wl('echo-2', 'node-1', '10.0.1.6'),
    wl('curl-1', 'node-1', '10.0.1.2', { waypoint: WAYPOINT }),
    wl('db-0', 'node-1', '10.0.1.7', { namespace: 'data', protocol: 'NONE', healthy: false }),
  ],
  services: [
    {
      name: 'echo',
      namespace: 'default',
      hostname: 'echo.default.svc.cluster.local',
      vips: ['/10.96.0.10'],
      ports: { 80: 8080 },
      waypoint: WAYPOINT,
      endpoints: ['Kubernetes//Pod/default/echo-1', 'Kubernetes//Pod/default/echo-2'],
    },
    {
      name: 'db',
      namespace: 'data',
      hostname: 'db.data.svc.cluster.local',
      vips: ['net-a/10.96.0.20'],
      endpoints: ['Kubernetes//Pod/default/db-0'],
    },
  ],
  policies: [
    {
      key: 'default/deny',
      name: 'deny',
      namespace: 'default',
      scope: 'namespace',
      action: 'deny',
      groups: [],
    },
  ],
  certificates: [
    {
      identity: 'spiffe://cluster.local/ns/default/sa/curl',
      state: 'ready',
      notAfter: '2030-01-02T03:04:05.678Z',
    },
  ],
})!;
const dump2 = parseDump('127.0.0.1:15001', {
  node: 'node-2',
  workloads: [wl('echo-1', 'node-2', '10.0.2.5'), wl('echo-2', 'node-1', '10.0.1.6')],
  services: [],
  policies: [
    { name: 'allow-all', namespace: 'istio-system', scope: 'global', action: 'allow', dryRun: true },
    { name: 'deny', namespace: 'default', scope: 'namespace', action: 'deny' },
  ],
  certificates: [
    { identity: 'spiffe://cluster.local/ns/default/sa/echo', state: 'fetching' },
    {
      identity: 'spiffe://cluster.local/ns/default/sa/old',
      state: 'ready',
      notAfter: '2020-01-01T00:00:00Z',
    },
  ],
})!;

test('a config dump missing sections or fields still reads; a non-object does not', () => {
  const d = parseDump('a:1', { node: 'n', workloads: [{ name: 'x' }, 'junk'] });
  assert.ok(d);
  assert.equal(d.workloads.length, 1);
  assert.deepEqual(d.workloads[0]!.addresses, []);
  assert.deepEqual([d.services, d.policies, d.certificates], [[], [], []]);
  assert.equal(parseDump('a:1', []), undefined);
  assert.equal(parseDump('a:1', 'text'), undefined);
});

test('waypoints read as the waypoint service name, an address as its IP, none as None', () => {
  assert.equal(waypointName(WAYPOINT), 'waypoint');
  assert.equal(waypointName({ kind: 'address', network: '', ip: '10.0.0.9', hbonePort: 15008 }), '10.0.0.9');
  assert.equal(waypointName(undefined), 'None');
  assert.equal(waypointName(null), 'None');
});

test('dumps of several nodes merge into one sorted view without duplicates', () => {
  const m = mergeDumps([dump1, dump2]);
  assert.deepEqual(
    m.workloads.map((w) => `${w.namespace}/${w.name}`),
    ['data/db-0', 'default/curl-1', 'default/echo-1', 'default/echo-2'],
  );
  assert.deepEqual(
    m.policies.map((p) => `${p.namespace}/${p.name}`),
    ['default/deny', 'istio-system/allow-all'],
  );
});

test('workload rows: address, node, waypoint, and TCP for a workload without tunnel', () => {
  const t = workloadTable(mergeDumps([dump1, dump2]).workloads);
  assert.deepEqual(t.headers, ['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL']);
  assert.deepEqual(t.rows, [
    ['data', 'db-0', '10.0.1.7', 'node-1', 'None', 'TCP'],
    ['default', 'curl-1', '10.0.1.2', 'node-1', 'waypoint', 'HBONE'],
    ['default', 'echo-1', '10.0.2.5', 'node-2', 'None', 'HBONE'],
    ['default', 'echo-2', '10.0.1.6', 'node-1', 'None', 'HBONE'],
  ]);
});

test('service rows: the VIP without its network, the waypoint, healthy/total endpoints', () => {
  const m = mergeDumps([dump1, dump2]);
  const t = serviceTable(m.services, m.workloads);
  assert.deepEqual(t.headers, ['NAMESPACE', 'SERVICE NAME', 'SERVICE VIP', 'WAYPOINT', 'ENDPOINTS']);
  assert.deepEqual(t.rows, [
    ['data', 'db', '10.96.0.20', 'None', '0/1'],
    ['default', 'echo', '10.96.0.10', 'waypoint', '2/2'],
  ]);
  // Endpoints the dump does not know count in the total only.
  assert.deepEqual(serviceTable(m.services, [])['rows'][1]!.at(-1), '0/2');
});

test('policy rows: action and scope in istioctl words; a dry-run policy says so', () => {
  const t = policyTable(mergeDumps([dump1, dump2]).policies);
  assert.deepEqual(t.headers, ['NAMESPACE', 'POLICY NAME', 'ACTION', 'SCOPE']);
  assert.deepEqual(t.rows, [
    ['default', 'deny', 'Deny', 'Namespace'],
    ['istio-system', 'allow-all', 'Allow (dry run)', 'Global'],
  ]);
  assert.deepEqual(
    policyTable([
      { name: 'p', namespace: 'n', scope: 'workload-selector', action: 'allow', dryRun: false, raw: {} },
    ]).rows,
    [['n', 'p', 'Allow', 'WorkloadSelector']],
  );
});

test('certificate rows: status and validity from state and expiry; NODE first when several nodes', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const certs = [dump2, dump1].flatMap((d) => d.certificates.map((cert) => ({ node: d.node, cert })));
  const t = certificateTable(certs, true, now);
  assert.deepEqual(t.headers, [
    'NODE',
    'CERTIFICATE NAME',
    'TYPE',
    'STATUS',
    'VALID CERT',
    'SERIAL NUMBER',
    'NOT AFTER',
    'NOT BEFORE',
  ]);
  assert.deepEqual(t.rows, [
    [
      'node-1',
      'spiffe://cluster.local/ns/default/sa/curl',
      'Leaf',
      'Available',
      'true',
      'NA',
      '2030-01-02T03:04:05Z',
      'NA',
    ],
    ['node-2', 'spiffe://cluster.local/ns/default/sa/echo', 'NA', 'Initializing', 'false', 'NA', 'NA', 'NA'],
    [
      'node-2',
      'spiffe://cluster.local/ns/default/sa/old',
      'Leaf',
      'Available',
      'false',
      'NA',
      '2020-01-01T00:00:00Z',
      'NA',
    ],
  ]);
  const one = certificateTable(
    [
      {
        node: 'n',
        cert: {
          identity: 'spiffe://x/ns/a/sa/b',
          state: 'failed',
          serial: 'ab12',
          notBefore: '2025-12-31T00:00:00Z',
          raw: {},
        },
      },
    ],
    false,
    now,
  );
  assert.equal(one.headers[0], 'CERTIFICATE NAME');
  assert.deepEqual(one.rows, [
    ['spiffe://x/ns/a/sa/b', 'NA', 'Unavailable', 'false', 'ab12', 'NA', '2025-12-31T00:00:00Z'],
  ]);
});

test('the unreachable line names the address, the failure and what to check', () => {
  const line = unreachableLine('10.0.0.1:15000', 'GET /config_dump: connect ECONNREFUSED 10.0.0.1:15000');
  assert.match(
    line,
    /^cannot read ztunnel admin at 10\.0\.0\.1:15000 \(GET \/config_dump: connect ECONNREFUSED/,
  );
  assert.match(line, /is ztunnel running on that node/);
  assert.match(line, /--ztunnel-admin \(or MESH_ZTUNNEL_ADMIN\)/);
});
