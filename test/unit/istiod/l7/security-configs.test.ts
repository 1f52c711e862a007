import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ConfigStore } from '../../../../src/istiod/config/store.js';
import { validateObject } from '../../../../src/istiod/config/validate.js';
import { l4Policies } from '../../../../src/istiod/l7/security-configs.js';
import { buildWaypointConfigs } from '../../../../src/istiod/l7/waypoint-configs.js';

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
spec: {clusterIP: 10.96.0.10, selector: {app: reviews}, ports: [{name: http, port: 9080}, {name: http-admin, port: 9090}]}
---
apiVersion: v1
kind: Service
metadata: {name: details, namespace: bookinfo}
spec: {clusterIP: 10.96.0.12, selector: {app: details}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: bookinfo, labels: {app: reviews, version: v1}}
spec: {serviceAccountName: bookinfo-reviews, containers: [{name: app}]}
status: {podIP: 10.244.1.5, phase: Running}
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

function issues(doc: string): string[] {
  const r = validateObject(parse(doc));
  return r.status === 'invalid' ? r.issues.map((i) => i.text) : [];
}

const OPTS = { trustDomain: 'cluster.local', domainSuffix: 'cluster.local', rootNamespace: 'istio-system' };

function security(yaml: string) {
  const cfg = buildWaypointConfigs(storeOf(BASE + yaml), OPTS).get('bookinfo/waypoint')!;
  const by = new Map(cfg.services.map((s) => [s.name, s.security]));
  return { reviews: by.get('reviews'), details: by.get('details'), cfg };
}

test('targetRefs: the Gateway binds to every service of the waypoint, a Service to itself, the GatewayClass from the root namespace', () => {
  const s = security(`
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: gw, namespace: bookinfo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: svc, namespace: bookinfo, annotations: {istio.io/dry-run: "true"}}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  rules: [{to: [{operation: {paths: [/reviews*]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: class, namespace: istio-system}
spec:
  targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}]
  action: AUDIT
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: class-elsewhere, namespace: bookinfo}
spec:
  targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}]
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ztunnel-one, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: reviews}}
  rules: [{to: [{operation: {methods: [GET]}}]}]
`);
  assert.deepEqual(
    s.reviews?.policies
      .map((p) => `${p.namespace}/${p.name}:${p.action}${p.dryRun ? ':dry-run' : ''}`)
      .sort(),
    ['bookinfo/gw:DENY', 'bookinfo/svc:ALLOW:dry-run', 'istio-system/class:AUDIT'],
  );
  assert.deepEqual(s.details?.policies.map((p) => p.name).sort(), ['class', 'gw']);
});

test('RequestAuthentication → JWT rules with Istio field names; no policy → no security block', () => {
  const s = security(`
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: bookinfo}
spec:
  targetRefs: [{kind: Service, name: reviews}]
  jwtRules:
  - issuer: https://auth.example
    jwksUri: https://auth.example/jwks.json
    audiences: [bookinfo]
    fromHeaders: [{name: X-Token, prefix: "Token "}]
    fromParams: [tok]
    forwardOriginalToken: true
    outputPayloadToHeader: x-payload
    outputClaimToHeaders: [{header: x-sub, claim: sub}]
    timeout: 2s
`);
  assert.deepEqual(s.reviews?.jwtRules, [
    {
      source: 'RequestAuthentication bookinfo/jwt',
      issuer: 'https://auth.example',
      audiences: ['bookinfo'],
      jwks: undefined,
      jwksUri: 'https://auth.example/jwks.json',
      timeoutMs: 2000,
      fromHeaders: [{ name: 'x-token', prefix: 'Token ' }],
      fromParams: ['tok'],
      forwardOriginalToken: true,
      outputPayloadToHeader: 'x-payload',
      outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }],
    },
  ]);
  assert.equal(s.details, undefined);
  assert.equal('security' in s.cfg.services.find((x) => x.name === 'details')!, false);
});

test('DestinationRule connectionPool and outlierDetection: subset port-level > subset > top port-level > top, whole blocks', () => {
  const { cfg } = security(`
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 10}, http: {http1MaxPendingRequests: 5, maxRetries: 2}}
    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 10s}
    portLevelSettings:
    - port: {number: 9090}
      connectionPool: {http: {http2MaxRequests: 7}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      outlierDetection: {consecutiveGatewayErrors: 1, maxEjectionPercent: 100}
  - name: v2
    labels: {version: v2}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v1}, weight: 50}, {destination: {host: reviews, subset: v2}, weight: 50}]}]
`);
  const c = (name: string) => cfg.clusters.find((x) => x.name === name)!;
  const top = c('inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local');
  assert.deepEqual(top.connectionPool, { maxConnections: 10, maxPendingRequests: 5, maxRetries: 2 });
  assert.deepEqual(top.outlier, {
    consecutive5xxErrors: 3,
    consecutiveGatewayErrors: 0,
    intervalMs: 1000,
    baseEjectionTimeMs: 10_000,
    maxEjectionPercent: 10,
    minHealthPercent: 0,
  });
  assert.deepEqual(c('inbound-vip|9090|http|reviews.bookinfo.svc.cluster.local').connectionPool, {
    maxRequests: 7,
  });
  const v1 = c('inbound-vip|9080|http/v1|reviews.bookinfo.svc.cluster.local');
  assert.deepEqual(v1.outlier, {
    consecutive5xxErrors: 5,
    consecutiveGatewayErrors: 1,
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionPercent: 100,
    minHealthPercent: 0,
  });
  assert.deepEqual(
    v1.connectionPool,
    top.connectionPool,
    'the subset inherits the top block it does not set',
  );
  assert.equal(
    c('inbound-vip|9080|http/v2|reviews.bookinfo.svc.cluster.local').outlier?.consecutive5xxErrors,
    3,
  );
});

test('validation: bad RequestAuthentication, DestinationRule limits and unknown when keys are named', () => {
  assert.deepEqual(
    issues(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: bad, namespace: bookinfo}
spec:
  jwtRules:
  - {jwksUri: "ftp://x", jwks: "{}"}
  - {issuer: a, jwks: "not json"}`).length >= 4,
    true,
  );
  const ra = issues(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: bad, namespace: bookinfo}
spec: {jwtRules: [{issuer: a, jwksUri: "ftp://x"}]}`);
  assert.match(ra.join('\n'), /jwtRules\[0\]\.jwksUri.*not an http/);
  const dr = issues(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bad, namespace: bookinfo}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: -1}}
    outlierDetection: {interval: soon, maxEjectionPercent: 150}`).join('\n');
  assert.match(dr, /connectionPool\.tcp\.maxConnections/);
  assert.match(dr, /outlierDetection\.interval/);
  assert.match(dr, /outlierDetection\.maxEjectionPercent/);
  const ap = issues(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bad, namespace: bookinfo}
spec: {rules: [{when: [{key: request.nope, values: [x]}]}]}`).join('\n');
  assert.match(ap, /unknown condition key "request.nope"/);
});

test('L4 form (a sidecar port without HTTP): ALLOW drops HTTP rules, DENY loses its HTTP fields', () => {
  const got = l4Policies([
    {
      namespace: 'sc',
      name: 'allow',
      action: 'ALLOW',
      rules: [
        { from: [{ source: { principals: ['cluster.local/ns/sc/sa/sleep'] } }] },
        { to: [{ operation: { methods: ['GET'] } }] },
        { when: [{ key: 'request.headers[x]', values: ['1'] }] },
      ],
    },
    {
      namespace: 'sc',
      name: 'deny',
      action: 'DENY',
      rules: [
        {
          from: [{ source: { namespaces: ['evil'], requestPrincipals: ['*'] } }],
          to: [{ operation: { methods: ['DELETE'], ports: ['9080'] } }],
          when: [
            { key: 'request.auth.claims[x]', values: ['y'] },
            { key: 'source.ip', values: ['10.0.0.1'] },
          ],
        },
      ],
    },
  ]);
  assert.deepEqual(got[0]!.rules, [{ from: [{ source: { principals: ['cluster.local/ns/sc/sa/sleep'] } }] }]);
  assert.deepEqual(got[1]!.rules, [
    {
      from: [{ source: { namespaces: ['evil'] } }],
      to: [{ operation: { ports: ['9080'] } }],
      when: [{ key: 'source.ip', values: ['10.0.0.1'] }],
    },
  ]);
});
