/**
 * `meshctl install` / `uninstall` against a real API server (the 1.20 control plane built by
 * scripts/kube-control-plane.sh): the objects are accepted as rendered for that version, a second
 * install changes nothing, the Istio CRDs serve objects, and uninstall removes what it applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
import { KubeControlPlane, controlPlaneProblem } from '../../../src/kube/control-plane.js';
import { loadKubeConfig, statusOf } from '../../../src/istiod/config/kube-client.js';
import { install, uninstall } from '../../../src/kube/install/apply.js';
import { loadValues } from '../../../src/kube/install/values.js';

const problem = controlPlaneProblem();
if (problem) console.log(`# skipping the install tests: ${problem}`);
const run = promisify(execFile);

let plane: Promise<KubeControlPlane> | undefined;
function controlPlane(): Promise<KubeControlPlane> {
  plane ??= KubeControlPlane.start({ controllers: true });
  return plane;
}
test.after(async () => {
  await (await plane?.catch(() => undefined))?.stop();
});

async function absent(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (err) {
    if (statusOf(err) === 404) return true;
    throw err;
  }
}

test(
  'install applies everything the 1.20 API server serves; again is a no-op; uninstall removes it',
  { skip: problem },
  async () => {
    const cp = await controlPlane();
    const kc = loadKubeConfig(cp.kubeconfigPath);
    const values = loadValues([], ['istiod.replicas=2']);
    const lines: string[] = [];
    const target = await install(kc, values, { gatewayApiCrds: true, log: (l) => lines.push(l) });
    assert.deepEqual(target, { major: 1, minor: 20 });
    assert.ok(lines.includes('applied DaemonSet istio-system/ztunnel'), lines.join('\n'));

    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const ds = await apps.readNamespacedDaemonSet({ name: 'ztunnel', namespace: 'istio-system' });
    assert.equal(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, 1); // 1.20: no maxSurge
    assert.equal(ds.spec?.template.spec?.priorityClassName, 'system-node-critical');
    const projected = ds.spec?.template.spec?.volumes?.find((v) => v.projected)?.projected;
    assert.equal(projected?.sources?.[0]?.serviceAccountToken?.audience, 'istio-ca');
    const svc = await core.readNamespacedService({ name: 'istiod', namespace: 'istio-system' });
    assert.deepEqual(
      svc.spec?.ports?.map((p) => p.port),
      [15010, 15012, 443, 15014],
    );
    assert.ok(svc.spec?.clusterIP, 'the API server gave istiod a cluster IP');
    const pdb = (await KubernetesObjectApi.makeApiClient(kc).read({
      apiVersion: 'policy/v1beta1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'istiod', namespace: 'istio-system' },
    })) as { spec?: { minAvailable?: number } };
    assert.equal(pdb.spec?.minAvailable, 1);
    // The deployment controller acts on the Deployment: its ReplicaSet asks for two istiod pods.
    const d = await apps.readNamespacedDeployment({ name: 'istiod', namespace: 'istio-system' });
    assert.equal(d.spec?.replicas, 2);

    // The CRDs serve Istio objects; the GatewayClasses exist.
    const custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: 'demo' } } });
    await custom.createNamespacedCustomObject({
      group: 'security.istio.io',
      version: 'v1beta1',
      namespace: 'demo',
      plural: 'authorizationpolicies',
      body: {
        apiVersion: 'security.istio.io/v1beta1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'deny-all' },
        spec: { action: 'DENY' },
      },
    });
    const stored = (await custom.getNamespacedCustomObject({
      group: 'security.istio.io',
      version: 'v1',
      namespace: 'demo',
      plural: 'authorizationpolicies',
      name: 'deny-all',
    })) as { apiVersion: string; spec: { action?: string } };
    assert.equal(stored.apiVersion, 'security.istio.io/v1', 'served in the storage version too');
    assert.equal(stored.spec.action, 'DENY', 'the CRD keeps the fields of spec (preserve-unknown-fields)');
    const gc = (await custom.getClusterCustomObject({
      group: 'gateway.networking.k8s.io',
      version: 'v1',
      plural: 'gatewayclasses',
      name: 'istio-waypoint',
    })) as { spec: { controllerName: string } };
    assert.equal(gc.spec.controllerName, 'istio.io/mesh-controller');

    // kubectl sees the same (what users run), and a second install changes no object.
    const { stdout } = await run('kubectl', [
      '--kubeconfig',
      cp.kubeconfigPath,
      'get',
      'daemonsets',
      '-n',
      'istio-system',
      '-o',
      'name',
    ]);
    assert.deepEqual(stdout.trim().split('\n').sort(), [
      'daemonset.apps/meshlite-node-agent',
      'daemonset.apps/ztunnel',
    ]);
    // The DaemonSet controller may write its status between the reads (that bumps resourceVersion):
    // what an install changes is the spec (generation), labels and annotations.
    const shape = async () => {
      const m = (await apps.readNamespacedDaemonSet({ name: 'ztunnel', namespace: 'istio-system' })).metadata;
      return { generation: m?.generation, labels: m?.labels, annotations: m?.annotations };
    };
    const before = await shape();
    await install(kc, values, { gatewayApiCrds: true });
    assert.deepEqual(await shape(), before, 'server-side apply of the same objects is a no-op');

    // A value change is applied in place.
    await install(kc, loadValues([], ['istiod.replicas=2', 'logLevel=debug']), { gatewayApiCrds: true });
    const env = (await apps.readNamespacedDaemonSet({ name: 'ztunnel', namespace: 'istio-system' })).spec
      ?.template.spec?.containers[0]?.env;
    assert.equal(env?.find((e) => e.name === 'LOG_LEVEL')?.value, 'debug');

    // Uninstall: istio-system and the cluster objects go; the Istio CRDs (and the user's policy) stay.
    await uninstall(kc, values, { timeoutMs: 120_000 });
    assert.ok(await absent(() => core.readNamespace({ name: 'istio-system' })), 'istio-system is gone');
    const rbac = await run('kubectl', [
      '--kubeconfig',
      cp.kubeconfigPath,
      'get',
      'clusterroles,clusterrolebindings',
      '-l',
      'app.kubernetes.io/part-of=meshlite',
      '-o',
      'name',
    ]);
    assert.equal(rbac.stdout.trim(), '');
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    await ext.readCustomResourceDefinition({ name: 'authorizationpolicies.security.istio.io' });
    await custom.getNamespacedCustomObject({
      group: 'security.istio.io',
      version: 'v1',
      namespace: 'demo',
      plural: 'authorizationpolicies',
      name: 'deny-all',
    });

    // --purge: the CRDs (and the test-only Gateway API CRDs) go too.
    await uninstall(kc, values, { purge: true });
    const crds = await ext.listCustomResourceDefinition();
    assert.deepEqual(
      crds.items.map((c) => c.metadata?.name),
      [],
    );
  },
);
