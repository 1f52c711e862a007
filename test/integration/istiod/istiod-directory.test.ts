/**
 * istiod in-process with a configuration directory: real DirectorySource, index, delta xDS server and
 * monitoring port on loopback, and real delta xDS clients.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger, type Logger } from '../../../src/common/logger.js';
import { Istiod } from '../../../src/istiod/app.js';
import { DirectorySource } from '../../../src/istiod/config/directory-source.js';
import { ADDRESS_TYPE_URL } from '../../../src/xds/type-urls.js';
import { AuthorizationAction, AuthorizationScope } from '../../../src/xds/security-types.js';
import { AppProtocol, TunnelProtocol } from '../../../src/xds/workload-types.js';
import { allowClient, configDir, MESH_FILES } from './fixtures.js';
import { capturingLogger, httpGet, MeshClient, waitFor } from './helpers.js';

const TOTAL_ADDRESSES = 6 + 1 + 4; // pods + ServiceEntry endpoint + services (web, waypoint, db, api)

async function setup(t: TestContext, logger: Logger = silentLogger()) {
  const dir = await configDir();
  const source = new DirectorySource({ dir: dir.dir, logger, debounceMs: 20, rescanMs: 0 });
  const istiod = new Istiod({
    source,
    xdsAddress: { host: '127.0.0.1', port: 0 },
    monitoringAddress: { host: '127.0.0.1', port: 0 },
    debounce: { quietMs: 10, maxMs: 100 },
    logger,
  });
  await istiod.start();
  await istiod.whenReady();
  const client = new MeshClient(istiod.ports.xds).start();
  t.after(async () => {
    client.close();
    await istiod.stop();
    await dir.cleanup();
  });
  await waitFor('the initial sync', () => client.addresses.size === TOTAL_ADDRESSES);
  await waitFor('the policies', () => client.authorizations.size === 5);
  return { dir, source, istiod, client };
}

test('the initial sync carries the workloads, services and policies of the YAML', async (t) => {
  const { client, istiod } = await setup(t);
  const web0 = client.workload('demo', 'web-0');
  assert.equal(web0?.tunnelProtocol, TunnelProtocol.HBONE);
  assert.deepEqual([...(web0?.addresses?.[0] ?? [])], [10, 10, 1, 5]);
  assert.equal(web0?.serviceAccount, 'web');
  assert.equal(web0?.node, 'node-1');
  assert.deepEqual(web0?.services?.['demo/web.demo.svc.cluster.local']?.ports?.[0], {
    servicePort: 80,
    targetPort: 8080,
    appProtocol: AppProtocol.HTTP11,
  });
  assert.deepEqual(web0?.authorizationPolicies, [
    'demo/allow-client',
    'demo/converted_peer_authentication_web-metrics',
  ]);
  // Namespace not labelled: published for plaintext, not captured.
  assert.equal(client.workload('legacy', 'db-0')?.tunnelProtocol ?? TunnelProtocol.NONE, TunnelProtocol.NONE);

  const web = client.addresses.get('demo/web.demo.svc.cluster.local')?.service;
  assert.deepEqual(web?.waypoint?.hostname, {
    namespace: 'demo',
    hostname: 'waypoint.demo.svc.cluster.local',
  });
  assert.ok(client.addresses.get('demo/api.example.com')?.service);

  const allow = client.authorizations.get('demo/allow-client');
  assert.equal(allow?.action ?? AuthorizationAction.ALLOW, AuthorizationAction.ALLOW);
  assert.equal(allow?.scope, AuthorizationScope.WORKLOAD_SELECTOR);
  assert.equal(client.authorizations.get('demo/deny-legacy-writes')?.action, AuthorizationAction.DENY);

  // The CA's view: which identities run on which node.
  assert.deepEqual(
    istiod.podsOnNode('node-1').map((p) => p.spiffeId),
    [
      'spiffe://cluster.local/ns/demo/sa/client',
      'spiffe://cluster.local/ns/demo/sa/web',
      'spiffe://cluster.local/ns/legacy/sa/db',
    ],
  );
  assert.equal(istiod.identityOnNode('spiffe://cluster.local/ns/demo/sa/waypoint', 'node-2'), true);
  assert.equal(istiod.identityOnNode('spiffe://cluster.local/ns/demo/sa/waypoint', 'node-1'), false);
});

test('labelling a namespace ambient flips its pods to HBONE and sends only those pods', async (t) => {
  const { dir, client } = await setup(t);
  const from = client.events.length;
  const labelled = MESH_FILES['namespaces.yaml']!.replace(
    'metadata: { name: legacy }',
    'metadata: { name: legacy, labels: { istio.io/dataplane-mode: ambient } }',
  );
  await dir.write('namespaces.yaml', labelled);
  await waitFor(
    'legacy pods on HBONE',
    () =>
      client.workload('legacy', 'db-0')?.tunnelProtocol === TunnelProtocol.HBONE &&
      client.workload('legacy', 'db-1')?.tunnelProtocol === TunnelProtocol.HBONE,
  );
  const sent = client.events
    .slice(from)
    .filter((e) => e.typeUrl === ADDRESS_TYPE_URL)
    .flatMap((e) => e.upserted);
  assert.deepEqual(sent.sort(), ['Kubernetes//Pod/legacy/db-0', 'Kubernetes//Pod/legacy/db-1']);
});

test('removing a pod file sends the removal', async (t) => {
  const { dir, client, istiod } = await setup(t);
  await dir.remove('pod-demo-client-0.yaml');
  const uid = 'Kubernetes//Pod/demo/client-0';
  await waitFor('the removal', () => !client.addresses.has(uid));
  assert.ok(client.events.some((e) => e.typeUrl === ADDRESS_TYPE_URL && e.removed.includes(uid)));
  assert.equal(istiod.identityOnNode('spiffe://cluster.local/ns/demo/sa/client', 'node-1'), false);
});

test('an invalid policy edit keeps the last good version, is logged and counted once', async (t) => {
  const { logger, lines } = capturingLogger();
  const { dir, client, istiod, source } = await setup(t, logger);
  await dir.write('authorizationpolicy-demo-allow-client.yaml', allowClient('DENYY'));
  await waitFor('the rejection', () => istiod.issues().length === 1);
  assert.match(
    istiod.issues()[0]?.text ?? '',
    /AuthorizationPolicy demo\/allow-client: spec\.action: "DENYY" is not one of ALLOW, DENY, AUDIT, CUSTOM/,
  );
  // Later changes still flow, and the client keeps the good version of the policy.
  await dir.remove('pod-demo-client-0.yaml');
  await waitFor('a later change', () => !client.addresses.has('Kubernetes//Pod/demo/client-0'));
  assert.equal(
    client.authorizations.get('demo/allow-client')?.action ?? AuthorizationAction.ALLOW,
    AuthorizationAction.ALLOW,
  );
  await source.rescan();
  await source.rescan();
  const rejectedLogs = lines.filter((l) => String(l.msg).startsWith('rejected configuration'));
  assert.equal(rejectedLogs.length, 1);
  const metrics = (await httpGet(istiod.ports.monitoring, '/metrics')).body;
  assert.match(metrics, /galley_validation_failed\{kind="AuthorizationPolicy"\} 1\n/);

  await dir.write('authorizationpolicy-demo-allow-client.yaml', allowClient('DENY'));
  await waitFor(
    'the fixed policy',
    () => client.authorizations.get('demo/allow-client')?.action === AuthorizationAction.DENY,
  );
  assert.equal(istiod.issues().length, 0);
});

test('/ready, /metrics and the debug endpoints', async (t) => {
  const { istiod } = await setup(t);
  const port = istiod.ports.monitoring;
  assert.deepEqual(await httpGet(port, '/ready'), { status: 200, body: 'ready\n' });

  const metrics = (await httpGet(port, '/metrics')).body;
  assert.match(metrics, /^pilot_xds 1$/m);
  assert.match(metrics, /^pilot_xds_pushes\{type="address"\} [1-9]/m);
  assert.match(metrics, /^pilot_xds_pushes\{type="authorization"\} [1-9]/m);
  assert.match(metrics, /^istiod_config_objects\{kind="Pod"\} 6$/m);
  assert.match(metrics, /^istiod_xds_resources\{type="address"\} 11$/m);
  assert.match(metrics, /^istiod_index_compute_seconds_count\{phase="initial"\} 1$/m);
  assert.match(metrics, /^pilot_k8s_cfg_events\{type="Pod",event="add"\} 6$/m);

  const adsz = JSON.parse((await httpGet(port, '/debug/adsz')).body) as {
    totalClients: number;
    clients: Array<{ proxy: string }>;
    resources: Record<string, number>;
  };
  assert.equal(adsz.totalClients, 1);
  assert.equal(adsz.clients[0]?.proxy, 'ztunnel-a.istio-system');
  assert.equal(adsz.resources[ADDRESS_TYPE_URL], TOTAL_ADDRESSES);
  const syncz = JSON.parse((await httpGet(port, '/debug/syncz')).body) as Array<{ synced: boolean }>;
  assert.equal(syncz.length, 1);
  const configz = JSON.parse((await httpGet(port, '/debug/configz')).body) as {
    objects: Record<string, number>;
    policyWarnings: Array<{ name: string }>;
  };
  assert.equal(configz.objects.Pod, 6);
  assert.deepEqual(
    configz.policyWarnings.map((w) => w.name),
    ['deny-legacy-writes'],
  );
  assert.equal((await httpGet(port, '/nope')).status, 404);

  await istiod.stop();
  await assert.rejects(httpGet(port, '/ready'));
});
