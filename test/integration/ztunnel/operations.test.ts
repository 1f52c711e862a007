import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { silentLogger } from '../../../src/common/logger.js';
import { HboneServer } from '../../../src/hbone/server.js';
import { CertSlot } from '../../../src/hbone/credentials.js';
import type { LocalIdentities } from '../../../src/ztunnel/identity.js';
import { TestMesh, pod, roundTrip } from './mesh-fixture.js';
import { until } from '../hbone/fixtures.js';

function get(port: number, path: string, host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('istiod restarts while traffic flows: live tunnels go on, new ones work, ztunnels resync', async (t) => {
  const N = 74;
  const mesh = await new TestMesh({ net: N }).start();
  t.after(() => mesh.stop());
  const live = await mesh.connectFrom(mesh.zt1, pod(N, 1, 2), { ip: pod(N, 2, 5), port: 8080 });
  assert.equal(await roundTrip(live, 'one'), 'echo-1:one');
  const xdsPort = mesh.istiod.ports.xds;
  await mesh.istiod.stop();
  // Control plane gone: the data plane keeps serving with the last state.
  assert.equal(await roundTrip(live, 'two'), 'echo-1:two');
  const during = await mesh.connectFrom(mesh.zt1, pod(N, 1, 2), { ip: pod(N, 2, 5), port: 8080 });
  assert.equal(await roundTrip(during, 'during'), 'echo-1:during');
  during.destroy();
  // A change made while istiod is down reaches the ztunnels once it is back (same port).
  await mesh.writeConfig(
    'deny.yaml',
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all-echo, namespace: default}
spec: {action: DENY, rules: [{}], selector: {matchLabels: {app: echo}}}
`,
  );
  await mesh.startIstiod(xdsPort);
  await until(
    () => mesh.zt2.store.policy('default/deny-all-echo') !== undefined,
    20_000,
    'the ztunnel to resync from the restarted istiod',
  );
  await until(
    () => live.destroyed || live.readyState === 'closed',
    3000,
    'the live tunnel to be closed by the new DENY',
  );
});

test('drain stops new connections and lets open ones finish; admin shows config, certificates, listeners, log level', async (t) => {
  const N = 75;
  const mesh = await new TestMesh({ net: N }).start();
  t.after(() => mesh.stop());
  const ready = await get(mesh.zt2.admin.ports.readiness, '/healthz/ready', mesh.zt2.cfg.nodeIp);
  assert.equal(ready.status, 200);
  const dump = JSON.parse((await get(mesh.zt2.admin.ports.admin, '/config_dump')).body) as {
    workloads: Array<{ name: string; identity: string }>;
    certificates: Array<{ identity: string }>;
    listeners: Array<{ addresses: string[] }>;
  };
  assert.ok(
    dump.workloads.some(
      (w) => w.name === 'echo-1' && w.identity === 'spiffe://cluster.local/ns/default/sa/echo',
    ),
  );
  assert.ok(dump.certificates.some((c) => c.identity === 'spiffe://cluster.local/ns/default/sa/echo'));
  assert.ok(dump.listeners.some((l) => l.addresses.includes(`${pod(N, 2, 5)}:15008`)));
  const level = JSON.parse((await get(mesh.zt2.admin.ports.admin, '/logging?level=debug')).body) as {
    level: string;
  };
  assert.equal(level.level, 'debug');

  const open = await mesh.connectFrom(mesh.zt1, pod(N, 1, 2), { ip: pod(N, 2, 5), port: 8080 });
  assert.equal(await roundTrip(open, 'before'), 'echo-1:before');
  const drained = mesh.zt2.shutdown(3000);
  // The open tunnel still works during the drain...
  assert.equal(await roundTrip(open, 'during'), 'echo-1:during');
  // ...a new one to the draining node does not.
  const fresh = await mesh.connectFrom(mesh.zt1, pod(N, 1, 2), { ip: pod(N, 2, 5), port: 8080 });
  await assert.rejects(roundTrip(fresh, 'new'));
  open.end();
  const r = await drained;
  assert.equal(r.forced, false);
});

test("service traffic goes to the service's waypoint with the VIP as authority; pod-addressed traffic goes direct", async (t) => {
  const N = 76;
  const waypointYaml = `---
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
  const mesh = await new TestMesh({ net: N }).start(waypointYaml, '{istio.io/use-waypoint: waypoint}');
  t.after(() => mesh.stop());
  // A stand-in waypoint: an HBONE server on the waypoint pod's IP that records what it is asked for.
  const ca = mesh.zt2.identities as LocalIdentities;
  const wpCreds = await ca.get({
    trustDomain: 'cluster.local',
    namespace: 'default',
    serviceAccount: 'waypoint',
  });
  const asked: string[] = [];
  const waypoint = new HboneServer({
    certs: new CertSlot(wpCreds),
    logger: silentLogger(),
    onRequest: (req) => {
      asked.push(`${req.peerUri} ${req.target.authority}`);
      req.reject(503);
    },
  });
  await waypoint.listen(15008, pod(N, 2, 7));
  t.after(() => waypoint.close());
  await until(
    () => mesh.zt1.store.serviceByKey('default/echo.default.svc.cluster.local')?.waypoint !== undefined,
    5000,
    'the service to get its waypoint',
  );
  const c = await mesh.connectFrom(mesh.zt1, pod(N, 1, 2), { ip: `10.96.${N}.10`, port: 80 });
  await assert.rejects(roundTrip(c, 'via-waypoint'));
  assert.deepEqual(asked, [`spiffe://cluster.local/ns/default/sa/curl 10.96.${N}.10:80`]);
  // Pod-addressed traffic does not use a service-bound waypoint.
  const direct = await mesh.connectFrom(mesh.zt1, pod(N, 1, 2), { ip: pod(N, 2, 5), port: 8080 });
  assert.equal(await roundTrip(direct, 'direct'), 'echo-1:direct');
  direct.destroy();
});

test("bad HBONE requests: unknown targets get 503, ztunnel's own ports 400, other pods' IPs 400", async (t) => {
  const N = 78;
  const mesh = await new TestMesh({ net: N }).start();
  t.after(() => mesh.stop());
  const { HbonePool } = await import('../../../src/hbone/pool.js');
  const pool = new HbonePool();
  t.after(() => pool.close());
  const source = await (mesh.zt1.identities as LocalIdentities).get({
    trustDomain: 'cluster.local',
    namespace: 'default',
    serviceAccount: 'curl',
  });
  const statusOf = (target: string): Promise<number> =>
    pool
      .connect({
        source,
        host: pod(N, 2, 5),
        port: 15008,
        expectedIdentities: ['spiffe://cluster.local/ns/default/sa/echo'],
        target,
      })
      .then(
        (s) => {
          s.destroy();
          return 200;
        },
        (e: { status?: number }) => e.status ?? 0,
      );
  assert.equal(await statusOf(`${pod(N, 2, 5)}:8080`), 200);
  assert.equal(await statusOf(`${pod(N, 2, 5)}:15008`), 400);
  assert.equal(await statusOf(`${pod(N, 2, 5)}:15006`), 400);
  assert.equal(await statusOf(`10.255.0.1:8080`), 503);
  assert.equal(await statusOf(`${pod(N, 1, 6)}:8080`), 400, 'a pod that is not the one behind this listener');
  assert.equal(await statusOf(`${pod(N, 2, 5)}:9`), 503, 'the app refuses the port');
  const reasons = mesh.logs2.lines
    .filter((l) => l.access === true && l.result !== 'ok')
    .map((l) => String(l.reason));
  assert.ok(reasons.some((r) => r.includes('self-call')));
  assert.ok(reasons.some((r) => r.includes('no workload with IP 10.255.0.1')));
  const metrics = await mesh.zt2.registry.metrics();
  assert.match(
    metrics,
    /istio_tcp_connections_failed_total\{reporter="destination".*response_flags="NR".*\} [1-9]/,
  );
});
