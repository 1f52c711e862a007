import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ConfigStore } from '../../../../src/istiod/config/store.js';
import { validateObject } from '../../../../src/istiod/config/validate.js';
import {
  buildClassicGatewayConfigs,
  missingGateways,
} from '../../../../src/istiod/l7/classic-gateway-configs.js';
import { buildSidecarConfigs } from '../../../../src/istiod/l7/sidecar-configs.js';
import { buildWaypointConfigs } from '../../../../src/istiod/l7/waypoint-configs.js';
import { compileConfig, portFor } from '../../../../src/l7/compile.js';
import { decide } from '../../../../src/l7/route/decide.js';
import { tlsSecretYaml, webCert } from '../../../fixtures/web-cert.js';
import { createRootCa } from '../../../../src/pki/ca.js';
import { credentialResources } from '../../../../src/istiod/server/credentials.js';

const YAML = `
apiVersion: v1
kind: Namespace
metadata: {name: bookinfo, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata: {labels: {istio: ingressgateway, app: istio-ingressgateway}}
    spec: {containers: [{name: istio-proxy}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop-gateway, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["shop/shop.example.com"]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: bookinfo}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: bookinfo}
spec: {clusterIP: 10.96.0.9, selector: {gateway.networking.k8s.io/gateway-name: waypoint}, ports: [{name: mesh, port: 15008}]}
---
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: bookinfo}
spec: {clusterIP: 10.96.0.10, selector: {app: productpage}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: productpage-1, namespace: bookinfo, labels: {app: productpage}}
spec: {serviceAccountName: bookinfo-productpage, containers: [{name: productpage}]}
status: {podIP: 10.244.2.2, phase: Running}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: bookinfo, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - match: [{uri: {exact: /productpage}}, {uri: {prefix: /static}}, {uri: {exact: /login}}]
    route: [{destination: {host: productpage, port: {number: 9080}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: productpage-mesh, namespace: bookinfo, creationTimestamp: "2026-01-01T00:00:01Z"}
spec:
  hosts: [productpage]
  gateways: [mesh, bookinfo/bookinfo-gateway]
  http: [{match: [{uri: {prefix: /mesh-and-gw}}], route: [{destination: {host: productpage}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh-only, namespace: bookinfo}
spec:
  hosts: [productpage]
  http: [{match: [{uri: {prefix: /mesh-only}}], route: [{destination: {host: productpage}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [shop-gateway, missing-gateway, other/nowhere]
  http: [{route: [{destination: {host: productpage.bookinfo.svc.cluster.local, port: {number: 9080}}}]}]
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
const KEY = 'istio-system/istio-ingressgateway';

function route(store: ConfigStore, port: number, host: string, path: string) {
  const cfg = compileConfig(buildClassicGatewayConfigs(store, OPTS).get(KEY)!);
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

test('a classic Gateway configures the deployment its selector picks; bound VirtualServices route', () => {
  const store = storeOf(YAML);
  const all = buildClassicGatewayConfigs(store, OPTS);
  assert.deepEqual([...all.keys()], [KEY]);
  const cfg = all.get(KEY)!;
  assert.deepEqual(
    cfg.services[0]!.ports.map((p) => p.port),
    [80, 8080],
    'one listener per server port of every Gateway selecting it',
  );
  const ok = route(store, 80, '10.96.0.20', '/productpage');
  assert.equal(ok.d.kind, 'forward');
  const cluster = (
    ok.d as { cluster: { endpoints: { ip: string; port: number; hbone?: boolean; identity?: string }[] } }
  ).cluster;
  assert.deepEqual(
    cluster.endpoints.map((e) => [e.ip, e.port, e.hbone, e.identity]),
    [['10.244.2.2', 9080, true, 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage']],
    'HBONE to the pod, the waypoint bypassed (Istio default)',
  );
  assert.equal(route(store, 80, 'x', '/static/app.css').d.kind, 'forward');
  assert.equal(
    route(store, 80, 'productpage.bookinfo.svc.cluster.local', '/mesh-and-gw').d.kind,
    'forward',
    'a VirtualService listing mesh and the gateway applies at both',
  );
  const nr = route(store, 80, 'x', '/mesh-only').d as { kind: string; status?: number };
  assert.equal(nr.kind, 'respond', 'a VirtualService without gateways is for the mesh only');
  assert.equal(nr.status, 404);
});

test('server hosts: NS/HOST limits the namespace and the host; other hosts get 404', () => {
  const store = storeOf(YAML);
  assert.equal(route(store, 8080, 'shop.example.com:8080', '/').d.kind, 'forward');
  const other = route(store, 8080, 'other.example.com', '/').d as { kind: string; status?: number };
  assert.equal(other.status, 404);
  const notShop = storeOf(YAML.replace('hosts: ["shop/shop.example.com"]', 'hosts: ["bookinfo/*"]'));
  assert.equal(
    (route(notShop, 8080, 'shop.example.com', '/').d as { status?: number }).status,
    404,
    'a VirtualService of namespace shop is not served by a bookinfo/* server',
  );
});

test('gateways: binding is exact; mesh is the waypoint and the sidecars, as before', () => {
  const store = storeOf(YAML);
  const vs = store.get('VirtualService', 'shop', 'shop')!;
  assert.deepEqual(missingGateways(vs, store.list('IstioGateway')), ['missing-gateway', 'other/nowhere']);
  const wp = buildWaypointConfigs(store, OPTS).get('bookinfo/waypoint')!;
  const rules = wp.services.find((s) => s.name === 'productpage')!.ports[0]!.routes ?? [];
  const names = rules.map((r) => (r.name ?? '').replace(/#.*/, ''));
  assert.deepEqual(
    [...new Set(names)].sort(),
    ['VirtualService/bookinfo/mesh-only', 'VirtualService/bookinfo/productpage-mesh'],
    'mesh (or no gateways) applies at the waypoint; the gateway-only VirtualService does not',
  );
  assert.equal(buildSidecarConfigs(store, OPTS).size, 0);
});

test('selector-bound policies of the gateway pods apply at the gateway', () => {
  const store = storeOf(`${YAML}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: edge-deny, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-pods, namespace: istio-system}
spec:
  selector: {matchLabels: {app: something-else}}
  action: DENY
  rules: [{}]
`);
  const svc = buildClassicGatewayConfigs(store, OPTS).get(KEY)!.services[0]!;
  assert.deepEqual(
    svc.security?.policies.map((p) => p.name),
    ['edge-deny'],
  );
});

test('match[].gateways: an entry applies only at the gateways it names, mesh included', () => {
  const store = storeOf(`${YAML}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: split, namespace: bookinfo, creationTimestamp: "2026-01-01T00:00:02Z"}
spec:
  hosts: [productpage]
  gateways: [mesh, bookinfo-gateway]
  http:
  - match: [{uri: {prefix: /edge}, gateways: [bookinfo-gateway]}, {uri: {prefix: /both}}]
    route: [{destination: {host: productpage}}]
  - match: [{uri: {prefix: /inside}, gateways: [mesh]}]
    route: [{destination: {host: productpage}}]
  - match: [{uri: {prefix: /elsewhere}, gateways: [other/gw]}]
    route: [{destination: {host: productpage}}]
`);
  const host = 'productpage.bookinfo.svc.cluster.local';
  const kind = (path: string): string => route(store, 80, host, path).d.kind;
  assert.equal(
    kind('/edge'),
    'forward',
    'the entry names this gateway (short name, VirtualService namespace)',
  );
  assert.equal(kind('/both'), 'forward', 'an entry without gateways follows the VirtualService');
  assert.equal(kind('/inside'), 'respond', 'a mesh-only entry does not apply at the gateway');
  assert.equal(kind('/elsewhere'), 'respond', 'an entry for another gateway does not apply here');

  const wp = buildWaypointConfigs(store, OPTS).get('bookinfo/waypoint')!;
  const rules = (wp.services.find((s) => s.name === 'productpage')!.ports[0]!.routes ?? []).filter((r) =>
    (r.name ?? '').startsWith('VirtualService/bookinfo/split#'),
  );
  const paths = rules.flatMap((r) => r.matches.map((m) => m.path?.value));
  assert.deepEqual(
    paths,
    ['/both', '/inside'],
    'the waypoint keeps the mesh entries and those without gateways',
  );
});

test('match[].gateways is validated like spec.gateways, with the path of the bad entry', () => {
  const r = validateObject(
    parse(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: bookinfo}
spec:
  hosts: [productpage]
  http: [{match: [{uri: {prefix: /}, gateways: ["a/b/c"]}], route: [{destination: {host: productpage}}]}]
`),
  );
  assert.equal(r.status, 'invalid');
  assert.match(
    JSON.stringify(r),
    /spec\.http\[0\]\.match\[0\]\.gateways\[0\].*is not mesh, a Gateway NAME or NAMESPACE\/NAME/,
  );
});

test('HTTPS servers (SIMPLE) serve the credentialName Secret of the gateway namespace; httpsRedirect sends 301', () => {
  const cert = webCert(['bookinfo.example.com']);
  const secret = (ns: string) => tlsSecretYaml('bookinfo-cred', ns, cert);
  const yaml = YAML.replace(
    '  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]',
    `  servers:
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["bookinfo.example.com"], tls: {httpsRedirect: true}}
  - {port: {number: 8000, name: http-plain, protocol: HTTP}, hosts: ["*"]}
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: ["bookinfo.example.com"], tls: {mode: SIMPLE, credentialName: bookinfo-cred}}
  - {port: {number: 8443, name: https-elsewhere, protocol: HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: missing}}`,
  );
  // Istio reads credentialName in the gateway workload's namespace (istio-system), not the Gateway's.
  const inBookinfo = buildClassicGatewayConfigs(storeOf(`${yaml}---\n${secret('bookinfo')}`), OPTS).get(KEY)!;
  assert.deepEqual(
    inBookinfo.services[0]!.ports.map((p) => p.port),
    [80, 8000, 8080],
  );
  const store = storeOf(`${yaml}---\n${secret('istio-system')}`);
  const cfg = buildClassicGatewayConfigs(store, OPTS).get(KEY)!;
  const https = cfg.services[0]!.ports.find((p) => p.port === 443)!;
  assert.deepEqual(https.tls, {
    certificates: [
      { hostnames: ['bookinfo.example.com'], credential: 'kubernetes://istio-system/bookinfo-cred' },
    ],
  });
  assert.equal(route(store, 443, 'bookinfo.example.com', '/productpage').d.kind, 'forward');
  const redirect = route(store, 80, 'bookinfo.example.com', '/productpage').d as {
    kind: string;
    status: number;
    location: string;
  };
  assert.equal(redirect.status, 301);
  assert.equal(redirect.location, 'https://bookinfo.example.com/productpage');
  // Another host on the redirecting server's port is not routed (404), the plain server still routes.
  assert.equal((route(store, 80, 'other.example.com', '/productpage').d as { status?: number }).status, 404);
  assert.equal(route(store, 8000, 'x', '/productpage').d.kind, 'forward');
});

test('MUTUAL and OPTIONAL_MUTUAL servers carry the client CA credential; without a CA bundle, not served', () => {
  const ca = createRootCa();
  const server = (port: number, mode: string, cred: string) =>
    `  - {port: {number: ${port}, name: p${port}, protocol: HTTPS}, hosts: ["*"], tls: {mode: ${mode}, credentialName: ${cred}}}`;
  const yaml = YAML.replace(
    '  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]',
    [
      '  servers:',
      server(443, 'MUTUAL', 'with-cacert'),
      server(8443, 'OPTIONAL_MUTUAL', 'inline-ca'),
      server(9443, 'MUTUAL', 'no-ca'),
    ].join('\n'),
  );
  const cert = webCert(['bookinfo.example.com']);
  const caSecret = `apiVersion: v1
kind: Secret
metadata: {name: with-cacert-cacert, namespace: istio-system}
stringData: {ca.crt: ${JSON.stringify(ca.certPem)}}`;
  const inline = `apiVersion: v1
kind: Secret
metadata: {name: inline-ca, namespace: istio-system}
stringData: {tls.crt: ${JSON.stringify(cert.cert)}, tls.key: ${JSON.stringify(cert.key)}, ca.crt: ${JSON.stringify(ca.certPem)}}`;
  const store = storeOf(
    [
      yaml,
      tlsSecretYaml('with-cacert', 'istio-system', cert),
      caSecret,
      inline,
      tlsSecretYaml('no-ca', 'istio-system', cert),
    ].join('\n---\n'),
  );
  const ports = buildClassicGatewayConfigs(store, OPTS).get(KEY)!.services[0]!.ports;
  assert.deepEqual(
    ports.map((p) => [p.port, p.tls?.certificates.map((c) => [c.clientCerts, c.caCredential])]),
    [
      [443, [['required', 'kubernetes://istio-system/with-cacert-cacert']]],
      [8080, undefined],
      [8443, [['optional', 'kubernetes://istio-system/inline-ca-cacert']]],
    ],
  );
  // istiod's credential for each CA bundle: the -cacert Secret, or ca.crt beside the certificate.
  const creds = credentialResources([buildClassicGatewayConfigs(store, OPTS).get(KEY)!], store);
  assert.deepEqual([...creds.keys()].sort(), [
    'kubernetes://istio-system/inline-ca',
    'kubernetes://istio-system/inline-ca-cacert',
    'kubernetes://istio-system/with-cacert',
    'kubernetes://istio-system/with-cacert-cacert',
  ]);
  const bundle = creds.get('kubernetes://istio-system/inline-ca-cacert') as {
    validationContext: { trustedCa: { inlineBytes: Buffer } };
  };
  assert.equal(bundle.validationContext.trustedCa.inlineBytes.toString(), ca.certPem);
});

test('PASSTHROUGH servers route by SNI with VirtualService tls routes; other ports and gateways are not matched', () => {
  const yaml = YAML.replace(
    '  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]',
    `  servers:
  - {port: {number: 443, name: tls, protocol: TLS}, hosts: ["*.example.com"], tls: {mode: PASSTHROUGH}}`,
  );
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure, namespace: bookinfo}
spec:
  hosts: [a.example.com]
  gateways: [bookinfo-gateway]
  tls:
  - match: [{port: 443, sniHosts: [a.example.com, b.example.org]}]
    route: [{destination: {host: productpage, port: {number: 9443}}}]
  - match: [{port: 8443, sniHosts: [c.example.com]}]
    route: [{destination: {host: productpage}}]
  - match: [{sniHosts: [d.example.com], gateways: [elsewhere]}]
    route: [{destination: {host: productpage}}]`;
  const store = storeOf(`${yaml}---\n${vs}`);
  const p443 = buildClassicGatewayConfigs(store, OPTS)
    .get(KEY)!
    .services[0]!.ports.find((p) => p.port === 443)!;
  assert.equal(p443.protocol, 'tls');
  assert.deepEqual(p443.sni, [
    {
      name: 'VirtualService/bookinfo/secure#tls0',
      hosts: ['a.example.com'],
      cluster: 'inbound-vip|9443|http|productpage.bookinfo.svc.cluster.local',
    },
  ]);
  const bad = validateObject(
    parse(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: bookinfo}
spec: {hosts: [a], tls: [{match: [{port: 443}], route: []}]}`),
  );
  assert.deepEqual(
    (bad as { issues: Array<{ path: string; message: string }> }).issues.map(
      (i) => `${i.path}: ${i.message}`,
    ),
    ['spec.tls[0].match[0].sniHosts: is required', 'spec.tls[0].route: must not be empty'],
  );
});

test('a VirtualService tls route with several destinations carries them with their weights', () => {
  const yaml = YAML.replace(
    '  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]',
    '  servers: [{port: {number: 443, name: tls, protocol: TLS}, hosts: ["*"], tls: {mode: PASSTHROUGH}}]',
  );
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: split, namespace: bookinfo}
spec:
  hosts: [a.example.com]
  gateways: [bookinfo-gateway]
  tls:
  - match: [{sniHosts: [a.example.com]}]
    route:
    - {destination: {host: productpage, port: {number: 9443}}, weight: 90}
    - {destination: {host: productpage, port: {number: 9444}}, weight: 10}`;
  const p = buildClassicGatewayConfigs(storeOf(`${yaml}---\n${vs}`), OPTS).get(KEY)!.services[0]!.ports[0]!;
  assert.deepEqual(p.sni?.[0]?.backends, [
    { cluster: 'inbound-vip|9443|http|productpage.bookinfo.svc.cluster.local', weight: 90 },
    { cluster: 'inbound-vip|9444|http|productpage.bookinfo.svc.cluster.local', weight: 10 },
  ]);
});
