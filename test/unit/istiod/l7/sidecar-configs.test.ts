import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ConfigStore } from '../../../../src/istiod/config/store.js';
import { validateObject } from '../../../../src/istiod/config/validate.js';
import { buildSidecarConfigs } from '../../../../src/istiod/l7/sidecar-configs.js';
import { compileConfig, portFor } from '../../../../src/l7/compile.js';

const YAML = `
apiVersion: v1
kind: Namespace
metadata: {name: sc, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: amb, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: amb}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: amb}
spec: {clusterIP: 10.96.0.9, selector: {gateway.networking.k8s.io/gateway-name: waypoint}, ports: [{name: mesh, port: 15008}]}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-1, namespace: amb, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint, containers: [{name: istio-proxy}]}
status: {podIP: 10.244.1.9, phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: amb, labels: {istio.io/use-waypoint: waypoint}}
spec: {clusterIP: 10.96.0.10, selector: {app: echo}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-1, namespace: amb, labels: {app: echo}}
spec: {serviceAccountName: echo, containers: [{name: echo}]}
status: {podIP: 10.244.2.2, phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: sc}
spec: {clusterIP: 10.96.0.11, selector: {app: web}, ports: [{name: http, port: 9080, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: sc, labels: {app: web, version: v1, networking.istio.io/tunnel: http}, annotations: {sidecar.istio.io/status: '{}'}}
spec: {serviceAccountName: web, containers: [{name: istio-proxy}, {name: web}]}
status: {podIP: 10.244.2.3, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: sleep-1, namespace: sc, labels: {app: sleep, networking.istio.io/tunnel: http}, annotations: {sidecar.istio.io/status: '{}'}}
spec: {serviceAccountName: sleep, containers: [{name: istio-proxy}, {name: sleep}]}
status: {podIP: 10.244.1.3, phase: Running}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: sc}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: web}}], timeout: 2s}]
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

test('outbound: client-side routes, HBONE to sidecar pods, and a waypoint-bound service via its waypoint', () => {
  const all = buildSidecarConfigs(storeOf(YAML), OPTS);
  assert.deepEqual([...all.keys()].sort(), [
    'sc/sleep-1~inbound',
    'sc/web-1~inbound',
    'sc/~sidecar-outbound',
  ]);
  const out = compileConfig(all.get('sc/~sidecar-outbound')!);
  const web = portFor(out, '10.96.0.11', 9080)!;
  assert.equal(web.routes?.length, 1, 'the VirtualService applies on the client side');
  const webEps = out.clusters.get(web.defaultCluster)!.endpoints;
  assert.deepEqual(
    webEps.map((e) => [e.ip, e.port, e.hbone, e.identity]),
    [['10.244.2.3', 8080, true, 'spiffe://cluster.local/ns/sc/sa/web']],
  );
  const echo = portFor(out, '10.96.0.10', 8080)!;
  assert.equal(echo.routes, undefined, 'the waypoint routes, not the sidecar');
  assert.deepEqual(
    out.clusters.get(echo.defaultCluster)!.endpoints.map((e) => [e.ip, e.port, e.via, e.identity]),
    [['10.96.0.10', 8080, '10.244.1.9', 'spiffe://cluster.local/ns/amb/sa/waypoint']],
  );
  assert.equal(portFor(out, '10.96.0.9', 15008), undefined, "a waypoint's own Service is not routed");
});

test('inbound: the services selecting the pod, to the app on the pod IP, with its identity', () => {
  const cfg = compileConfig(buildSidecarConfigs(storeOf(YAML), OPTS).get('sc/web-1~inbound')!);
  const p = portFor(cfg, '10.244.2.3', 8080)!;
  assert.equal(p.service.hostname, 'web.sc.svc.cluster.local');
  const ep = cfg.clusters.get(p.defaultCluster)!.endpoints[0]!;
  assert.deepEqual(
    [ep.ip, ep.port, ep.hbone, ep.identity, ep.version],
    ['10.244.2.3', 8080, false, 'spiffe://cluster.local/ns/sc/sa/web', 'v1'],
  );
  const sleep = buildSidecarConfigs(storeOf(YAML), OPTS).get('sc/sleep-1~inbound')!;
  assert.equal(sleep.services.length, 0);
});

const POLICIES = `
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-no-delete, namespace: sc}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: sleep-only, namespace: sc}
spec:
  selector: {matchLabels: {app: sleep}}
  rules: [{from: [{source: {principals: [cluster.local/ns/sc/sa/web]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-wide, namespace: sc}
spec:
  action: AUDIT
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-wide, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-ns, namespace: amb}
spec: {action: DENY, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: at-waypoint, namespace: sc}
spec:
  targetRefs: [{kind: Service, group: '', name: web}]
  action: DENY
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: web-jwt, namespace: sc}
spec:
  selector: {matchLabels: {app: web}}
  jwtRules: [{issuer: https://issuer.example, jwksUri: https://issuer.example/jwks}]
`;

test('inbound: selector, namespace and root-namespace policies bind to the sidecar pod, targetRefs ones do not', () => {
  const all = buildSidecarConfigs(storeOf(`${YAML}\n---\n${POLICIES}`), {
    ...OPTS,
    rootNamespace: 'istio-system',
  });
  const web = all.get('sc/web-1~inbound')!.services[0]!;
  assert.deepEqual(web.security?.policies.map((p) => `${p.namespace}/${p.name} ${p.action}`).sort(), [
    'istio-system/mesh-wide DENY',
    'sc/ns-wide AUDIT',
    'sc/web-no-delete DENY',
  ]);
  assert.deepEqual(
    web.security?.jwtRules.map((r) => [r.source, r.issuer]),
    [['RequestAuthentication sc/web-jwt', 'https://issuer.example']],
  );
  const out = all.get('sc/~sidecar-outbound')!;
  assert.ok(
    out.services.every((s) => s.security === undefined),
    'the outbound (client) side enforces no server policy',
  );
});
