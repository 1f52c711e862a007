/**
 * HTTPS at the ingress gateway, end to end in one process over loopback: istiod (files, CA, both
 * ports) serves a Gateway API Gateway with an HTTPS listener whose certificate is a TLS Secret; the
 * gateway fetches it over istiod's mTLS port with its own mesh certificate and terminates TLS; a new
 * Secret is served on the next handshake; a proxy of another namespace, or one on the plaintext port,
 * is refused the credential.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../src/common/logger.js';
import { parseConfig } from '../../../src/common/config.js';
import { Istiod } from '../../../src/istiod/app.js';
import { DirectorySource } from '../../../src/istiod/config/directory-source.js';
import { istiodSchema } from '../../../src/istiod/options.js';
import { setupCa, type CaRuntime } from '../../../src/istiod/ca-setup.js';
import { addNodeToken } from '../../../src/istiod/ca/local-tokens.js';
import { IdentityCaClient, caChannelCredentials } from '../../../src/identity/index.js';
import { CertSlot, Credentials } from '../../../src/hbone/credentials.js';
import { IngressGateway } from '../../../src/gateway/app.js';
import { gatewaySchema } from '../../../src/gateway/config.js';
import { createRootCa, type CertificateAuthority } from '../../../src/pki/ca.js';
import { tlsSecretYaml, webCert } from '../../fixtures/web-cert.js';
import { DeltaClient, type TypeWatch } from '../../../src/xds/delta-client.js';
import { SECRET_TYPE_URL } from '../../../src/xds/type-urls.js';
import { formatNodeId } from '../../../src/xds/node-id.js';
import { captureLogger, until } from '../hbone/fixtures.js';
import type { SpiffeId } from '../../../src/pki/spiffe.js';

const CRED = 'kubernetes://edge/edge-cert';
let dir: string;
let ca: CaRuntime;
let istiod: Istiod;
let gw: IngressGateway;
let port: number;
let tokens: string;
const web = createRootCa({ commonName: 'example web CA' });
const gwLogs = captureLogger();

/** A kubernetes.io/tls Secret of namespace edge for `hosts`, signed by `issuer`. */
const tlsSecret = (name: string, issuer: CertificateAuthority, hosts: string[]): string =>
  tlsSecretYaml(name, 'edge', webCert(hosts, issuer));

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

/** A mesh certificate for `id` from istiod's CA (bootstrap token on the plaintext port). */
async function meshCredentials(id: SpiffeId): Promise<Credentials> {
  const token = await addNodeToken(tokens, {
    node: `gateway/${id.namespace}/${id.serviceAccount}`,
    identity: id,
  });
  const client = new IdentityCaClient({ address: `127.0.0.1:${istiod.ports.xds}`, token, ownIdentity: id });
  try {
    const c = await client.fetch(id);
    return new Credentials(c.keyPem, c.chainPem, [c.chainPem.at(-1)!]);
  } finally {
    client.close();
  }
}

/** GET over TLS with SNI `servername`: the status, the Location and the certificate's subject CN. */
async function get(
  servername: string,
  path = '/',
): Promise<{ status: number; location: string; cn: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        servername,
        ca: web.certPem,
        headers: { host: servername },
        agent: false,
      },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerX509Certificate();
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            location: String(res.headers.location ?? ''),
            cn: /CN=([^\n,]+)/.exec(cert?.subject ?? '')?.[1] ?? '',
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gateway-https-'));
  port = await freePort();
  await writeFile(
    join(dir, 'edge.yaml'),
    `apiVersion: v1
kind: Namespace
metadata: {name: edge}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: edge}
spec:
  gatewayClassName: istio
  listeners:
  - name: https
    port: ${port}
    protocol: HTTPS
    hostname: "*.example.com"
    tls: {mode: Terminate, certificateRefs: [{name: edge-cert}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: moved, namespace: edge}
spec:
  parentRefs: [{name: edge}]
  rules:
  - filters: [{type: RequestRedirect, requestRedirect: {hostname: new.example.com, statusCode: 302}}]
`,
  );
  await writeFile(join(dir, 'secret.yaml'), tlsSecret('edge-cert', web, ['*.example.com']));
  tokens = join(dir, 'tokens.json');
  // The token file exists before the CA starts (it follows its changes after).
  await addNodeToken(tokens, {
    node: 'placeholder',
    identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'default' },
  });
  const { config } = parseConfig(
    istiodSchema,
    ['--ca-dir', join(dir, 'ca'), '--node-token-file', tokens],
    {},
  );
  ca = await setupCa(config, silentLogger());
  istiod = new Istiod({
    source: new DirectorySource({ dir, logger: silentLogger(), debounceMs: 10, rescanMs: 0 }),
    xdsAddress: { host: '127.0.0.1', port: 0 },
    secure: { address: { host: '127.0.0.1', port: 0 }, credentials: () => ca.serverCredentials() },
    grpcServices: [(server, i) => ca.register(server, i)],
    debounce: { quietMs: 5, maxMs: 50 },
  });
  await istiod.start();
  await istiod.whenReady();
  const own = await meshCredentials({
    trustDomain: 'cluster.local',
    namespace: 'edge',
    serviceAccount: 'edge-istio',
  });
  const { config: gwConfig } = parseConfig(gatewaySchema, [], {});
  gw = new IngressGateway(
    {
      ...gwConfig,
      name: 'edge-istio',
      namespace: 'edge',
      podIp: '127.0.0.1',
      xdsAddress: `127.0.0.1:${istiod.ports.xds}`,
      secureXdsAddress: `127.0.0.1:${istiod.ports.secureXds}`,
      metricsPort: 0,
      readinessPort: 0,
    },
    { logger: gwLogs.logger, registry: new Registry(), certs: new CertSlot(own) },
  );
  await gw.start();
  await until(() => gw.ports.includes(port), 10_000, 'the HTTPS listener');
});

after(async () => {
  await gw?.stop();
  await istiod?.stop();
  ca?.close();
  await rm(dir, { recursive: true, force: true });
});

test('the gateway terminates TLS with the Secret of its HTTPS listener and routes the request as https', async () => {
  const r = await get('shop.example.com', '/cart');
  assert.equal(r.status, 302);
  assert.equal(r.cn, '*.example.com');
  // The redirect keeps the scheme the client spoke.
  assert.equal(r.location, 'https://new.example.com/cart');
});

test('a client that does not trust the certificate fails the handshake; the listener keeps serving', async () => {
  const stranger = createRootCa();
  await assert.rejects(
    new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port, servername: 'shop.example.com', ca: stranger.certPem, agent: false },
        resolve,
      );
      req.on('error', reject);
      req.end();
    }),
    /self-signed|unable to verify|certificate/i,
  );
  assert.equal((await get('shop.example.com')).status, 302);
});

test('a replaced Secret is served on the next handshake, with SNI or without', async () => {
  await writeFile(
    join(dir, 'secret.yaml'),
    tlsSecret('edge-cert', web, ['*.example.com', 'renewed.example.com']),
  );
  await until(
    () => gwLogs.lines.filter((l) => l.msg === 'gateway: certificate loaded').length >= 2,
    10_000,
    'the renewed certificate at the gateway',
  );
  // With SNI, and without (a client by address gets the listener's default certificate).
  for (const servername of ['renewed.example.com', '']) {
    const peer = await new Promise<X509Certificate>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          servername,
          ca: web.certPem,
          agent: false,
          checkServerIdentity: () => undefined,
        },
        (res) => {
          res.resume();
          resolve((res.socket as TLSSocket).getPeerX509Certificate()!);
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.match(peer.subjectAltName ?? '', /renewed\.example\.com/, `SNI "${servername}"`);
  }
});

test('istiod serves a credential only over mTLS to a proxy of the Secret namespace', async () => {
  const got = async (address: string, credentials?: ReturnType<typeof caChannelCredentials>) => {
    const names: string[] = [];
    const watch: TypeWatch<unknown> = {
      typeUrl: SECRET_TYPE_URL,
      names: [CRED],
      onUpdate: (ups) => ups.forEach((u) => names.push(u.name)),
    };
    const client = new DeltaClient({
      address,
      ...(credentials ? { credentials } : {}),
      channelOptions: {
        'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
        'grpc.default_authority': 'istiod.istio-system.svc',
      },
      node: { id: formatNodeId('router', '127.0.0.1', 'x-1', 'other') },
      watches: [watch],
    });
    client.start();
    await until(() => client.stats.responses > 0, 5000, 'the first response');
    await new Promise((r) => setTimeout(r, 200));
    client.close();
    return names;
  };
  const other = await meshCredentials({
    trustDomain: 'cluster.local',
    namespace: 'other',
    serviceAccount: 'x',
  });
  const mtls = (c: Credentials) =>
    caChannelCredentials(c.rootsPem.join('\n'), { keyPem: c.keyPem, chainPem: c.chainPem.join('\n') });
  assert.deepEqual(await got(`127.0.0.1:${istiod.ports.secureXds}`, mtls(other)), []);
  assert.deepEqual(await got(`127.0.0.1:${istiod.ports.xds}`), []);
  const edge = await meshCredentials({
    trustDomain: 'cluster.local',
    namespace: 'edge',
    serviceAccount: 'other-sa',
  });
  assert.deepEqual(await got(`127.0.0.1:${istiod.ports.secureXds}`, mtls(edge)), [CRED]);
  const metrics = await istiod.registry.metrics();
  assert.match(metrics, /meshlite_xds_refused_subscriptions_total\{type="secret"\} 2/);
});

test("a ReferenceGrant lets another namespace's gateways have the credential; removing it takes it back", async () => {
  const grantFile = join(dir, 'grant.yaml');
  await writeFile(
    grantFile,
    `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: gateways-of-other, namespace: edge}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: other}]
  to: [{group: "", kind: Secret, name: edge-cert}]
`,
  );
  await until(() => istiod.store.list('ReferenceGrant').length === 1, 5000, 'the grant in istiod');
  const other = await meshCredentials({
    trustDomain: 'cluster.local',
    namespace: 'other',
    serviceAccount: 'gw',
  });
  const got: string[] = [];
  const removed: string[] = [];
  const client = new DeltaClient({
    address: `127.0.0.1:${istiod.ports.secureXds}`,
    credentials: caChannelCredentials(other.rootsPem.join('\n'), {
      keyPem: other.keyPem,
      chainPem: other.chainPem.join('\n'),
    }),
    channelOptions: {
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
      'grpc.default_authority': 'istiod.istio-system.svc',
    },
    node: { id: formatNodeId('router', '127.0.0.1', 'gw-1', 'other') },
    watches: [
      {
        typeUrl: SECRET_TYPE_URL,
        names: [CRED],
        onUpdate: (ups, rms) => {
          got.push(...ups.map((u) => u.name));
          removed.push(...rms);
        },
      },
    ],
  });
  client.start();
  try {
    await until(() => got.includes(CRED), 5000, 'the credential with the grant');
    await rm(grantFile);
    await until(() => removed.includes(CRED), 5000, 'the credential taken back with the grant');
  } finally {
    client.close();
  }
});
