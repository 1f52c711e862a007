import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ConfigStore } from '../../../../src/istiod/config/store.js';
import { validateObject } from '../../../../src/istiod/config/validate.js';
import { buildWaypointConfigs } from '../../../../src/istiod/l7/waypoint-configs.js';
import { compileConfig, portFor } from '../../../../src/l7/compile.js';
import { decide } from '../../../../src/l7/route/decide.js';

const BASE = `
apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec: {clusterIP: 10.96.0.10, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: bookinfo, labels: {istio.io/use-waypoint: none}}
spec: {clusterIP: 10.96.0.11, selector: {app: ratings}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-abc, namespace: bookinfo, labels: {app: reviews, version: v1}}
spec: {serviceAccountName: bookinfo-reviews, containers: [{name: app}]}
status: {podIP: 10.244.1.5, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2-def, namespace: bookinfo, labels: {app: reviews, version: v2}}
spec: {serviceAccountName: bookinfo-reviews, containers: [{name: app}]}
status: {podIP: 10.244.2.6, phase: Running}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
`;

function storeOf(yaml: string): ConfigStore {
  const store = new ConfigStore();
  for (const doc of yaml.split(/^---$/m)) {
    const r = validateObject(parse(doc));
    if (r.status !== 'valid') throw new Error(JSON.stringify(r));
    store.apply({ type: 'add', key: r.key, object: r.object });
  }
  return store;
}

const OPTS = { trustDomain: 'cluster.local', domainSuffix: 'cluster.local' };

test('a waypoint gets only its bound services, their endpoints with identity, and a default route', () => {
  const cfg = buildWaypointConfigs(storeOf(BASE), OPTS).get('bookinfo/waypoint')!;
  assert.deepEqual(
    cfg.services.map((s) => s.hostname),
    ['reviews.bookinfo.svc.cluster.local'],
    'ratings opted out with none',
  );
  const port = cfg.services[0]!.ports[0]!;
  assert.equal(port.routes, undefined);
  assert.equal(port.protocol, 'http');
  const cluster = cfg.clusters.find((c) => c.name === port.defaultCluster)!;
  assert.deepEqual(cluster.lb, { kind: 'ROUND_ROBIN' });
  assert.deepEqual(
    cluster.endpoints.map((e) => [e.ip, e.port, e.hbone, e.identity]),
    [
      ['10.244.1.5', 9080, true, 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews'],
      ['10.244.2.6', 9080, true, 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews'],
    ],
  );
});

test('VirtualService: header match to subset v2, else 90/10; subsets select endpoints by labels', () => {
  const vs = `
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
    timeout: 2s
    retries: {attempts: 3, retryOn: 5xx}
`;
  const cfg = compileConfig(buildWaypointConfigs(storeOf(BASE + vs), OPTS).get('bookinfo/waypoint')!);
  const port = portFor(cfg, '10.96.0.10', 9080)!;
  const view = (h: Record<string, string>) => ({
    method: 'GET',
    path: '/',
    query: '',
    authority: 'reviews:9080',
    header: (n: string) => h[n],
  });
  const jason = decide(view({ 'end-user': 'jason' }), port, cfg, () => 0);
  assert.equal(jason.kind === 'forward' && jason.cluster.endpoints.map((e) => e.ip).join(), '10.244.2.6');
  const other = decide(view({}), port, cfg, () => 0.5);
  assert.equal(other.kind === 'forward' && other.cluster.subset, 'v1');
  assert.deepEqual(other.kind === 'forward' && [other.timeoutMs, other.retry.attempts, other.retry.retryOn], [
    2000,
    3,
    ['5xx'],
  ]);
  const tail = decide(view({}), port, cfg, () => 0.95);
  assert.equal(tail.kind === 'forward' && tail.cluster.subset, 'v2');
});

test('HTTPRoute (GAMMA) on the Service: Exact beats PathPrefix regardless of order; weights; unknown backend → 500', () => {
  const route = `
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: reviews, port: 9080, weight: 1}]
  - matches: [{path: {type: Exact, value: /missing}}]
    backendRefs: [{name: nothere, port: 9080}]
`;
  const cfg = compileConfig(buildWaypointConfigs(storeOf(BASE + route), OPTS).get('bookinfo/waypoint')!);
  const port = portFor(cfg, '10.96.0.10', 9080)!;
  const req = (path: string) => ({
    method: 'GET',
    path,
    query: '',
    authority: 'reviews',
    header: () => undefined,
  });
  const missing = decide(req('/missing'), port, cfg, () => 0);
  assert.deepEqual(missing.kind === 'respond' && [missing.status, missing.flag], [500, 'NC']);
  assert.equal(decide(req('/x'), port, cfg, () => 0).kind, 'forward');
});

test('invalid routes are rejected with the object, the field path and the reason', () => {
  const bad = parse(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}, weight: -1}]
    timeout: soon
    fault: {abort: {httpStatus: 503, percentage: {value: 150}}}
`);
  const r = validateObject(bad);
  assert.equal(r.status, 'invalid');
  const texts = r.status === 'invalid' ? r.issues.map((i) => i.text) : [];
  assert.ok(
    texts.some((t) =>
      t.includes('VirtualService bookinfo/reviews: spec.http[0].timeout: "soon" is not a duration'),
    ),
    texts.join('\n'),
  );
  assert.ok(texts.some((t) => t.includes('spec.http[0].route[0].weight')));
  assert.ok(texts.some((t) => t.includes('spec.http[0].fault.abort.percentage.value')));
  const hr = validateObject(
    parse(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: bookinfo}
spec:
  parentRefs: [{kind: Service, name: reviews}]
  rules: [{filters: [{type: ExtensionRef}], matches: [{path: {type: PathPrefix, value: nope}}]}]
`),
  );
  const htexts = hr.status === 'invalid' ? hr.issues.map((i) => i.text) : [];
  assert.ok(
    htexts.some((t) => t.includes('spec.rules[0].filters[0].type: "ExtensionRef" is not supported')),
    htexts.join('\n'),
  );
  assert.ok(htexts.some((t) => t.includes('spec.rules[0].matches[0].path.value: "nope" must start with /')));
});

test('GRPCRoute: a service/method match is an exact /svc/method path; a service alone a segment prefix', () => {
  const route = `
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v2, namespace: bookinfo}
spec: {clusterIP: 10.96.0.12, selector: {app: reviews, version: v2}, ports: [{name: grpc, port: 9080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: reviews, namespace: bookinfo}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews}]
  rules:
  - matches: [{method: {service: reviews.Reviews, method: Get}}]
    backendRefs: [{name: reviews-v2, port: 9080}]
  - matches: [{method: {service: reviews.Admin}}]
    backendRefs: [{name: reviews, port: 9080}]
`;
  const cfg = compileConfig(buildWaypointConfigs(storeOf(BASE + route), OPTS).get('bookinfo/waypoint')!);
  const port = portFor(cfg, '10.96.0.10', 9080)!;
  const req = (path: string) => ({
    method: 'POST',
    path,
    query: '',
    authority: 'reviews',
    header: () => undefined,
  });
  const get = decide(req('/reviews.Reviews/Get'), port, cfg, () => 0);
  assert.equal(get.kind === 'forward' && get.cluster.service, 'reviews-v2.bookinfo.svc.cluster.local');
  assert.equal(get.kind === 'forward' && get.cluster.upstream, 'http2', 'a grpc port is reached with h2c');
  const admin = decide(req('/reviews.Admin/Reset'), port, cfg, () => 0);
  assert.equal(admin.kind === 'forward' && admin.cluster.service, 'reviews.bookinfo.svc.cluster.local');
  const other = decide(req('/reviews.Reviews/List'), port, cfg, () => 0);
  assert.deepEqual(other.kind === 'respond' && [other.status, other.flag], [404, 'NR']);
  const bad = validateObject(
    parse(`
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: r, namespace: bookinfo}
spec: {rules: [{matches: [{method: {type: Exact}}]}]}
`),
  );
  assert.ok(
    bad.status === 'invalid' &&
      bad.issues.some((i) => i.text.includes('spec.rules[0].matches[0].method: set service, method or both')),
  );
});
