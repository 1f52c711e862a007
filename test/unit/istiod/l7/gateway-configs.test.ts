import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ConfigStore } from '../../../../src/istiod/config/store.js';
import { validateObject } from '../../../../src/istiod/config/validate.js';
import {
  buildGatewayConfigs,
  intersect,
  listenerStatuses,
  listenerRefs,
} from '../../../../src/istiod/l7/gateway-configs.js';
import { tlsSecretYaml, webCert } from '../../../fixtures/web-cert.js';
import { compileConfig, portFor } from '../../../../src/l7/compile.js';
import { decide } from '../../../../src/l7/route/decide.js';

const YAML = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: "*.example.com"}
  - {name: other, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: shop}
spec: {clusterIP: 10.96.0.9, selector: {gateway.networking.k8s.io/gateway-name: waypoint}, ports: [{name: mesh, port: 15008}]}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-1, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint, containers: [{name: istio-proxy}]}
status: {podIP: 10.244.1.9, phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {istio.io/use-waypoint: waypoint}}
spec: {clusterIP: 10.96.0.10, selector: {app: web}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {serviceAccountName: web, containers: [{name: web}]}
status: {podIP: 10.244.2.2, phase: Running}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: edge, sectionName: http}]
  hostnames: [shop.example.com, shop.other.org]
  rules: [{matches: [{path: {type: PathPrefix, value: /shop}}], backendRefs: [{name: web, port: 9080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: elsewhere, namespace: other}
spec:
  parentRefs: [{name: edge, namespace: shop}]
  rules: [{backendRefs: [{name: web, namespace: shop, port: 9080}]}]
`;

function storeOf(yaml: string, extra: Record<string, string> = {}): ConfigStore {
  const store = new ConfigStore();
  for (const doc of yaml.split(/^---$/m)) {
    const o = parse(doc) as { metadata: { name: string; labels?: Record<string, string> } };
    if (o.metadata.name === 'web' && (o as { kind?: string }).kind === 'Service')
      o.metadata.labels = { ...o.metadata.labels, ...extra };
    const r = validateObject(o);
    if (r.status !== 'valid') throw new Error(JSON.stringify(r));
    store.apply({ type: 'add', key: r.key, object: r.object });
  }
  return store;
}

const OPTS = { trustDomain: 'cluster.local', domainSuffix: 'cluster.local' };

function route(cfgKey: string, store: ConfigStore, port: number, host: string, path: string) {
  const cfg = compileConfig(buildGatewayConfigs(store, OPTS).get(cfgKey)!);
  const p = portFor(cfg, '0.0.0.0', port)!;
  const ex = {
    method: 'GET',
    path,
    query: '',
    authority: host,
    header: () => undefined,
    queryParam: () => undefined,
  };
  return { cfg, d: decide(ex as never, p, cfg, () => 0) };
}

test('hostnames: a route attaches where they intersect the listener, as an authority match', () => {
  assert.deepEqual(intersect('*.example.com', ['shop.example.com', 'shop.other.org']), ['shop.example.com']);
  assert.deepEqual(intersect('*.example.com', []), ['*.example.com']);
  assert.deepEqual(intersect(undefined, ['a.b']), ['a.b']);
  assert.equal(intersect('a.example.com', ['b.example.com']), undefined);
  const store = storeOf(YAML);
  const ok = route('shop/edge-istio', store, 80, 'shop.example.com:80', '/shop/cart').d;
  assert.equal(ok.kind, 'forward');
  const other = route('shop/edge-istio', store, 80, 'shop.other.org', '/shop/cart').d;
  assert.equal(other.kind, 'respond', 'a hostname outside the listener is not served');
  assert.equal((other as { status?: number }).status, 404);
});

test('allowedRoutes: Same by default; All lets another namespace attach; HBONE to the pod', () => {
  const store = storeOf(YAML);
  const cfg = buildGatewayConfigs(store, OPTS).get('shop/edge-istio')!;
  const p80 = cfg.services[0]!.ports.find((p) => p.port === 80)!;
  const p8080 = cfg.services[0]!.ports.find((p) => p.port === 8080)!;
  assert.equal(p80.routes!.length, 1, 'the other namespace route is not allowed on the Same listener');
  assert.equal(p8080.routes!.length, 1, 'listener "other" allows All');
  const cl = cfg.clusters.find((c) => c.service === 'web.shop.svc.cluster.local')!;
  assert.deepEqual(
    cl.endpoints.map((e) => [e.ip, e.port, e.hbone, e.via]),
    [['10.244.2.2', 9080, true, undefined]],
  );
});

test('istio.io/ingress-use-waypoint=true: the backend is the waypoint, authority = VIP:port', () => {
  const cfg = buildGatewayConfigs(storeOf(YAML, { 'istio.io/ingress-use-waypoint': 'true' }), OPTS).get(
    'shop/edge-istio',
  )!;
  const cl = cfg.clusters.find((c) => c.service === 'web.shop.svc.cluster.local')!;
  assert.deepEqual(
    cl.endpoints.map((e) => [e.ip, e.port, e.via, e.identity]),
    [['10.96.0.10', 9080, '10.244.1.9', 'spiffe://cluster.local/ns/shop/sa/waypoint']],
  );
});

test('policies bound by the gateway pods’ label or by targetRefs to the Gateway apply at the ingress', () => {
  const store = storeOf(`${YAML}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-selector, namespace: shop}
spec:
  selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: edge}}
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-target, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: edge}]
  action: ALLOW
  rules: [{from: [{source: {remoteIpBlocks: [10.244.255.0/24]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: at-waypoint, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-pods, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: edge}]
  jwtRules: [{issuer: https://issuer.example.com, jwks: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'}]
`);
  const svc = buildGatewayConfigs(store, OPTS).get('shop/edge-istio')!.services[0]!;
  assert.deepEqual(svc.security?.policies.map((p) => p.name).sort(), ['by-selector', 'by-target']);
  assert.deepEqual(
    svc.security?.jwtRules.map((r) => r.issuer),
    ['https://issuer.example.com'],
  );
  // No policy at all: the gateway carries no security section.
  assert.equal(
    buildGatewayConfigs(storeOf(YAML), OPTS).get('shop/edge-istio')!.services[0]!.security,
    undefined,
  );
});

test('listener status: attached routes by the same rules; a protocol not served is not Accepted', () => {
  const store = storeOf(
    YAML.replace(
      '  - {name: other, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}',
      '  - {name: other, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}\n  - {name: tls, port: 443, protocol: TCP, hostname: "*.example.com"}',
    ),
  );
  const gw = store.get('Gateway', 'shop', 'edge')!;
  const T0 = '2026-01-02T03:04:05Z';
  const before = listenerStatuses(
    gw,
    store.list('HTTPRoute'),
    false,
    undefined,
    { secret: () => undefined },
    T0,
  );
  assert.deepEqual(
    before.map((l) => [l.name, l.attachedRoutes, l.supportedKinds.map((k) => k.kind).join()]),
    [
      ['http', 1, 'HTTPRoute'], // web (sectionName http); elsewhere comes from another namespace (Same)
      ['other', 1, 'HTTPRoute'], // elsewhere (All); web names the http listener only
      ['tls', 0, ''],
    ],
  );
  const conds = (l: (typeof before)[number]) => l.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`);
  assert.deepEqual(conds(before[0]!), [
    'Accepted=True:Accepted',
    'Programmed=False:Pending',
    'ResolvedRefs=True:ResolvedRefs',
  ]);
  assert.deepEqual(conds(before[2]!), [
    'Accepted=False:UnsupportedProtocol',
    'Programmed=False:Invalid',
    'ResolvedRefs=True:ResolvedRefs',
  ]);
  assert.match(before[2]!.conditions[0]!.message, /protocol TCP is not served by this ingress gateway/);
  const after = listenerStatuses(
    gw,
    store.list('HTTPRoute'),
    true,
    before,
    { secret: () => undefined },
    '2026-01-02T05:00:00Z',
  );
  assert.deepEqual(conds(after[0]!)[1], 'Programmed=True:Programmed');
  assert.equal(after[0]!.conditions[0]!.lastTransitionTime, T0, 'Accepted held: its transition time kept');
  assert.equal(after[0]!.conditions[1]!.lastTransitionTime, '2026-01-02T05:00:00Z');
});

/** A kubernetes.io/tls Secret in namespace shop for `host`. */
const tlsSecret = (name: string, host: string): string => tlsSecretYaml(name, 'shop', webCert([host]));

test('HTTPS listeners: certificates by hostname; bad references, Passthrough and conflicts are reported', () => {
  const yaml = YAML.replace(
    '  - {name: other, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}',
    `  - {name: other, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: shop-tls, port: 443, protocol: HTTPS, hostname: shop.example.com, tls: {certificateRefs: [{name: shop-cert}]}}
  - {name: any-tls, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: any-cert}, {name: gone}]}}
  - {name: same-host, port: 443, protocol: HTTPS, hostname: shop.example.com, tls: {certificateRefs: [{name: any-cert}]}}
  - {name: plain-on-443, port: 443, protocol: HTTP}
  - {name: elsewhere, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: any-cert, namespace: other}]}}
  - {name: missing, port: 9443, protocol: HTTPS, tls: {certificateRefs: [{name: gone}]}}
  - {name: pass, port: 9444, protocol: HTTPS, tls: {mode: Passthrough}}`,
  );
  const store = storeOf(
    `${yaml}---\n${tlsSecret('shop-cert', 'shop.example.com')}\n---\n${tlsSecret('any-cert', 'x.example.com')}`,
  );
  const cfg = buildGatewayConfigs(store, OPTS).get('shop/edge-istio')!;
  const ports = cfg.services[0]!.ports;
  assert.deepEqual(
    ports.map((p) => p.port),
    [80, 8080, 443],
    'only listeners with a usable certificate are served',
  );
  assert.deepEqual(ports.find((p) => p.port === 443)!.tls, {
    certificates: [
      { hostnames: ['shop.example.com'], credential: 'kubernetes://shop/shop-cert' },
      { hostnames: [], credential: 'kubernetes://shop/any-cert' },
    ],
  });
  const st = listenerStatuses(
    store.get('Gateway', 'shop', 'edge')!,
    store.list('HTTPRoute'),
    true,
    undefined,
    listenerRefs(store),
  );
  const line = (name: string) => {
    const l = st.find((x) => x.name === name)!;
    return l.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`).join(' ');
  };
  assert.equal(
    line('shop-tls'),
    'Accepted=True:Accepted Programmed=True:Programmed ResolvedRefs=True:ResolvedRefs',
  );
  // One of two references is missing: served with the other, and the missing one reported.
  assert.equal(
    line('any-tls'),
    'Accepted=True:Accepted Programmed=True:Programmed ResolvedRefs=False:InvalidCertificateRef',
  );
  assert.match(
    st.find((x) => x.name === 'any-tls')!.conditions[2]!.message,
    /certificateRefs\[1\]: Secret shop\/gone not found/,
  );
  assert.equal(
    line('same-host'),
    'Accepted=True:Accepted Programmed=False:Invalid ResolvedRefs=True:ResolvedRefs Conflicted=True:HostnameConflict',
  );
  assert.equal(
    line('plain-on-443'),
    'Accepted=True:Accepted Programmed=False:Invalid ResolvedRefs=True:ResolvedRefs Conflicted=True:ProtocolConflict',
  );
  assert.equal(
    line('elsewhere'),
    'Accepted=True:Accepted Programmed=False:Invalid ResolvedRefs=False:RefNotPermitted',
  );
  assert.equal(
    line('missing'),
    'Accepted=True:Accepted Programmed=False:Invalid ResolvedRefs=False:InvalidCertificateRef',
  );
  assert.equal(
    line('pass'),
    'Accepted=False:UnsupportedValue Programmed=False:Invalid ResolvedRefs=True:ResolvedRefs',
  );
  // web names the http listener; elsewhere, from another namespace, is not allowed (Same).
  assert.equal(st.find((x) => x.name === 'shop-tls')!.attachedRoutes, 0);
});

test('a kubernetes.io/tls Secret must hold a certificate and its own key', () => {
  const good = parse(tlsSecret('c', 'a.example.com')) as { data: Record<string, string> };
  const other = parse(tlsSecret('d', 'b.example.com')) as { data: Record<string, string> };
  const check = (data: Record<string, string>) =>
    validateObject({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'c', namespace: 'shop' },
      type: 'kubernetes.io/tls',
      data,
    });
  assert.equal(check(good.data).status, 'valid');
  const mixed = check({ 'tls.crt': good.data['tls.crt']!, 'tls.key': other.data['tls.key']! });
  assert.equal(mixed.status, 'invalid');
  assert.match(JSON.stringify(mixed), /tls.key does not belong to the first certificate of tls.crt/);
  const noKey = check({ 'tls.crt': good.data['tls.crt']! });
  assert.match(JSON.stringify(noKey), /data\[tls.key\]: is required in a kubernetes.io\/tls Secret/);
  assert.match(JSON.stringify(check({ 'tls.crt': 'not base64!', 'tls.key': 'x' })), /is not base64/);
  // Other types are not checked for TLS content (a service account token, an opaque secret).
  assert.equal(
    validateObject({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'o' },
      type: 'Opaque',
      stringData: { password: 'x' },
    }).status,
    'valid',
  );
});

const GRANT = (from: string, to: Record<string, string>) => `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: grant, namespace: shop}
spec:
  from: [{group: gateway.networking.k8s.io, kind: ${from}, namespace: other}]
  to: [${JSON.stringify(to)}]`;

test('a backend in another namespace needs a ReferenceGrant there: 500 without, routed with', () => {
  const without = route('shop/edge-istio', storeOf(YAML), 8080, 'x', '/').d as {
    kind: string;
    status?: number;
  };
  assert.deepEqual([without.kind, without.status], ['respond', 500]);
  const grants = [
    GRANT('HTTPRoute', { group: '', kind: 'Service' }),
    GRANT('HTTPRoute', { group: '', kind: 'Service', name: 'web' }),
  ];
  for (const g of grants)
    assert.equal(route('shop/edge-istio', storeOf(`${YAML}---\n${g}`), 8080, 'x', '/').d.kind, 'forward', g);
  // A grant for another kind, another name or another referring kind does not count.
  for (const g of [
    GRANT('HTTPRoute', { group: '', kind: 'Service', name: 'db' }),
    GRANT('GRPCRoute', { group: '', kind: 'Service' }),
    GRANT('HTTPRoute', { group: '', kind: 'Secret' }),
  ])
    assert.equal(
      (route('shop/edge-istio', storeOf(`${YAML}---\n${g}`), 8080, 'x', '/').d as { status?: number }).status,
      500,
      g,
    );
});

test('a certificate Secret in another namespace is served once a ReferenceGrant there lets the Gateway', () => {
  const gw = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: other}
spec:
  gatewayClassName: istio
  listeners: [{name: tls, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: any-cert, namespace: shop}]}}]`;
  const base = `${gw}\n---\n${tlsSecret('any-cert', 'x.example.com')}`;
  const ports = (yaml: string) =>
    buildGatewayConfigs(storeOf(yaml), OPTS).get('other/edge-istio')!.services[0]!.ports;
  assert.deepEqual(ports(base), [], 'refused without a grant');
  const granted = ports(`${base}\n---\n${GRANT('Gateway', { group: '', kind: 'Secret', name: 'any-cert' })}`);
  assert.deepEqual(granted[0]?.tls?.certificates, [
    { hostnames: [], credential: 'kubernetes://shop/any-cert' },
  ]);
});

test('a ReferenceGrant names whom it admits and what: from and to are required', () => {
  const r = validateObject(
    parse(`apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: shop}
spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute}]}`),
  );
  assert.equal(r.status, 'invalid');
  assert.deepEqual(
    (r as { issues: Array<{ path: string; message: string }> }).issues.map((i) => `${i.path}: ${i.message}`),
    ['spec.from[0].namespace: is required', 'spec.to: is required'],
  );
});

test('a TLS Passthrough listener routes TLSRoutes by server name; Terminate on a TLS listener is not served', () => {
  const gw = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  gatewayClassName: istio
  listeners:
  - {name: pass, port: 8444, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
  - {name: term, port: 8445, protocol: TLS, tls: {certificateRefs: [{name: x}]}}`;
  const route = (
    name: string,
    hostnames: string,
    ts: string,
  ) => `apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: ${name}, namespace: shop, creationTimestamp: "${ts}"}
spec:
  parentRefs: [{name: edge, sectionName: pass}]
  hostnames: ${hostnames}
  rules: [{backendRefs: [{name: web, port: 9443}]}]`;
  const yaml = YAML.replace(
    /---\napiVersion: gateway.networking.k8s.io\/v1\nkind: Gateway\nmetadata: \{name: edge[\s\S]*?(?=---)/,
    '',
  );
  const store = storeOf(
    [
      yaml,
      gw,
      route('any', '[]', '2026-01-01T00:00:00Z'),
      route('cart', '[cart.example.com, cart.other.org]', '2026-01-02T00:00:00Z'),
    ].join('\n---\n'),
  );
  const ports = buildGatewayConfigs(store, OPTS).get('shop/edge-istio')!.services[0]!.ports;
  assert.deepEqual(
    ports.map((p) => [p.port, p.protocol]),
    [[8444, 'tls']],
  );
  assert.deepEqual(
    ports[0]!.sni!.map((s) => [s.name, s.hosts.join(','), s.cluster]),
    [
      ['TLSRoute/shop/cart#0', 'cart.example.com', 'inbound-vip|9443|http|web.shop.svc.cluster.local'],
      ['TLSRoute/shop/any#0', '*.example.com', 'inbound-vip|9443|http|web.shop.svc.cluster.local'],
    ],
    'specific names first; the route without hostnames takes the listener hostname',
  );
  const st = listenerStatuses(
    store.get('Gateway', 'shop', 'edge')!,
    store.list('TLSRoute'),
    true,
    undefined,
    {
      secret: () => undefined,
    },
  );
  assert.deepEqual(
    st.map((l) => [
      l.name,
      l.attachedRoutes,
      l.supportedKinds.map((k) => k.kind).join(),
      l.conditions[0]!.reason,
    ]),
    [
      ['pass', 2, 'TLSRoute', 'Accepted'],
      ['term', 0, '', 'UnsupportedValue'],
    ],
  );
});
