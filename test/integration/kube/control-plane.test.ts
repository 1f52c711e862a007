/**
 * The mesh against a real Kubernetes control plane (etcd + kube-apiserver, controller manager and
 * scheduler, built once by scripts/kube-control-plane.sh): istiod's Kubernetes source sees objects
 * created through the API, the API server's TokenReview authenticates a service-account token for the
 * CA's audience, and the root ConfigMap lands in a new namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, type V1BoundObjectReference } from '@kubernetes/client-node';
import { KubeControlPlane, controlPlaneProblem } from '../../../src/kube/control-plane.js';
import { KubernetesSource } from '../../../src/istiod/config/kubernetes-source.js';
import { ConfigStore } from '../../../src/istiod/config/store.js';
import { loadKubeConfig, requestJson } from '../../../src/istiod/config/kube-client.js';
import { KubeTokenReviewAuthenticator } from '../../../src/istiod/ca/kube-token-review.js';
import { RootConfigMapPublisher } from '../../../src/istiod/ca/root-configmap.js';
import { IstiodCa, ROOT_CONFIGMAP_KEY, ROOT_CONFIGMAP_NAME } from '../../../src/istiod/ca/istiod-ca.js';
import { createRootCa } from '../../../src/pki/ca.js';
import { waitFor } from '../istiod/config/helpers/wait-for.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podToken } from '../../../src/local/kube/pod-volumes.js';
import { TokenRefresher, writeTokenFile } from '../../../src/local/kube/token-refresh.js';
import type { KubePod } from '../../../src/local/kube/pod-spec.js';

const problem = controlPlaneProblem();
if (problem) console.log(`# skipping the real control plane tests: ${problem}`);

// One control plane for the file (it starts in seconds to tens of seconds), stopped after the last test.
let plane: Promise<KubeControlPlane> | undefined;
function controlPlane(): Promise<KubeControlPlane> {
  plane ??= KubeControlPlane.start();
  return plane;
}

test.after(async () => {
  await (await plane?.catch(() => undefined))?.stop();
});

test(
  'the Kubernetes config source sees a Namespace, Service and Pod created through the API server',
  { skip: problem },
  async (t) => {
    const cp = await controlPlane();
    const kc = loadKubeConfig(cp.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const source = new KubernetesSource({
      kubeconfig: cp.kubeconfigPath,
      kinds: ['Namespace', 'Service', 'Pod'],
    });
    const store = new ConfigStore();
    store.attach(source);
    t.after(() => source.stop());
    await source.start();
    await source.whenSynced();
    // The API server's bootstrap controller creates `default` (listed, or seen on the watch soon after).
    await waitFor(
      'the default namespace',
      () => store.get('Namespace', undefined, 'default') !== undefined,
      30_000,
    );

    await core.createNamespace({
      body: { metadata: { name: 'demo', labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    });
    await core.createNamespacedService({
      namespace: 'demo',
      body: {
        metadata: { name: 'web' },
        spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      },
    });
    // The controller manager gives each namespace its `default` service account; pods need it.
    await waitFor(
      'the default service account',
      async () =>
        (await core.listNamespacedServiceAccount({ namespace: 'demo' })).items.some(
          (s) => s.metadata?.name === 'default',
        ),
      60_000,
    );
    // Until the token controller has given the service account its token, the API server answers
    // 500 "No API token found ... retry after" (Kubernetes 1.20): retry as it asks.
    await waitFor(
      'the pod to be created',
      () =>
        core
          .createNamespacedPod({
            namespace: 'demo',
            body: {
              metadata: { name: 'web-1', labels: { app: 'web' } },
              spec: {
                containers: [{ name: 'web', image: 'meshlite/sample', ports: [{ containerPort: 8080 }] }],
              },
            },
          })
          .then(
            () => true,
            (err: { code?: number; body?: string }) => {
              if (err.code === 500 && /retry after/i.test(String(err.body)))
                return new Promise<boolean>((r) => setTimeout(() => r(false), 500));
              throw err;
            },
          ),
      60_000,
    );
    await waitFor(
      'the namespace, service and pod in the store',
      () =>
        store.get('Namespace', undefined, 'demo')?.metadata.labels?.['istio.io/dataplane-mode'] ===
          'ambient' &&
        store.get('Service', 'demo', 'web') !== undefined &&
        store.get('Pod', 'demo', 'web-1') !== undefined,
      30_000,
    );
    const svc = store.get('Service', 'demo', 'web');
    assert.match(
      String((svc?.spec as { clusterIP?: string }).clusterIP),
      /^10\.96\./,
      'a cluster IP from the service range',
    );

    // A pod no node has taken is removed at once: the watch's DELETED reaches the store.
    await core.deleteNamespacedPod({ name: 'web-1', namespace: 'demo' });
    await waitFor('the pod deletion', () => store.get('Pod', 'demo', 'web-1') === undefined, 30_000);
    assert.equal(source.issues().length, 0, 'every object served by the API server was accepted');
  },
);

test(
  'EndpointSlices: on Kubernetes 1.20 the source falls back to discovery.k8s.io/v1beta1 and reads them as v1',
  { skip: problem },
  async (t) => {
    const cp = await controlPlane();
    const kc = loadKubeConfig(cp.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'slices' } } });
    const source = new KubernetesSource({
      kubeconfig: cp.kubeconfigPath,
      kinds: ['EndpointSlice'],
      backoffMs: { initial: 100, max: 1000 },
    });
    const store = new ConfigStore();
    store.attach(source);
    t.after(() => source.stop());
    await source.start();
    await source.whenSynced();
    assert.deepEqual(source.watchedVersions(), { EndpointSlice: 'v1beta1' }, '1.20 serves no v1');
    // Written as a 1.20 client writes it: the node in `topology`.
    await requestJson(kc, 'POST', '/apis/discovery.k8s.io/v1beta1/namespaces/slices/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1beta1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-x1', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: ['10.244.1.7'],
          conditions: { ready: true },
          topology: { 'kubernetes.io/hostname': 'node-a', 'topology.kubernetes.io/zone': 'z1' },
        },
      ],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    await waitFor(
      'the slice in the store',
      () => store.get('EndpointSlice', 'slices', 'web-x1') !== undefined,
      30_000,
    );
    const slice = store.get('EndpointSlice', 'slices', 'web-x1')!;
    assert.equal(slice.apiVersion, 'discovery.k8s.io/v1');
    assert.deepEqual(slice.endpoints, [
      { addresses: ['10.244.1.7'], conditions: { ready: true }, nodeName: 'node-a', zone: 'z1' },
    ]);
    assert.deepEqual(
      source.issues().map((i) => i.text),
      [],
    );
  },
);

test(
  'TokenReview through the API server authenticates service-account tokens for istiod CA, pod-bound ones with their node',
  { skip: problem },
  async () => {
    const cp = await controlPlane();
    const kubeConfig = loadKubeConfig(cp.kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'tokens' } } });
    await core.createNamespacedServiceAccount({
      namespace: 'tokens',
      body: { metadata: { name: 'ztunnel' } },
    });
    const request = async (audiences: string[], boundObjectRef?: V1BoundObjectReference) =>
      (
        await core.createNamespacedServiceAccountToken({
          name: 'ztunnel',
          namespace: 'tokens',
          body: { spec: { audiences, expirationSeconds: 600, boundObjectRef } },
        })
      ).status?.token ?? '';

    // Where pods run, as istiod's ambient index answers it (Kubernetes 1.20 names the pod, not the node).
    const nodes = new Map<string, string>();
    const authn = new KubeTokenReviewAuthenticator({
      kubeConfig,
      trustDomain: 'cluster.local',
      cacheTtlMs: 0,
      nodeOfPod: (ns, pod) => nodes.get(`${ns}/${pod}`),
    });
    const ok = await authn.authenticate(await request(['istio-ca']));
    assert.ok(ok.ok, `the istio-ca token was accepted: ${JSON.stringify(ok)}`);
    assert.deepEqual(ok.caller.identity, {
      trustDomain: 'cluster.local',
      namespace: 'tokens',
      serviceAccount: 'ztunnel',
    });

    assert.equal(ok.caller.node, undefined, 'an unbound token names no node');

    // A projected token bound to the ztunnel pod (as the kubelet mounts it): the review names the pod.
    const pod = await core.createNamespacedPod({
      namespace: 'tokens',
      body: {
        metadata: { name: 'ztunnel-node-a' },
        spec: {
          nodeName: 'node-a',
          serviceAccountName: 'ztunnel',
          automountServiceAccountToken: false,
          containers: [{ name: 'ztunnel', image: 'meshlite/ztunnel' }],
        },
      },
    });
    nodes.set('tokens/ztunnel-node-a', 'node-a');
    const bound = await authn.authenticate(
      await request(['istio-ca'], {
        kind: 'Pod',
        apiVersion: 'v1',
        name: 'ztunnel-node-a',
        uid: pod.metadata?.uid,
      }),
    );
    assert.ok(bound.ok, `the pod-bound token was accepted: ${JSON.stringify(bound)}`);
    assert.equal(bound.caller.node, 'node-a', 'the node of the pod the token is bound to');

    const wrongAudience = await authn.authenticate(await request(['some-other-service']));
    assert.equal(wrongAudience.ok, false, 'a token for another audience is refused');
    const forged = await authn.authenticate('not.a.token');
    assert.equal(forged.ok, false, 'a forged token is refused');
  },
);

test(
  'the root certificate ConfigMap is published into a namespace of the real API server',
  { skip: problem },
  async (t) => {
    const cp = await controlPlane();
    const kubeConfig = loadKubeConfig(cp.kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'bundle' } } });
    const ca = IstiodCa.fromAuthority(createRootCa());
    const pub = new RootConfigMapPublisher({ kubeConfig, ca });
    t.after(() => pub.stop());
    pub.namespaces(['bundle']);
    assert.equal(await pub.syncNamespace('bundle'), 'created');
    const cm = await core.readNamespacedConfigMap({ name: ROOT_CONFIGMAP_NAME, namespace: 'bundle' });
    assert.equal(cm.data?.[ROOT_CONFIGMAP_KEY], ca.rootBundlePem());
    assert.equal(await pub.syncNamespace('bundle'), 'unchanged');
    await ca.rotateRoot();
    assert.equal(await pub.syncNamespace('bundle'), 'updated');
  },
);

test(
  "the kubelet role's token refresh: a new pod-bound token from the API server replaces the file, and istiod's TokenReview accepts it",
  { skip: problem },
  async (t) => {
    const cp = await controlPlane();
    const kubeConfig = loadKubeConfig(cp.kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'refresh' } } });
    await core.createNamespacedServiceAccount({
      namespace: 'refresh',
      body: { metadata: { name: 'waypoint' } },
    });
    const created = await core.createNamespacedPod({
      namespace: 'refresh',
      body: {
        metadata: { name: 'waypoint-1' },
        spec: {
          nodeName: 'node-b',
          serviceAccountName: 'waypoint',
          automountServiceAccountToken: false,
          containers: [{ name: 'istio-proxy', image: 'meshlite/waypoint' }],
        },
      },
    });
    const pod = created as unknown as KubePod;
    const dir = await mkdtemp(join(tmpdir(), 'token-refresh-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'istio-token');
    const first = await podToken(kubeConfig, pod, 'istio-ca', 600);
    await writeTokenFile(file, first);
    const tok = { file, audience: 'istio-ca', seconds: 600, issuedAtMs: Date.now() };
    const logs: string[] = [];
    const refresher = new TokenRefresher([tok], {
      fetch: (x) => podToken(kubeConfig, pod, x.audience, x.seconds),
      log: (l) => logs.push(l),
    });
    t.after(() => refresher.stop());
    // Tokens carry their issue time in seconds: one issued in the same second would be the same string.
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await refresher.refresh(tok), true, logs.join('; '));
    const second = await readFile(file, 'utf8');
    assert.notEqual(second, first, 'a new token in the file');
    const authn = new KubeTokenReviewAuthenticator({
      kubeConfig,
      trustDomain: 'cluster.local',
      cacheTtlMs: 0,
      nodeOfPod: (ns, name) => (ns === 'refresh' && name === 'waypoint-1' ? 'node-b' : undefined),
    });
    const ok = await authn.authenticate(second);
    assert.ok(ok.ok, `the refreshed token was accepted: ${JSON.stringify(ok)}`);
    assert.equal(ok.caller.node, 'node-b', 'still bound to the pod');
    assert.equal(ok.caller.identity.serviceAccount, 'waypoint');
  },
);
