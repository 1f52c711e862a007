/**
 * The injection webhook's pod patch, without a cluster: applied to a pod it adds istio-init,
 * istio-proxy first, the volumes, Istio's labels and the status annotation, and the result is a valid
 * Pod; pods that opt out, are injected already, run on the host network or are gateways are left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { injectionPatch, type PatchOp, type PodIn } from '../../../../src/istiod/inject/pod-patch.js';
import { schemaProblems } from '../../kube/install/schema-validate.js';
import type { KubeObject } from '../../../../src/kube/install/objects.js';

const SETTINGS = {
  image: 'meshlite/sidecar:0.1.0',
  xdsAddress: 'istiod.istio-system.svc:15010',
  trustDomain: 'cluster.local',
  clusterId: 'Kubernetes',
};

type J = Record<string, unknown>;

/** RFC 6902 add/replace, enough for what the webhook emits. */
function applyPatch(doc: J, ops: PatchOp[]): J {
  const out = structuredClone(doc);
  for (const op of ops) {
    const keys = op.path
      .split('/')
      .slice(1)
      .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let cur: J | unknown[] = out;
    for (const k of keys) cur = (cur as J)[k] as J;
    if (Array.isArray(cur)) {
      if (last === '-') cur.push(op.value);
      else if (op.op === 'add') cur.splice(Number(last), 0, op.value);
      else cur[Number(last)] = op.value;
    } else {
      assert.ok(op.op === 'add' || last in cur, `replace of a missing ${op.path}`);
      cur[last] = op.value;
    }
  }
  return out;
}

const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-7d9f-abcde',
    namespace: 'demo',
    labels: { app: 'web', version: 'v2', 'pod-template-hash': '7d9f' },
    annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432' },
    ownerReferences: [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'r', controller: true },
    ],
  },
  spec: {
    serviceAccountName: 'web',
    containers: [{ name: 'web', image: 'meshlite/sample' }],
    volumes: [{ name: 'data', emptyDir: {} }],
  },
};

test('an injected pod: istio-init, istio-proxy first with the pod identity and token, labels, status; a valid Pod', async () => {
  const out = injectionPatch(POD as PodIn, 'demo', SETTINGS);
  assert.ok('patch' in out);
  const pod = applyPatch(POD as unknown as J, out.patch) as typeof POD & J;
  assert.deepEqual(await schemaProblems(pod as unknown as KubeObject), []);
  const spec = pod.spec as unknown as {
    containers: Array<J & { name: string; env: Array<{ name: string; value?: string; valueFrom?: J }> }>;
    initContainers: Array<J & { args: string[] }>;
    volumes: Array<J & { name: string }>;
  };
  assert.deepEqual(
    spec.containers.map((c) => c.name),
    ['istio-proxy', 'web'],
  );
  const proxy = spec.containers[0]!;
  assert.equal(proxy.image, 'meshlite/sidecar:0.1.0');
  assert.deepEqual(proxy.args, ['--workload', 'web', '--app', 'web', '--version', 'v2']);
  const env = Object.fromEntries(proxy.env.map((e) => [e.name, e.value ?? e.valueFrom]));
  assert.deepEqual(env.SERVICE_ACCOUNT, { fieldRef: { fieldPath: 'spec.serviceAccountName' } });
  assert.equal(env.TOKEN_FILE, '/var/run/secrets/tokens/istio-token');
  assert.equal(env.CA_ADDRESS, 'istiod.istio-system.svc:15010');
  assert.deepEqual(
    spec.initContainers.map((c) => [c.name, c.args]),
    [['istio-init', ['--proxy-uid', '1337', '--exclude-outbound-ports', '5432']]],
  );
  assert.deepEqual(
    spec.volumes.map((v) => v.name),
    ['data', 'istio-envoy', 'istio-token', 'istiod-ca-cert'],
  );
  const token = spec.volumes.find((v) => v.name === 'istio-token') as unknown as {
    projected: { sources: Array<{ serviceAccountToken: { audience: string } }> };
  };
  assert.equal(token.projected.sources[0]!.serviceAccountToken.audience, 'istio-ca');
  const meta = pod.metadata as { labels: Record<string, string>; annotations: Record<string, string> };
  assert.equal(meta.labels['networking.istio.io/tunnel'], 'http');
  assert.equal(meta.labels['security.istio.io/tlsMode'], 'istio');
  assert.equal(meta.labels['service.istio.io/canonical-name'], 'web');
  assert.deepEqual(JSON.parse(meta.annotations['sidecar.istio.io/status']!), {
    initContainers: ['istio-init'],
    containers: ['istio-proxy'],
    volumes: ['istio-envoy', 'istio-token', 'istiod-ca-cert'],
    imagePullSecrets: null,
    revision: 'default',
  });
  assert.equal(meta.annotations['traffic.sidecar.istio.io/excludeOutboundPorts'], '5432', 'kept');
});

test('a bare pod (no labels, annotations, volumes) gets whole lists and maps; bad annotations are warnings', () => {
  const bare = {
    metadata: { generateName: 'job-', annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': 'x' } },
    spec: { containers: [{ name: 'c' }] },
  };
  const out = injectionPatch(bare, 'demo', SETTINGS);
  assert.ok('patch' in out);
  const paths = out.patch.map((p) => p.path);
  assert.ok(paths.includes('/spec/initContainers'));
  assert.ok(paths.includes('/spec/volumes'));
  assert.ok(paths.includes('/metadata/labels'));
  assert.ok(paths.includes('/metadata/annotations/sidecar.istio.io~1status'), 'the / of a key is escaped');
  assert.deepEqual(out.warnings, ['traffic.sidecar.istio.io/excludeInboundPorts: "x" is not a port']);
});

test('pods the webhook leaves alone, with the reason', () => {
  const skip = (pod: PodIn, ns = 'demo') => {
    const out = injectionPatch(pod, ns, SETTINGS);
    return 'skip' in out ? out.skip : 'injected';
  };
  const c = { containers: [{ name: 'c' }] };
  assert.equal(
    skip({ metadata: { labels: { 'sidecar.istio.io/inject': 'false' } }, spec: c }),
    'label sidecar.istio.io/inject=false',
  );
  assert.equal(
    skip({ metadata: { annotations: { 'sidecar.istio.io/status': '{}' } }, spec: c }),
    'already injected',
  );
  assert.equal(skip({ spec: { ...c, hostNetwork: true } }), 'a host-network pod');
  assert.equal(
    skip({ metadata: { labels: { 'gateway.networking.k8s.io/gateway-name': 'wp' } }, spec: c }),
    'a gateway or waypoint pod',
  );
  assert.equal(skip({ spec: c }, 'kube-system'), 'namespace kube-system is never injected');
  assert.equal(skip({ spec: c }), 'injected');
});
