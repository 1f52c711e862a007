import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject, type ValidationResult } from '../../../../src/istiod/config/validate.js';

function texts(r: ValidationResult): string[] {
  assert.equal(r.status, 'invalid', `expected invalid, got ${r.status}`);
  return r.status === 'invalid' ? r.issues.map((i) => i.text) : [];
}

const ap = (spec: unknown, metadata: unknown = { name: 'deny-all', namespace: 'default' }) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata,
  spec,
});

test('a bad enum names the object, the field, the value and the choices', () => {
  assert.deepEqual(texts(validateObject(ap({ action: 'DENYY' }))), [
    'AuthorizationPolicy default/deny-all: spec.action: "DENYY" is not one of ALLOW, DENY, AUDIT, CUSTOM',
  ]);
});

test('file input is prefixed with the file name and document index', () => {
  const r = validateObject(ap({ action: 'DENYY' }), { file: 'policies.yaml', document: 2 });
  assert.deepEqual(texts(r), [
    'policies.yaml, document 2: AuthorizationPolicy default/deny-all: spec.action: "DENYY" is not one of ALLOW, DENY, AUDIT, CUSTOM',
  ]);
  assert.equal(r.status === 'invalid' && r.issues[0]!.path, 'spec.action');
});

test('a wrong type says what was expected and what was found', () => {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { selector: ['app=web'], ports: [{ port: 80, targetPort: 'http' }] },
  };
  assert.deepEqual(texts(validateObject(svc)), [
    'Service shop/web: spec.selector: expected a map, got a list',
  ]);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'shop' },
    spec: { hostNetwork: 'yes', containers: [{ name: 'c', command: 'sleep 1' }] },
  };
  assert.deepEqual(texts(validateObject(pod)), [
    'Pod shop/p: spec.hostNetwork: expected true or false, got "yes"',
    'Pod shop/p: spec.containers[0].command: expected a list, got "sleep 1"',
  ]);
});

test('a missing name is reported and the object cannot be identified', () => {
  const r = validateObject(ap({}, { namespace: 'default' }));
  assert.deepEqual(texts(r), ['AuthorizationPolicy default/<no name>: metadata.name: is required']);
  assert.equal(r.status === 'invalid' && r.key, undefined);
});

test('bad ports: out of range, not a number, bad port-level keys', () => {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web' },
    spec: {
      ports: [
        { name: 'a', port: 70000 },
        { name: 'b', port: 'x', targetPort: 'Not_A_Name' },
      ],
    },
  };
  assert.deepEqual(texts(validateObject(svc)), [
    'Service default/web: spec.ports[0].port: 70000 is not a valid port number (an integer from 1 to 65535)',
    'Service default/web: spec.ports[1].port: "x" is not a valid port number (an integer from 1 to 65535)',
    'Service default/web: spec.ports[1].targetPort: "Not_A_Name" is not a port number or a port name (lower-case, at most 15 characters)',
  ]);
  const pa = {
    apiVersion: 'security.istio.io/v1beta1',
    kind: 'PeerAuthentication',
    metadata: { name: 'p', namespace: 'ns' },
    spec: {
      selector: { matchLabels: { app: 'a' } },
      portLevelMtls: { '0': { mode: 'STRICT' }, '8080': { mode: 'strict' } },
    },
  };
  assert.deepEqual(texts(validateObject(pa)), [
    'PeerAuthentication ns/p: spec.portLevelMtls[0]: "0" is not a valid port number (an integer from 1 to 65535)',
    'PeerAuthentication ns/p: spec.portLevelMtls[8080].mode: "strict" is not one of UNSET, DISABLE, PERMISSIVE, STRICT',
  ]);
});

test('several problems in one object are all reported', () => {
  const r = validateObject(
    ap({
      selector: { matchLabels: { app: 'x' } },
      targetRefs: [{ kind: 'Service', name: 'web' }],
      rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/33'] } }], when: [{ key: 'request.headers[x]' }] }],
    }),
  );
  assert.deepEqual(texts(r), [
    'AuthorizationPolicy default/deny-all: spec: selector and targetRef/targetRefs cannot both be set',
    'AuthorizationPolicy default/deny-all: spec.rules[0].from[0].source.ipBlocks[0]: "10.0.0.0/33" is not an IP address or CIDR range',
    'AuthorizationPolicy default/deny-all: spec.rules[0].when[0]: must set values or notValues',
  ]);
});

test('a valid AuthorizationPolicy keeps Istio field names; numeric ports become strings', () => {
  const r = validateObject(
    ap({
      action: 'ALLOW',
      rules: [
        {
          from: [
            {
              source: {
                principals: ['cluster.local/ns/a/sa/b'],
                notNamespaces: ['x'],
                remoteIpBlocks: ['1.2.3.4'],
              },
            },
          ],
          to: [{ operation: { ports: [8080, '9090'], methods: ['GET'], notPaths: ['/admin'] } }],
          when: [{ key: 'source.ip', notValues: ['10.0.0.1'] }],
        },
      ],
    }),
  );
  assert.equal(r.status, 'valid');
  if (r.status !== 'valid' || r.object.kind !== 'AuthorizationPolicy') return;
  assert.equal(r.key, 'AuthorizationPolicy/default/deny-all');
  assert.deepEqual(r.object.spec.rules?.[0]?.to?.[0]?.operation?.ports, ['8080', '9090']);
  assert.deepEqual(r.object.spec.rules?.[0]?.from?.[0]?.source?.principals, ['cluster.local/ns/a/sa/b']);
});

test('namespace defaults to default; a Namespace has none', () => {
  const r = validateObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: {} });
  assert.equal(r.status === 'valid' && r.object.metadata.namespace, 'default');
  const n = validateObject({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'demo', namespace: 'x' },
  });
  assert.equal(n.status === 'valid' && n.key, 'Namespace//demo');
  assert.equal(n.status === 'valid' && n.object.metadata.namespace, undefined);
});

test('unknown kinds and other groups are ignored; a wrong version of a known group is an error', () => {
  assert.equal(
    validateObject({
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'EnvoyFilter',
      metadata: { name: 'x' },
    }).status,
    'ignored',
  );
  assert.equal(
    validateObject({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'x' } }).status,
    'ignored',
  );
  // Istio's own Gateway kind is not the Gateway API one: same kind name, another group, another key.
  const classic = validateObject({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: 'x', namespace: 'b' },
    spec: {
      selector: { istio: 'ingressgateway' },
      servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
    },
  });
  assert.equal(classic.status === 'valid' && classic.key, 'IstioGateway/b/x');
  const gwApi = validateObject({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'x', namespace: 'b' },
    spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
  });
  assert.equal(gwApi.status === 'valid' && gwApi.key, 'Gateway/b/x');
  // Each is checked against its own schema.
  const wrong = validateObject({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: 'x' },
    spec: { gatewayClassName: 'istio', listeners: [] },
  });
  assert.equal(wrong.status, 'invalid');
  const v2 = { ...ap({}, { name: 'p' }), apiVersion: 'security.istio.io/v2' };
  assert.deepEqual(texts(validateObject(v2)), [
    'AuthorizationPolicy default/p: apiVersion: "security.istio.io/v2" is not one of security.istio.io/v1, security.istio.io/v1beta1',
  ]);
});

test('Gateway, ServiceEntry, Deployment and EndpointSlice checks', () => {
  const gw = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'waypoint', namespace: 'demo' },
    spec: {
      gatewayClassName: 'istio-waypoint',
      listeners: [
        { name: 'mesh', port: 15008, protocol: 'HBONE' },
        { name: 'mesh', port: 0, protocol: 'FTP' },
      ],
    },
  };
  assert.deepEqual(texts(validateObject(gw)), [
    'Gateway demo/waypoint: spec.listeners[1].name: "mesh" is used by another listener',
    'Gateway demo/waypoint: spec.listeners[1].port: 0 is not a valid port number (an integer from 1 to 65535)',
    'Gateway demo/waypoint: spec.listeners[1].protocol: "FTP" is not one of HTTP, HTTPS, TLS, TCP, UDP, HBONE (or a domain/NAME)',
  ]);
  const se = {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'ServiceEntry',
    metadata: { name: 'ext' },
    spec: {
      hosts: [],
      resolution: 'DNS',
      location: 'OUTSIDE',
      ports: [{ number: 443, protocol: 'tls', name: 'tls' }],
    },
  };
  assert.deepEqual(texts(validateObject(se)), [
    'ServiceEntry default/ext: spec.hosts: must not be empty',
    'ServiceEntry default/ext: spec.location: "OUTSIDE" is not one of MESH_EXTERNAL, MESH_INTERNAL',
  ]);
  const deploy = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: -1,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'c' }] } },
    },
  };
  assert.deepEqual(texts(validateObject(deploy)), [
    'Deployment default/web: spec.replicas: -1 is out of range [0, 9007199254740991]',
    "Deployment default/web: spec.template.metadata.labels: must include the selector's labels (app=web)",
  ]);
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.1.0.5', 'nope'], conditions: { ready: true } }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
  assert.deepEqual(texts(validateObject(slice)), [
    'EndpointSlice default/web-abc: endpoints[0].addresses[1]: "nope" is not an IP address',
  ]);
});

test('labels: bad keys and values are rejected', () => {
  const ns = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: 'demo',
      labels: { 'istio.io/dataplane-mode': 'ambient', 'bad key': 'x', ok: 'not ok!' },
    },
  };
  assert.equal(texts(validateObject(ns)).length, 2);
});

test('EndpointSlice: v1 is read as served; v1beta1 (Kubernetes 1.20) is read into the v1 shape', () => {
  const v1 = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-abc', namespace: 'demo', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: ['10.1.0.5'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'node-a',
        zone: 'z1',
        targetRef: { kind: 'Pod', name: 'web-1', namespace: 'demo' },
      },
    ],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' }],
  };
  const r1 = validateObject(v1);
  assert.equal(r1.status, 'valid');
  assert.deepEqual(r1.status === 'valid' && r1.object, v1);

  const v1beta1 = {
    ...v1,
    apiVersion: 'discovery.k8s.io/v1beta1',
    endpoints: [
      {
        addresses: ['10.1.0.5'],
        conditions: { ready: true, serving: true, terminating: false },
        topology: {
          'kubernetes.io/hostname': 'node-a',
          'topology.kubernetes.io/zone': 'z1',
          'topology.kubernetes.io/region': 'r1',
        },
        targetRef: { kind: 'Pod', name: 'web-1', namespace: 'demo' },
      },
    ],
  };
  const r2 = validateObject(v1beta1);
  assert.equal(r2.status, 'valid');
  assert.deepEqual(r2.status === 'valid' && r2.object, {
    ...v1,
    endpoints: [{ ...v1.endpoints[0]!, deprecatedTopology: { 'topology.kubernetes.io/region': 'r1' } }],
  });
  // A Service without endpoints: the controller manager writes `endpoints: null`.
  const empty = validateObject({ ...v1, endpoints: null });
  assert.deepEqual(empty.status === 'valid' && empty.object, { ...v1, endpoints: [] });
  assert.deepEqual(texts(validateObject({ ...v1, apiVersion: 'discovery.k8s.io/v1alpha1' })), [
    'EndpointSlice demo/web-abc: apiVersion: "discovery.k8s.io/v1alpha1" is not one of discovery.k8s.io/v1, discovery.k8s.io/v1beta1',
  ]);
});
