/**
 * The mTLS port (15012): xDS and the CA behind istiod's own certificate from its CA. A node proxy
 * bootstraps its certificate on 15010 with its node token, then speaks xDS on 15012 with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/common/logger.js';
import { parseConfig } from '../../../src/common/config.js';
import { Istiod } from '../../../src/istiod/app.js';
import { DirectorySource } from '../../../src/istiod/config/directory-source.js';
import { istiodSchema } from '../../../src/istiod/options.js';
import { setupCa } from '../../../src/istiod/ca-setup.js';
import { addNodeToken } from '../../../src/istiod/ca/local-tokens.js';
import { IdentityCaClient, caChannelCredentials } from '../../../src/identity/index.js';
import { DeltaClient, type TypeWatch } from '../../../src/xds/delta-client.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../src/xds/type-urls.js';
import { formatNodeId } from '../../../src/xds/node-id.js';
import { until } from '../hbone/fixtures.js';

test('a node proxy gets its certificate on 15010, then receives xDS over mutual TLS on 15012', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'secure-xds-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'pod.yaml'),
    `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec: {nodeName: node-1, serviceAccountName: web, containers: [{name: w, image: w}]}
status: {podIP: 10.1.1.5, phase: Running, conditions: [{type: Ready, status: "True"}]}
`,
  );
  const tokens = join(dir, 'tokens.json');
  const ztId = { trustDomain: 'cluster.local', namespace: 'istio-system', serviceAccount: 'ztunnel' };
  const token = await addNodeToken(tokens, { node: 'node-1', identity: ztId });
  const { config } = parseConfig(
    istiodSchema,
    ['--ca-dir', join(dir, 'ca'), '--node-token-file', tokens],
    {},
  );
  const ca = await setupCa(config, silentLogger());
  const istiod = new Istiod({
    source: new DirectorySource({ dir, logger: silentLogger(), debounceMs: 10, rescanMs: 0 }),
    xdsAddress: { host: '127.0.0.1', port: 0 },
    secure: { address: { host: '127.0.0.1', port: 0 }, credentials: () => ca.serverCredentials() },
    grpcServices: [(server, i) => ca.register(server, i)],
    debounce: { quietMs: 5, maxMs: 50 },
  });
  await istiod.start();
  t.after(async () => {
    await istiod.stop();
    ca.close();
  });
  await istiod.whenReady();
  // Bootstrap: the node proxy's own certificate over plaintext 15010, authenticated by its token.
  const caClient = new IdentityCaClient({
    address: `127.0.0.1:${istiod.ports.xds}`,
    token,
    ownIdentity: ztId,
  });
  t.after(() => caClient.close());
  const own = await caClient.fetch(ztId);
  const roots = own.chainPem.at(-1)!;
  // xDS on 15012: TLS with istiod's certificate checked against the mesh root, our certificate presented.
  const received = new Set<string>();
  const watch = (typeUrl: string): TypeWatch<unknown> => ({
    typeUrl,
    onUpdate: (ups) => ups.forEach((u) => received.add(u.name)),
  });
  const client = new DeltaClient({
    address: `127.0.0.1:${istiod.ports.secureXds}`,
    credentials: caChannelCredentials(roots, { keyPem: own.keyPem, chainPem: own.chainPem.join('\n') }),
    channelOptions: {
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
      'grpc.default_authority': 'istiod.istio-system.svc',
    },
    node: { id: formatNodeId('ztunnel', '10.0.0.1', 'ztunnel-node-1', 'istio-system') },
    watches: [watch(ADDRESS_TYPE_URL), watch(AUTHORIZATION_TYPE_URL)],
  });
  client.start();
  t.after(() => client.close());
  await until(() => received.has('Kubernetes//Pod/default/web'), 5000, 'the workload over 15012');
  assert.ok(client.stats.acks >= 1);
  // A client that does not trust the mesh root cannot talk to 15012.
  const { createRootCa } = await import('../../../src/pki/ca.js');
  const stranger = new DeltaClient({
    address: `127.0.0.1:${istiod.ports.secureXds}`,
    credentials: caChannelCredentials(createRootCa().rootPem),
    channelOptions: { 'grpc.ssl_target_name_override': 'istiod.istio-system.svc' },
    node: { id: formatNodeId('ztunnel', '10.0.0.2', 'ztunnel-x', 'istio-system') },
    watches: [watch(ADDRESS_TYPE_URL)],
    backoff: { initialMs: 50, maxMs: 100 },
  });
  stranger.start();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(stranger.stats.responses, 0);
  stranger.close();
});
