import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubernetesSource } from '../../../../src/istiod/config/kubernetes-source.js';
import { ConfigStore } from '../../../../src/istiod/config/store.js';
import { FakeKubeApi, type KubeObject } from './helpers/fake-kube-api.js';
import { waitFor } from './helpers/wait-for.js';

const NS_PATH = '/api/v1/namespaces';
const AP_PATH = '/apis/security.istio.io/v1/authorizationpolicies';

function ns(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

function policy(name: string, action: string): KubeObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace: 'demo' },
    spec: { action, rules: [{ from: [{ source: { namespaces: ['other'] } }] }] },
  };
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const api = new FakeKubeApi();
  await api.start();
  const source = new KubernetesSource({
    kubeconfig: api.endpoint(),
    kinds: ['Namespace', 'AuthorizationPolicy'],
    backoffMs: { initial: 20, max: 200 },
  });
  const store = new ConfigStore();
  store.attach(source);
  t.after(async () => {
    await source.stop();
    await api.stop();
  });
  return { api, source, store };
}

test('initial list, then watch events for add, update and delete', async (t) => {
  const { api, source, store } = await setup(t);
  api.add(NS_PATH, ns('demo', { 'istio.io/dataplane-mode': 'ambient' }));
  api.add(AP_PATH, policy('deny-other', 'DENY'));
  await source.start();
  await source.whenSynced();
  assert.equal(
    store.get('Namespace', undefined, 'demo')?.metadata.labels?.['istio.io/dataplane-mode'],
    'ambient',
  );
  assert.equal(store.get('AuthorizationPolicy', 'demo', 'deny-other')?.spec.action, 'DENY');

  await api.waitForWatch(AP_PATH);
  api.add(NS_PATH, ns('second'));
  api.modify(AP_PATH, policy('deny-other', 'AUDIT'));
  await waitFor(
    'the watch events',
    () =>
      store.get('AuthorizationPolicy', 'demo', 'deny-other')?.spec.action === 'AUDIT' &&
      store.list('Namespace').length === 2,
  );
  api.remove(NS_PATH, undefined, 'second');
  await waitFor('the delete', () => store.list('Namespace').length === 1);
  const watches = api.requests.filter((r) => r.path === AP_PATH && r.watch);
  assert.ok(watches.length >= 1);
  assert.notEqual(watches[0]!.resourceVersion, '', 'the watch starts from the listed resourceVersion');
});

test('an invalid object is reported and its last good version keeps serving', async (t) => {
  const { api, source, store } = await setup(t);
  api.add(AP_PATH, policy('p', 'ALLOW'));
  await source.start();
  await source.whenSynced();
  await api.waitForWatch(AP_PATH);
  api.modify(AP_PATH, policy('p', 'DENYY'));
  await waitFor('the issue', () => source.issues().length === 1);
  assert.equal(
    source.issues()[0]!.text,
    'AuthorizationPolicy demo/p: spec.action: "DENYY" is not one of ALLOW, DENY, AUDIT, CUSTOM',
  );
  assert.equal(store.get('AuthorizationPolicy', 'demo', 'p')?.spec.action, 'ALLOW');
  api.modify(AP_PATH, policy('p', 'DENY'));
  await waitFor(
    'the fixed object',
    () => store.get('AuthorizationPolicy', 'demo', 'p')?.spec.action === 'DENY',
  );
  assert.equal(source.issues().length, 0);
});

test('a 410 Gone watch event makes the informer relist and catch up, deletions included', async (t) => {
  const { api, source, store } = await setup(t);
  api.add(NS_PATH, ns('a'));
  api.add(NS_PATH, ns('b'));
  await source.start();
  await source.whenSynced();
  await api.waitForWatch(NS_PATH);
  const listsBefore = api.requests.filter((r) => r.path === NS_PATH && !r.watch).length;
  // Change state while the history is compacted away, so only a relist can reveal it.
  api.dropConnections();
  api.remove(NS_PATH, undefined, 'a');
  api.add(NS_PATH, ns('c'));
  api.compact();
  await waitFor(
    'the relist',
    () =>
      store
        .list('Namespace')
        .map((n) => n.metadata.name)
        .join() === 'b,c',
  );
  const listsAfter = api.requests.filter((r) => r.path === NS_PATH && !r.watch).length;
  assert.ok(listsAfter > listsBefore, 'a new list request was made');
  // And the in-stream ERROR 410 on a live watch:
  await api.waitForWatch(NS_PATH);
  api.compact();
  api.expireWatches();
  api.remove(NS_PATH, undefined, 'b');
  api.compact();
  await waitFor(
    'the second relist',
    () =>
      store
        .list('Namespace')
        .map((n) => n.metadata.name)
        .join() === 'c',
  );
});

test('HTTP 410 on the watch request also forces a relist', async (t) => {
  const { api, source, store } = await setup(t);
  api.goneAs = 'status';
  api.add(NS_PATH, ns('a'));
  await source.start();
  await source.whenSynced();
  await api.waitForWatch(NS_PATH);
  api.dropConnections();
  api.add(NS_PATH, ns('z'));
  api.compact();
  await waitFor('the relist', () => store.list('Namespace').length === 2);
});

test('server goes away and comes back: the source reconnects and catches up', async (t) => {
  const { api, source, store } = await setup(t);
  api.add(NS_PATH, ns('a'));
  await source.start();
  await source.whenSynced();
  await api.waitForWatch(NS_PATH);
  await api.stop();
  api.add(NS_PATH, ns('while-down'));
  await new Promise((r) => setTimeout(r, 100)); // let a few reconnects fail
  await api.start();
  await waitFor('the catch-up', () => store.get('Namespace', undefined, 'while-down') !== undefined);
  api.add(NS_PATH, ns('after'));
  await waitFor('live events again', () => store.get('Namespace', undefined, 'after') !== undefined);
});

test('bookmarks advance the resourceVersion so a reconnect needs no relist', async (t) => {
  const { api, source, store } = await setup(t);
  api.add(NS_PATH, ns('a'));
  await source.start();
  await source.whenSynced();
  await api.waitForWatch(NS_PATH);
  assert.ok(api.requests.some((r) => r.watch && r.path === NS_PATH));
  api.add(AP_PATH, policy('elsewhere', 'ALLOW')); // moves the global version, not seen on the ns watch
  await waitFor('the policy', () => store.list('AuthorizationPolicy').length === 1);
  api.bookmark();
  const bookmarked = api.resourceVersion;
  await new Promise((r) => setTimeout(r, 50));
  api.compact(); // history before the bookmark is gone; the bookmark version is still valid
  const lists = api.requests.filter((r) => r.path === NS_PATH && !r.watch).length;
  api.dropConnections();
  await waitFor('the re-watch', () =>
    api.requests.some((r) => r.path === NS_PATH && r.watch && r.resourceVersion === bookmarked),
  );
  assert.equal(api.requests.filter((r) => r.path === NS_PATH && !r.watch).length, lists, 'no relist');
  assert.equal(store.list('Namespace').length, 1);
});

test('a kind whose CRD is not installed counts as empty for sync', async (t) => {
  const api = new FakeKubeApi();
  await api.start();
  api.notFound.add(AP_PATH);
  const source = new KubernetesSource({
    kubeconfig: api.endpoint(),
    kinds: ['Namespace', 'AuthorizationPolicy'],
    backoffMs: { initial: 20, max: 200 },
  });
  t.after(async () => {
    await source.stop();
    await api.stop();
  });
  await source.start();
  await source.whenSynced();
  assert.equal(source.synced, true);
});

test('a kubeconfig file path works, and a silent watch is reopened from the same version', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const api = new FakeKubeApi();
  await api.start();
  const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-'));
  const file = join(dir, 'config');
  await writeFile(file, api.kubeConfigYaml());
  const source = new KubernetesSource({ kubeconfig: file, kinds: ['Namespace'], watchIdleTimeoutMs: 100 });
  t.after(async () => {
    await source.stop();
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  });
  api.add(NS_PATH, ns('a'));
  await source.start();
  await source.whenSynced();
  const rv = api.resourceVersion;
  await waitFor(
    'a reopened watch',
    () => api.requests.filter((r) => r.watch && r.resourceVersion === rv).length >= 2,
  );
  assert.equal(api.requests.filter((r) => !r.watch).length, 1, 'no relist after an idle timeout');
  api.add(NS_PATH, ns('b'));
  await waitFor('events on the reopened watch', () => source.snapshot().length === 2);
});
