/**
 * istiod in-process with the Kubernetes source, against the test suite's list/watch API server.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Istiod } from '../../../src/istiod/app.js';
import { KubernetesSource } from '../../../src/istiod/config/kubernetes-source.js';
import { TunnelProtocol } from '../../../src/xds/workload-types.js';
import { FakeKubeApi, type KubeObject } from './config/helpers/fake-kube-api.js';
import { httpGet, MeshClient, waitFor } from './helpers.js';

const NS_PATH = '/api/v1/namespaces';
const POD_PATH = '/api/v1/pods';

function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

function pod(name: string, ip: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'demo', labels: { app: 'web' } },
    spec: { nodeName: 'node-1', serviceAccountName: 'web', containers: [{ name: 'main' }] },
    status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

async function startIstiod(t: TestContext, api: FakeKubeApi): Promise<Istiod> {
  const source = new KubernetesSource({ kubeconfig: api.endpoint(), backoffMs: { initial: 20, max: 200 } });
  const istiod = new Istiod({
    source,
    xdsAddress: { host: '127.0.0.1', port: 0 },
    monitoringAddress: { host: '127.0.0.1', port: 0 },
    debounce: { quietMs: 10, maxMs: 100 },
  });
  t.after(() => istiod.stop());
  await istiod.start();
  return istiod;
}

test('a pod added on the API server reaches a connected client; its deletion is sent', async (t) => {
  const api = new FakeKubeApi();
  await api.start();
  t.after(() => api.stop());
  api.add(NS_PATH, namespace('demo', { 'istio.io/dataplane-mode': 'ambient' }));
  api.add(POD_PATH, pod('web-0', '10.10.1.5'));
  const istiod = await startIstiod(t, api);
  await istiod.whenReady();
  const client = new MeshClient(istiod.ports.xds).start();
  t.after(() => client.close());
  await waitFor('the listed pod', () => client.workload('demo', 'web-0') !== undefined);

  await api.waitForWatch(POD_PATH);
  api.add(POD_PATH, pod('web-1', '10.10.1.6'));
  await waitFor('the watched pod', () => client.workload('demo', 'web-1') !== undefined);
  assert.equal(client.workload('demo', 'web-1')?.tunnelProtocol, TunnelProtocol.HBONE);
  assert.equal(istiod.identityOnNode('spiffe://cluster.local/ns/demo/sa/web', 'node-1'), true);

  api.remove(POD_PATH, 'demo', 'web-1');
  await waitFor('the removal', () => client.workload('demo', 'web-1') === undefined);
});

test('until the API server answers, /ready is 503 and clients wait; then they get the state', async (t) => {
  const api = new FakeKubeApi();
  await api.start();
  await api.stop(); // same port later: for now, connections are refused
  t.after(() => api.stop());
  const istiod = await startIstiod(t, api);
  const notReady = await httpGet(istiod.ports.monitoring, '/ready');
  assert.equal(notReady.status, 503);
  assert.match(
    notReady.body,
    /waiting for the configuration source \(kubernetes https:\/\/127\.0\.0\.1:\d+\)/,
  );

  const client = new MeshClient(istiod.ports.xds).start();
  t.after(() => client.close());
  await waitFor('istiod to hold the stream', () => istiod.waitingStreams === 1);
  const adsz = JSON.parse((await httpGet(istiod.ports.monitoring, '/debug/adsz')).body) as {
    waitingForSync: number;
  };
  assert.equal(adsz.waitingForSync, 1);
  assert.equal(client.events.length, 0, 'nothing is pushed before the source has synced');

  api.add(NS_PATH, namespace('demo', { 'istio.io/dataplane-mode': 'ambient' }));
  api.add(POD_PATH, pod('web-0', '10.10.1.5'));
  await api.start();
  await waitFor('the state after sync', () => client.workload('demo', 'web-0') !== undefined, 8000);
  assert.equal((await httpGet(istiod.ports.monitoring, '/ready')).status, 200);
  // The held stream was served, not refused and reopened.
  assert.equal(client.client.stats.connects, 1);
});
