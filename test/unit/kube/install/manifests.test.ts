/**
 * The shipped manifests: every object valid against the Kubernetes OpenAPI schemas (current and the
 * 1.20 variant), custom resources users write valid against the shipped CRDs, the checked-in files
 * equal to what the values render, and the properties of istiod, ztunnel and the node agent that
 * users and Istio's tooling rely on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { renderFiles, renderInstall } from '../../../../src/kube/install/render.js';
import { gatewayApiCrdsForTests } from '../../../../src/kube/install/crds.js';
import { CURRENT_TARGET, parseKubeVersion } from '../../../../src/kube/install/target.js';
import { DEPLOY_DIR, loadValues } from '../../../../src/kube/install/values.js';
import type { KubeObject } from '../../../../src/kube/install/objects.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered objects read in asserts
type J = any;
import { crProblems, schemaProblems } from './schema-validate.js';

const OLD = parseKubeVersion('1.20');
const all = (r: ReturnType<typeof renderInstall>) => [...r.crds, ...r.mesh, ...r.gatewayClasses];
const find = (objs: KubeObject[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} rendered`);
  return o as KubeObject & { spec: J };
};

for (const [label, target] of [
  ['current Kubernetes', CURRENT_TARGET],
  ['Kubernetes 1.20', OLD],
] as const) {
  for (const replicas of [1, 3]) {
    test(`every object is valid against the Kubernetes schemas (${label}, istiod replicas ${replicas})`, async () => {
      const objs = all(renderInstall(loadValues([], [`istiod.replicas=${replicas}`]), target));
      if (target === OLD) objs.push(...gatewayApiCrdsForTests(OLD));
      for (const o of objs)
        assert.deepEqual(await schemaProblems(o), [], `${o.apiVersion} ${o.kind} ${o.metadata.name}`);
    });
  }
}

test('the schema check is real: a broken object is reported with its field', async () => {
  const objs = renderInstall(loadValues()).mesh;
  const ds = structuredClone(find(objs, 'DaemonSet', 'ztunnel'));
  ds.spec.template.spec.containers[0].ports[0].containerPort = 'fifteen-thousand';
  ds.spec.updateStrategy.type = 42;
  const problems = await schemaProblems(ds);
  assert.ok(
    problems.some((p) => p.includes('/containerPort')),
    problems.join('; '),
  );
  assert.ok(
    problems.some((p) => p.includes('/updateStrategy/type')),
    problems.join('; '),
  );
});

test('the files in deploy/kubernetes are what the default values render', () => {
  for (const [name, text] of Object.entries(renderFiles(loadValues())))
    assert.equal(
      readFileSync(join(DEPLOY_DIR, name), 'utf8'),
      text,
      `${name} is stale: run meshctl install --dry-run --output-dir deploy/kubernetes`,
    );
});

const ISTIO_OBJECTS = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-curl, namespace: demo }
spec:
  selector: { matchLabels: { app: echo } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: [cluster.local/ns/demo/sa/curl] } }] }]
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: { name: strict, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: demo }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, subset: v2 } }] }]
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: { name: reviews, namespace: demo }
spec: { host: reviews, subsets: [{ name: v2, labels: { version: v2 } }] }
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: { name: external, namespace: demo }
spec: { hosts: [api.example.com], ports: [{ number: 443, name: tls, protocol: TLS }], resolution: DNS }
`;

test('Istio objects as users write them are served by the shipped CRDs, in every version they use', () => {
  const crds = renderInstall(loadValues()).crds;
  for (const doc of parseAllDocuments(ISTIO_OBJECTS)) {
    const o = doc.toJS() as KubeObject;
    const crd = crds.find((c) => (c.spec as J).names.kind === o.kind);
    assert.ok(crd, `a CRD for ${o.kind}`);
    assert.deepEqual(crProblems(crd, o), [], `${o.apiVersion} ${o.kind}`);
  }
  const ap = crds.find((c) => (c.spec as J).names.kind === 'AuthorizationPolicy')!;
  assert.ok(
    crProblems(ap, {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'x' },
      spec: 'allow',
    } as never).length > 0,
  );
  assert.ok(
    crProblems(ap, {
      apiVersion: 'security.istio.io/v1alpha1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'x' },
    }).length > 0,
  );
});

test('CEL rules only where the API server understands them (1.25+); one storage version per CRD', () => {
  const cel = (objs: KubeObject[]) => JSON.stringify(objs).includes('x-kubernetes-validations');
  assert.equal(cel(renderInstall(loadValues(), CURRENT_TARGET).crds), true);
  assert.equal(cel(renderInstall(loadValues(), OLD).crds), false);
  assert.equal(cel(gatewayApiCrdsForTests(OLD)), false);
  for (const c of renderInstall(loadValues()).crds)
    assert.equal((c.spec as J).versions.filter((v: J) => v.storage).length, 1, c.metadata.name);
});

test('istiod: ports, Service, non-root; PDB and the shared CA Secret only with more than one replica', () => {
  const one = renderInstall(loadValues()).mesh;
  const d = find(one, 'Deployment', 'istiod');
  const c = d.spec.template.spec.containers[0];
  assert.deepEqual(
    c.ports.map((p: J) => p.containerPort),
    [15010, 15012, 15014, 15017],
  );
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(d.spec.template.spec.securityContext.runAsNonRoot, true);
  assert.ok(!c.args.includes('--cacerts-dir=/etc/cacerts'));
  assert.equal(d.spec.template.spec.volumes.find((x: J) => x.name === 'cacerts').secret.optional, true);
  assert.equal(
    one.some((o) => o.kind === 'PodDisruptionBudget'),
    false,
  );
  const svc = find(one, 'Service', 'istiod');
  assert.deepEqual(
    svc.spec.ports.map((p: J) => [p.port, p.targetPort]),
    [
      [15010, 15010],
      [15012, 15012],
      [443, 15017],
      [15014, 15014],
    ],
  );

  const three = renderInstall(loadValues([], ['istiod.replicas=3'])).mesh;
  const d3 = find(three, 'Deployment', 'istiod').spec.template.spec;
  assert.ok(d3.containers[0].args.includes('--cacerts-dir=/etc/cacerts'), 'replicas sign with one CA');
  assert.equal(d3.volumes.find((x: J) => x.name === 'cacerts').secret.optional, false);
  assert.equal(find(three, 'PodDisruptionBudget', 'istiod').apiVersion, 'policy/v1');
  assert.equal(
    find(renderInstall(loadValues([], ['istiod.replicas=3']), OLD).mesh, 'PodDisruptionBudget', 'istiod')
      .apiVersion,
    'policy/v1beta1',
  );
});

test("ztunnel: Istio's capabilities without privileged, CA token, readiness, rollout and priority", () => {
  const ds = find(renderInstall(loadValues()).mesh, 'DaemonSet', 'ztunnel');
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(c.securityContext.privileged, false);
  assert.deepEqual(c.securityContext.capabilities, {
    drop: ['ALL'],
    add: ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW'],
  });
  assert.deepEqual(c.readinessProbe.httpGet, { path: '/healthz/ready', port: 15021 });
  assert.deepEqual(ds.spec.updateStrategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
  const old = find(renderInstall(loadValues(), OLD).mesh, 'DaemonSet', 'ztunnel');
  assert.deepEqual(
    old.spec.updateStrategy.rollingUpdate,
    { maxUnavailable: 1 },
    '1.20 has no DaemonSet surge',
  );
  assert.equal(pod.priorityClassName, 'system-node-critical');
  assert.equal(pod.hostNetwork, undefined);
  const token = pod.volumes.find((v: J) => v.projected).projected.sources[0].serviceAccountToken;
  assert.equal(token.audience, 'istio-ca');
  const tokenFile = c.env.find((e: J) => e.name === 'TOKEN_FILE').value;
  const mount = c.volumeMounts.find((m: J) => m.name === 'istio-token');
  assert.equal(tokenFile, `${mount.mountPath}/${token.path}`);
  assert.equal(c.env.find((e: J) => e.name === 'CA_ADDRESS').value, 'istiod.istio-system.svc:15010');
  assert.equal(c.env.find((e: J) => e.name === 'SECURE_XDS_ADDRESS').value, 'istiod.istio-system.svc:15012');
});

test('values reach the objects: images, resources, log level, trust domain, grace period', () => {
  const v = loadValues(
    [],
    [
      'images.hub=registry.internal/mesh',
      'images.tag=1.2.3',
      'logLevel=debug',
      'trustDomain=corp.example',
      'ztunnel.terminationGracePeriodSeconds=60',
      'ztunnel.resources.requests.cpu=1',
    ],
  );
  const mesh = renderInstall(v).mesh;
  const zt = find(mesh, 'DaemonSet', 'ztunnel').spec.template.spec;
  const env = Object.fromEntries(
    zt.containers[0].env.filter((e: J) => 'value' in e).map((e: J) => [e.name, e.value]),
  );
  assert.equal(zt.containers[0].image, 'registry.internal/mesh/ztunnel:1.2.3');
  assert.equal(env.LOG_LEVEL, 'debug');
  assert.equal(env.TRUST_DOMAIN, 'corp.example');
  assert.equal(env.TERMINATION_GRACE_PERIOD, '55s');
  assert.equal(zt.terminationGracePeriodSeconds, 60);
  assert.deepEqual(zt.containers[0].resources, { requests: { cpu: '1' } });
  const istiod = find(mesh, 'Deployment', 'istiod').spec.template.spec.containers[0];
  assert.equal(istiod.image, 'registry.internal/mesh/istiod:1.2.3');
  assert.ok(istiod.args.includes('--trust-domain=corp.example'));
});

test('bad values are refused with the value named', () => {
  assert.throws(() => loadValues([], ['istiod.replica=2']), /unknown value "istiod\.replica"/);
  assert.throws(
    () => loadValues([], ['istiod.replicas=0']),
    /istiod\.replicas must be an integer of at least 1/,
  );
  assert.throws(() => loadValues([], ['images.pullPolicy=Sometimes']), /images\.pullPolicy/);
  assert.throws(() => loadValues([], ['nodeAgent.netnsDir=relative']), /absolute path/);
  assert.throws(() => loadValues(['/nonexistent/values.yaml']), /cannot read/);
});
