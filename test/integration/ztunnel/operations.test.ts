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
