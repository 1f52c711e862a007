import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../../src/common/logger.js';
import { silentLogger } from '../../../src/common/logger.js';
import { Istiod } from '../../../src/istiod/app.js';
import { DirectorySource } from '../../../src/istiod/config/directory-source.js';
import { TestMesh, pod } from '../ztunnel/mesh-fixture.js';
import { until } from '../hbone/fixtures.js';

const MESHCTL = fileURLToPath(new URL('../../../src/meshctl/main.js', import.meta.url));
const N = 81;

/** The two-node mesh of the ztunnel tests, with istiod's monitoring port (15014) on a free port. */
class MonitoredMesh extends TestMesh {
  override async startIstiod(port = 0, logger: Logger = silentLogger()): Promise<void> {
    const source = new DirectorySource({ dir: this.dir, logger, debounceMs: 20, rescanMs: 0 });
    this.istiod = new Istiod({
      source,
      xdsAddress: { host: '127.0.0.1', port },
      monitoringAddress: { host: '127.0.0.1', port: 0 },
      debounce: { quietMs: 10, maxMs: 100 },
      logger,
    });
    await this.istiod.start();
    await this.istiod.whenReady();
  }
}

const WAYPOINT = `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: default, labels: {istio.io/waypoint-for: service}}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: default}
spec: {selector: {gateway.networking.k8s.io/gateway-name: waypoint}, clusterIP: 10.96.${N}.15, ports: [{name: mesh, port: 15008}]}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-1, namespace: default, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {nodeName: node-2, serviceAccountName: waypoint, containers: [{name: w, image: w}]}
status: {podIP: ${pod(N, 2, 7)}, phase: Running, conditions: [{type: Ready, status: "True"}]}
`;

const mesh = new MonitoredMesh({ net: N });
let admin1 = '';
let admin2 = '';
let monitoring = '';
before(async () => {
  await mesh.start(WAYPOINT, '{istio.io/use-waypoint: waypoint}');
  admin1 = `127.0.0.1:${mesh.zt1.admin.ports.admin}`;
  admin2 = `127.0.0.1:${mesh.zt2.admin.ports.admin}`;
  monitoring = `127.0.0.1:${mesh.istiod.ports.monitoring}`;
});
after(() => mesh.stop());

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the compiled meshctl as a child (asynchronously: the mesh it asks lives in this process). */
function meshctl(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MESHCTL, ...args],
      { env: { ...process.env, MESH_ZTUNNEL_ADMIN: '', MESH_ISTIOD_MONITORING: '', ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The table's data rows, each split on runs of spaces (no cell here contains a space). */
function rows(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/));
}

function rowOf(stdout: string, name: string, column = 1): string[] {
  const row = rows(stdout).find((r) => r[column] === name);
  assert.ok(row, `a row for ${name} in:\n${stdout}`);
  return row;
}

test('workloads: every pod with its IP, node, waypoint and protocol, in istioctl columns', async () => {
  const r = await meshctl(['ztunnel-config', 'workloads', '--ztunnel-admin', admin1]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAMESPACE +POD NAME +ADDRESS +NODE +WAYPOINT +PROTOCOL\n/);
  assert.deepEqual(rowOf(r.stdout, 'echo-1'), ['default', 'echo-1', pod(N, 2, 5), 'node-2', 'None', 'HBONE']);
  assert.deepEqual(rowOf(r.stdout, 'curl-1'), ['default', 'curl-1', pod(N, 1, 2), 'node-1', 'None', 'HBONE']);
  // A pod outside the mesh is known (by address) but not tunnelled.
  assert.deepEqual(rowOf(r.stdout, 'outsider'), [
    'legacy',
    'outsider',
    pod(N, 1, 9),
    'node-1',
    'None',
    'TCP',
  ]);
  assert.equal(r.stderr, '');
});

test('services: the echo VIP, its waypoint and both endpoints healthy; -n filters by namespace', async () => {
  const r = await meshctl(['ztunnel-config', 'services', '--ztunnel-admin', admin2, '-n', 'default']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAMESPACE +SERVICE NAME +SERVICE VIP +WAYPOINT +ENDPOINTS\n/);
  assert.deepEqual(rowOf(r.stdout, 'echo'), ['default', 'echo', `10.96.${N}.10`, 'waypoint', '2/2']);
  assert.deepEqual(rowOf(r.stdout, 'waypoint'), ['default', 'waypoint', `10.96.${N}.15`, 'None', '1/1']);
  assert.ok(rows(r.stdout).every((row) => row[0] === 'default'));
});

test('policies: a new AuthorizationPolicy shows up as a row with its action and scope', async () => {
  const before = await meshctl(['ztunnel-config', 'policies', '--ztunnel-admin', admin1]);
  assert.equal(before.code, 0, before.stderr);
  assert.equal(before.stdout, 'NAMESPACE POLICY NAME ACTION SCOPE\n');
  await mesh.writeConfig(
    'deny.yaml',
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-legacy, namespace: default}
spec:
  selector: {matchLabels: {app: echo}}
  action: DENY
  rules: [{from: [{source: {namespaces: ["legacy"]}}]}]
`,
  );
  await until(() => mesh.zt1.store.policy('default/deny-legacy') !== undefined, 5000, 'the policy on node-1');
  const r = await meshctl(['ztunnel-config', 'policy', '--ztunnel-admin', admin1]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(rowOf(r.stdout, 'deny-legacy'), ['default', 'deny-legacy', 'Deny', 'WorkloadSelector']);
  const json = await meshctl(['ztunnel-config', 'policies', '--ztunnel-admin', admin1, '-o', 'json']);
  const raw = JSON.parse(json.stdout) as Array<{ name: string; action: string }>;
  assert.deepEqual(
    raw.map((p) => [p.name, p.action]),
    [['deny-legacy', 'deny']],
  );
});

test('certificates: one per identity of the node, Available and valid; a NODE column over two nodes', async () => {
  const one = await meshctl(['ztunnel-config', 'certificates', '--ztunnel-admin', admin2]);
  assert.equal(one.code, 0, one.stderr);
  assert.match(
    one.stdout,
    /^CERTIFICATE NAME +TYPE +STATUS +VALID CERT +SERIAL NUMBER +NOT AFTER +NOT BEFORE\n/,
  );
  const echo = rowOf(one.stdout, 'spiffe://cluster.local/ns/default/sa/echo', 0);
  assert.deepEqual(echo.slice(1, 4), ['Leaf', 'Available', 'true']);
  assert.ok(Date.parse(echo[5]!) > Date.now(), `NOT AFTER ${echo[5]} is in the future`);

  // node-1 serves curl-1 and echo-2; certificates are fetched in the background after the first sync.
  await until(() => mesh.zt1.identities.describe().length >= 2, 5000, 'node-1 certificates');
  const both = await meshctl([
    'ztunnel-config',
    'certificates',
    '--ztunnel-admin',
    admin1,
    '--ztunnel-admin',
    admin2,
  ]);
  assert.equal(both.code, 0, both.stderr);
  assert.match(both.stdout, /^NODE +CERTIFICATE NAME +TYPE/);
  const ids = rows(both.stdout).map((r) => `${r[0]} ${r[1]}`);
  assert.deepEqual(ids, [
    'node-1 spiffe://cluster.local/ns/default/sa/curl',
    'node-1 spiffe://cluster.local/ns/default/sa/echo',
    'node-2 spiffe://cluster.local/ns/default/sa/echo',
  ]);
});

test('--node picks the ztunnel of that node among several (comma list from the environment)', async () => {
  const env = { MESH_ZTUNNEL_ADMIN: `${admin1},${admin2}` };
  const r = await meshctl(['ztunnel-config', 'certificates', '--node', 'node-2'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /^NODE/);
  assert.deepEqual(
    rows(r.stdout).map((row) => row[0]),
    ['spiffe://cluster.local/ns/default/sa/echo'],
  );
  const none = await meshctl(['ztunnel-config', 'workloads', '--node', 'node-9'], env);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no ztunnel of node "node-9".*node-1 \(127\.0\.0\.1:\d+\), node-2/);
});

test('an unreachable admin address: one line naming it and what to check, exit 1; the others still print', async () => {
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadAddr = `127.0.0.1:${(dead.address() as net.AddressInfo).port}`;
  await new Promise((r) => dead.close(r));
  const r = await meshctl(['ztunnel-config', 'workloads', `--ztunnel-admin=${deadAddr},${admin2}`]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    new RegExp(
      `cannot read ztunnel admin at ${deadAddr} .*ECONNREFUSED.*is ztunnel running.*--ztunnel-admin`,
    ),
  );
  assert.deepEqual(rowOf(r.stdout, 'echo-1').slice(2, 4), [pod(N, 2, 5), 'node-2']);
});

test('all: the four tables in one go; -o yaml gives the raw dump', async () => {
  const r = await meshctl(['ztunnel-config', 'all', '--ztunnel-admin', admin2]);
  assert.equal(r.code, 0, r.stderr);
  const headers = r.stdout
    .split('\n\n')
    .map((block) => block.split('\n')[0]!.split(/\s+/).slice(0, 2).join(' '));
  assert.deepEqual(headers, ['NAMESPACE POD', 'NAMESPACE SERVICE', 'NAMESPACE POLICY', 'CERTIFICATE NAME']);
  const y = await meshctl(['ztunnel-config', 'all', '--ztunnel-admin', admin2, '-o', 'yaml']);
  assert.equal(y.code, 0, y.stderr);
  assert.match(y.stdout, /^node: node-2$/m);
  assert.match(y.stdout, /^workloads:$/m);
});

test('proxy-status lists both ztunnels as synced, with istiod and its version', async () => {
  const r = await meshctl(['proxy-status', '--istiod', monitoring]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAME +CLUSTER +TYPE +IP +STATUS +ACKS +NACKS +ISTIOD +VERSION\n/);
  const zt = rows(r.stdout);
  assert.deepEqual(
    zt.map((row) => [row[0], row[2], row[3], row[4], row[7]]),
    [
      ['ztunnel-node-1.istio-system', 'ztunnel', pod(N, 1, 1), 'SYNCED', monitoring],
      ['ztunnel-node-2.istio-system', 'ztunnel', pod(N, 2, 1), 'SYNCED', monitoring],
    ],
  );
  assert.match(zt[0]![8]!, /^\d+\.\d+\.\d+/);
  const one = await meshctl(['proxy-status', 'node-2'], { MESH_ISTIOD_MONITORING: monitoring });
  assert.deepEqual(
    rows(one.stdout).map((row) => row[0]),
    ['ztunnel-node-2.istio-system'],
  );
});

test('proxy-status with istiod unreachable: one line saying what to check, exit 1', async () => {
  const r = await meshctl(['proxy-status', '--istiod', '127.0.0.1:1']);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: cannot read istiod monitoring at 127\.0\.0\.1:1 .*is istiod running.*--istiod/,
  );
  assert.equal(r.stdout, '');
});
