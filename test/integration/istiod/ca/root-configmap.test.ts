/**
 * The istio-ca-root-cert ConfigMap in every namespace (Kubernetes mode), against the test suite's API
 * server: namespaces come from a KubernetesSource into a ConfigStore, ConfigMaps are written over HTTP.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createRootCa } from '../../../../src/pki/ca.js';
import { parseConfig } from '../../../../src/common/config.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { IstiodCa, ROOT_CONFIGMAP_KEY, ROOT_CONFIGMAP_NAME } from '../../../../src/istiod/ca/istiod-ca.js';
import {
  ROOT_CONFIGMAP_LABEL,
  RootConfigMapPublisher,
  type RootConfigMapPublisherOptions,
} from '../../../../src/istiod/ca/root-configmap.js';
import { Istiod } from '../../../../src/istiod/app.js';
import { setupCa } from '../../../../src/istiod/ca-setup.js';
import { istiodSchema } from '../../../../src/istiod/options.js';
import { ApiException, CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { KubernetesSource } from '../../../../src/istiod/config/kubernetes-source.js';
import { ConfigStore } from '../../../../src/istiod/config/store.js';
import { FakeKubeApi, type KubeObject } from '../config/helpers/fake-kube-api.js';
import { waitFor } from '../config/helpers/wait-for.js';

const NS_PATH = '/api/v1/namespaces';
const CM_PATH = '/api/v1/configmaps';

function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

async function fakeApi(t: TestContext): Promise<FakeKubeApi> {
  const api = new FakeKubeApi();
  await api.start();
  t.after(() => api.stop());
  return api;
}

/** A store fed with the API server's namespaces, as istiod's is. */
async function namespaceStore(t: TestContext, api: FakeKubeApi): Promise<ConfigStore> {
  const source = new KubernetesSource({
    kubeconfig: api.endpoint(),
    kinds: ['Namespace'],
    backoffMs: { initial: 20, max: 200 },
  });
  const store = new ConfigStore();
  const detach = store.attach(source);
  t.after(async () => {
    detach();
    await source.stop();
  });
  await source.start();
  await source.whenSynced();
  return store;
}

function publisher(
  t: TestContext,
  api: FakeKubeApi,
  ca: IstiodCa,
  extra: Partial<RootConfigMapPublisherOptions> = {},
): { pub: RootConfigMapPublisher; registry: Registry } {
  const registry = new Registry();
  const pub = new RootConfigMapPublisher({
    kubeConfig: api.endpoint(),
    ca,
    registry,
    backoffMs: { initial: 20, max: 200 },
    ...extra,
  });
  t.after(() => pub.stop());
  return { pub, registry };
}

function bundleIn(api: FakeKubeApi, ns: string): string | undefined {
  const cm = api.get(CM_PATH, ns, ROOT_CONFIGMAP_NAME) as { data?: Record<string, string> } | undefined;
  return cm?.data?.[ROOT_CONFIGMAP_KEY];
}

async function writes(registry: Registry): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('istiod_root_configmap_writes_total')?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.result), v.value]));
}

/**
 * The API server stores an object before the publisher reads the answer and counts the write: after
 * waiting for what the server holds, wait until `expected` writes are counted, then compare them all.
 */
async function assertWrites(registry: Registry, expected: Record<string, number>): Promise<void> {
  const total = (w: Record<string, number>) => Object.values(w).reduce((a, b) => a + b, 0);
  await waitFor('the counted writes', async () => total(await writes(registry)) >= total(expected), 60_000);
  assert.deepEqual(await writes(registry), expected);
}

test('every namespace on the API server gets the ConfigMap with the CA bundle, new ones too; system namespaces are skipped', async (t) => {
  const api = await fakeApi(t);
  api.add(NS_PATH, namespace('default'));
  api.add(NS_PATH, namespace('demo', { 'istio.io/dataplane-mode': 'ambient' }));
  api.add(NS_PATH, namespace('kube-system'));
  const store = await namespaceStore(t, api);
  const ca = IstiodCa.fromAuthority(createRootCa());
  const { pub, registry } = publisher(t, api, ca);
  pub.follow(store);
  pub.start();

  const bundle = ca.rootBundlePem();
  await waitFor(
    'both ConfigMaps',
    () => bundleIn(api, 'default') === bundle && bundleIn(api, 'demo') === bundle,
  );
  const cm = api.get(CM_PATH, 'demo', ROOT_CONFIGMAP_NAME)!;
  assert.equal((cm.metadata.labels as Record<string, string>)[ROOT_CONFIGMAP_LABEL], 'true');
  assert.equal(bundleIn(api, 'kube-system'), undefined);

  await api.waitForWatch(NS_PATH);
  api.add(NS_PATH, namespace('late'));
  await waitFor('the new namespace ConfigMap', () => bundleIn(api, 'late') === bundle);
  await assertWrites(registry, { created: 3 });

  // Nothing changed: a full check writes nothing.
  await pub.syncAll();
  assert.deepEqual(await writes(registry), { created: 3 });
});

test('a root rotation rewrites every ConfigMap with both roots; retiring the old root rewrites them again', async (t) => {
  const api = await fakeApi(t);
  const ca = IstiodCa.fromAuthority(createRootCa());
  const oldRoot = ca.authority.rootPem;
  const { pub, registry } = publisher(t, api, ca);
  for (const ns of ['a', 'b', 'c']) api.add(NS_PATH, namespace(ns));
  pub.namespaces(['a', 'b', 'c']);
  pub.start();
  await waitFor('the first bundle', () =>
    ['a', 'b', 'c'].every((ns) => bundleIn(api, ns) === ca.rootBundlePem()),
  );

  await ca.rotateRoot();
  const newRoot = ca.authority.rootPem;
  assert.notEqual(newRoot, oldRoot);
  await waitFor('the rotated bundle', () =>
    ['a', 'b', 'c'].every((ns) => bundleIn(api, ns) === ca.rootBundlePem()),
  );
  for (const ns of ['a', 'b', 'c']) {
    const pem = bundleIn(api, ns)!;
    assert.ok(pem.includes(oldRoot.trim()) && pem.includes(newRoot.trim()), `${ns} trusts both roots`);
  }

  await ca.retireOldRoots();
  await waitFor('the retired bundle', () =>
    ['a', 'b', 'c'].every((ns) => !bundleIn(api, ns)!.includes(oldRoot.trim())),
  );
  await assertWrites(registry, { created: 3, updated: 6 });
});

test('a deleted ConfigMap comes back on the next namespace event; a deleted namespace is left alone', async (t) => {
  const api = await fakeApi(t);
  api.add(NS_PATH, namespace('demo'));
  api.add(NS_PATH, namespace('other'));
  const store = await namespaceStore(t, api);
  const ca = IstiodCa.fromAuthority(createRootCa());
  const { pub } = publisher(t, api, ca); // periodic check: 60 s, so only the event can bring it back
  pub.follow(store);
  pub.start();
  const bundle = ca.rootBundlePem();
  await waitFor(
    'the ConfigMaps',
    () => bundleIn(api, 'demo') === bundle && bundleIn(api, 'other') === bundle,
  );

  api.remove(CM_PATH, 'demo', ROOT_CONFIGMAP_NAME);
  assert.equal(bundleIn(api, 'demo'), undefined);
  await api.waitForWatch(NS_PATH);
  api.modify(NS_PATH, namespace('demo', { team: 'x' }));
  await waitFor('the recreated ConfigMap', () => bundleIn(api, 'demo') === bundle);

  api.remove(NS_PATH, undefined, 'other');
  await waitFor(
    'the namespace to leave the store',
    () => store.get('Namespace', undefined, 'other') === undefined,
  );
  api.remove(CM_PATH, 'other', ROOT_CONFIGMAP_NAME);
  const before = api.requests.length;
  await pub.syncAll();
  assert.ok(api.requests.length > before, 'demo was checked');
  assert.ok(api.requests.slice(before).every((r) => !r.path.includes('/namespaces/other/')));
});

test('an edited ConfigMap is put back by the periodic check; other keys stay', async (t) => {
  const api = await fakeApi(t);
  api.add(NS_PATH, namespace('other'));
  const ca = IstiodCa.fromAuthority(createRootCa());
  const { pub } = publisher(t, api, ca, { resyncMs: 100 });
  pub.namespaces(['other']);
  pub.start();
  const bundle = ca.rootBundlePem();
  await waitFor('the ConfigMap', () => bundleIn(api, 'other') === bundle);

  // Someone edits the data and drops the label, adding a key of their own.
  const cm = api.get(CM_PATH, 'other', ROOT_CONFIGMAP_NAME)!;
  api.modify(CM_PATH, {
    ...cm,
    metadata: { ...cm.metadata, labels: {} },
    data: { [ROOT_CONFIGMAP_KEY]: 'garbage', extra: 'kept' },
  });
  await waitFor('the restored ConfigMap', () => bundleIn(api, 'other') === bundle);
  const restored = api.get(CM_PATH, 'other', ROOT_CONFIGMAP_NAME)! as KubeObject & {
    data: Record<string, string>;
  };
  assert.equal(restored.data.extra, 'kept');
  assert.equal((restored.metadata.labels as Record<string, string>)[ROOT_CONFIGMAP_LABEL], 'true');
});

test('a failed write (500) is logged, counted and retried; a conflict (409) re-reads and writes once more', async (t) => {
  const api = await fakeApi(t);
  api.add(NS_PATH, namespace('demo'));
  const ca = IstiodCa.fromAuthority(createRootCa());
  const { pub, registry } = publisher(t, api, ca);
  pub.namespaces(['demo']);

  api.failNext('POST', 500);
  assert.equal(await pub.syncNamespace('demo'), 'failed');
  assert.equal(bundleIn(api, 'demo'), undefined);
  await waitFor('the retry', () => bundleIn(api, 'demo') === ca.rootBundlePem());
  await assertWrites(registry, { error: 1, created: 1 });

  await ca.rotateRoot(); // not started: nothing follows the roots, the test drives the sync
  api.failNext('PUT', 409);
  assert.equal(await pub.syncNamespace('demo'), 'updated');
  assert.equal(bundleIn(api, 'demo'), ca.rootBundlePem());
  assert.deepEqual(await writes(registry), { error: 1, created: 1, conflict: 1, updated: 1 });
  const puts = api.requests.filter((r) => r.method === 'PUT').length;
  assert.equal(puts, 2);
});

/** The HTTP status of a client-node call: 2xx when it succeeded, else the ApiException's code. */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

test('the fake API server answers writes as Kubernetes does: 201, 409 AlreadyExists, 409 on a stale resourceVersion, 404 after delete', async (t) => {
  const api = await fakeApi(t);
  const core = api.endpoint().makeApiClient(CoreV1Api);
  const namespace = 'demo';
  const cm: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: '1' } };
  const created = await core.createNamespacedConfigMapWithHttpInfo({ namespace, body: cm });
  assert.equal(created.httpStatusCode, 201);
  assert.equal(created.data.metadata?.namespace, 'demo');
  assert.equal(await statusOf(core.createNamespacedConfigMap({ namespace, body: cm })), 409);
  const listed = await core.listNamespacedConfigMap({ namespace });
  assert.equal(listed.items.length, 1);

  const rv = created.data.metadata!.resourceVersion;
  const put = await core.replaceNamespacedConfigMapWithHttpInfo({
    name: 'x',
    namespace,
    body: { ...created.data, data: { a: '2' } },
  });
  assert.equal(put.httpStatusCode, 200);
  const stale = core.replaceNamespacedConfigMap({
    name: 'x',
    namespace,
    body: { ...created.data, metadata: { ...created.data.metadata, resourceVersion: rv } },
  });
  assert.equal(await statusOf(stale), 409);
  assert.equal(await statusOf(core.deleteNamespacedConfigMap({ name: 'x', namespace })), 200);
  assert.equal(await statusOf(core.readNamespacedConfigMap({ name: 'x', namespace })), 404);
  assert.equal(await statusOf(core.replaceNamespacedConfigMap({ name: 'x', namespace, body: cm })), 404);
});

test('istiod with a Kubernetes source: setupCa publishes the ConfigMap once started', async (t) => {
  const api = await fakeApi(t);
  api.add(NS_PATH, namespace('demo'));
  const dir = await mkdtemp(join(tmpdir(), 'root-cm-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, api.kubeConfigYaml());
  const { config } = parseConfig(istiodSchema, ['--kubeconfig', kubeconfig, '--ca-dir', join(dir, 'ca')], {});
  const ca = await setupCa(config, silentLogger(), kubeconfig);
  const istiod = new Istiod({
    source: new KubernetesSource({ kubeconfig, kinds: ['Namespace'], backoffMs: { initial: 20, max: 200 } }),
    xdsAddress: { host: '127.0.0.1', port: 0 },
    grpcServices: [(server, i) => ca.register(server, i)],
  });
  t.after(async () => {
    ca.close();
    await istiod.stop();
  });
  await istiod.start();
  ca.start(istiod);
  // The API server stores the ConfigMap before istiod reads the answer and counts the write: wait for
  // both, each as a condition (the bound is generous: a loaded machine only makes it slower).
  await waitFor('the ConfigMap', () => bundleIn(api, 'demo') === ca.ca.rootBundlePem(), 60_000);
  await assertWrites(istiod.registry, { created: 1 });
  const metrics = await istiod.registry.metrics();
  assert.match(metrics, /istiod_root_configmap_writes_total\{result="created"\} 1/);
});
