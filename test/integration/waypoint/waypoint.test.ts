/**
 * The waypoint in the loopback mesh: istiod (config directory), two ztunnels, a waypoint process object
 * with its own identity, HTTP apps on pod IPs. curl's ztunnel sends the bound service's traffic to the
 * waypoint over HBONE; the waypoint routes it by the VirtualService/HTTPRoute istiod pushed and re-wraps
 * it in HBONE to the chosen pod's ztunnel.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { once } from 'node:events';
import { Registry } from 'prom-client';
import { parseConfig } from '../../../src/common/config.js';
import { CertSlot } from '../../../src/hbone/credentials.js';
import { Waypoint } from '../../../src/waypoint/app.js';
import { waypointSchema } from '../../../src/waypoint/config.js';
import type { LocalIdentities } from '../../../src/ztunnel/identity.js';
import { captureLogger } from '../hbone/fixtures.js';
import { TestMesh, pod } from '../ztunnel/mesh-fixture.js';

const N = 88;
const VIP = `10.96.${N}.20`;

const yaml = `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: default}
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
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: web}, clusterIP: ${VIP}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-v1, namespace: default, labels: {app: web, version: v1}}
spec: {nodeName: node-2, serviceAccountName: web, containers: [{name: web, image: web}]}
status: {podIP: ${pod(N, 2, 11)}, phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-v2, namespace: default, labels: {app: web, version: v2}}
spec: {nodeName: node-1, serviceAccountName: web, containers: [{name: web, image: web}]}
status: {podIP: ${pod(N, 1, 12)}, phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec: {host: web, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
`;

const mesh = new TestMesh({ net: N });
const wpLogs = captureLogger();
let wp: Waypoint;
const apps: http.Server[] = [];

async function webApp(ip: string, name: string): Promise<void> {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'x-served-by': name, 'x-user': String(req.headers['end-user'] ?? '') });
    res.end(`${name} ${req.url}`);
  });
  srv.listen(9080, ip);
  await once(srv, 'listening');
  apps.push(srv);
}

before(async () => {
  await mesh.start(yaml);
  await webApp(pod(N, 2, 11), 'web-v1');
  await webApp(pod(N, 1, 12), 'web-v2');
  const ids = mesh.zt2.identities as LocalIdentities;
  const creds = await ids.get({
    trustDomain: 'cluster.local',
    namespace: 'default',
    serviceAccount: 'waypoint',
  });
  const { config } = parseConfig(waypointSchema, [], {});
  wp = new Waypoint(
    {
      ...config,
      name: 'waypoint',
      namespace: 'default',
      podIp: pod(N, 2, 7),
      xdsAddress: `127.0.0.1:${mesh.istiod.ports.xds}`,
      metricsPort: 0,
      readinessPort: 0,
    },
    { logger: wpLogs.logger, registry: new Registry(), certs: new CertSlot(creds) },
  );
  await wp.start();
  await wp.whenReady();
});

after(async () => {
  await wp?.stop();
  for (const a of apps) a.close();
  await mesh.stop();
});

/** An HTTP request from the curl pod to the web service VIP, through curl's node ztunnel. */
async function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; served: string; body: string }> {
  const sock: net.Socket = await mesh.connectFrom(mesh.zt1, pod(N, 1, 2), { ip: VIP, port: 9080 });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { createConnection: () => sock, path, headers: { host: 'web:9080', ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          sock.destroy();
          resolve({ status: res.statusCode ?? 0, served: String(res.headers['x-served-by']), body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test('no route: the waypoint balances over both pods; ztunnel logs the waypoint hop', async () => {
  await until(
    () => mesh.zt1.store.serviceByKey(`default/web.default.svc.cluster.local`)?.waypoint !== undefined,
    'the web service to get its waypoint',
  );
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const r = await get('/hello');
    assert.equal(r.status, 200);
    seen.add(r.served);
  }
  assert.deepEqual([...seen].sort(), ['web-v1', 'web-v2']);
  const hop = mesh.logs1.lines.find((l) => l.path === 'waypoint');
  assert.ok(hop, 'the curl side ztunnel logs the connection with path "waypoint"');
  assert.equal(hop.dst_identity, 'spiffe://cluster.local/ns/default/sa/waypoint');
  assert.equal(hop.dst_service, 'web.default.svc.cluster.local');
  const access = wpLogs.lines.filter((l) => l.msg === 'access');
  assert.ok(
    access.some(
      (l) => l.source_principal === 'spiffe://cluster.local/ns/default/sa/curl' && l.response_code === 200,
    ),
  );
});

test('a VirtualService pushed by istiod: end-user jason goes to v2, others to v1', async () => {
  await mesh.writeConfig(
    'vs.yaml',
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: web, subset: v2}}]
  - route: [{destination: {host: web, subset: v1}}]
`,
  );
  await until(
    () => wp.engine.config.source.services[0]?.ports[0]?.routes !== undefined,
    'the route to reach the waypoint',
  );
  for (let i = 0; i < 4; i++) {
    assert.equal((await get('/', { 'end-user': 'jason' })).served, 'web-v2');
    assert.equal((await get('/')).served, 'web-v1');
  }
  const metrics = await wp.registry.getSingleMetricAsString('istio_requests_total');
  assert.match(metrics, /reporter="waypoint"/);
  assert.match(metrics, /destination_service="web.default.svc.cluster.local"/);
  assert.match(metrics, /source_principal="spiffe:\/\/cluster.local\/ns\/default\/sa\/curl"/);
  assert.match(metrics, /destination_version="v2"/);
});

test('an HTTPRoute weight split and a bad route rejected while the last good one serves', async () => {
  await mesh.removeConfig('vs.yaml');
  await mesh.writeConfig(
    'route.yaml',
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 9080}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /only-v2}}]
    backendRefs: [{name: web, port: 9080}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: end-user, value: routed}]}}]
  - backendRefs: [{name: web, port: 9080}]
`,
  );
  await until(
    () =>
      (wp.engine.config.source.services[0]?.ports[0]?.routes ?? []).some((r) =>
        r.name.startsWith('HTTPRoute'),
      ),
    'the HTTPRoute',
  );
  const r = await new Promise<{ user: string }>((resolve, reject) => {
    void mesh.connectFrom(mesh.zt1, pod(N, 1, 2), { ip: VIP, port: 9080 }).then((sock) => {
      const req = http.request({ createConnection: () => sock, path: '/only-v2/x' }, (res) => {
        res.resume();
        res.on('end', () => {
          sock.destroy();
          resolve({ user: String(res.headers['x-user']) });
        });
      });
      req.on('error', reject);
      req.end();
    }, reject);
  });
  assert.equal(r.user, 'routed');
  // A broken route: rejected by istiod's validation with its path; the waypoint keeps the last good config.
  await mesh.writeConfig(
    'route.yaml',
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  rules: [{matches: [{path: {type: RegularExpression, value: "(("}}]}]
`,
  );
  await until(
    () => mesh.istiod.issues().some((i) => i.path.includes('spec.rules[0].matches[0].path.value')),
    'the issue',
  );
  assert.equal((await get('/only-v2/y')).status, 200);
});

test('an app that closes its idle keep-alive connections: the waypoint opens a new one, no request hangs', async () => {
  // echo and most app servers close an idle keep-alive connection after a while (Node: keepAliveTimeout
  // plus keepAliveTimeoutBuffer, 5 + 1 s); the far ztunnel then ends the HBONE stream, and the waypoint
  // must drop that pooled connection, not write the next request into it (it was never answered).
  // 2 s: an app announcing `Keep-Alive: timeout=1` or less is not pooled by Node's agent at all.
  const keep = apps.map((a) => [a.keepAliveTimeout, a.keepAliveTimeoutBuffer] as const);
  for (const a of apps) [a.keepAliveTimeout, a.keepAliveTimeoutBuffer] = [2000, 0];
  const within = <T>(p: Promise<T>): Promise<T> =>
    Promise.race([
      p,
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error('request through the waypoint hung')), 5000).unref(),
      ),
    ]);
  const open = (a: http.Server): Promise<number> =>
    new Promise((res, rej) => a.getConnections((err, n) => (err ? rej(err) : res(n))));
  const allClosed = async (): Promise<number[]> => {
    let left: number[] = [];
    for (const end = Date.now() + 3000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      left = await Promise.all(apps.map(open));
      if (left.every((n) => n === 0)) break;
    }
    return left;
  };
  try {
    // Connections earlier tests left in the pool still run the old timeout: closed now, so every
    // connection below is idle-timed by the 2 s.
    for (const a of apps) a.closeIdleConnections();
    assert.deepEqual(await allClosed(), [0, 0]);
    for (let i = 0; i < 4; i++) assert.equal((await within(get('/idle'))).status, 200);
    await new Promise((r) => setTimeout(r, 2300)); // past the apps' keep-alive timeout
    // Nothing is left half-open: each idle connection the apps closed is let go end to end (within a
    // bound: under load the ends take a moment to cross both hops; a kept tunnel never goes)...
    assert.deepEqual(await allClosed(), [0, 0]);
    // ...and the next requests go on new ones.
    for (let i = 0; i < 4; i++) assert.equal((await within(get('/idle'))).status, 200);
  } finally {
    apps.forEach((a, i) => ([a.keepAliveTimeout, a.keepAliveTimeoutBuffer] = keep[i]!));
  }
});
