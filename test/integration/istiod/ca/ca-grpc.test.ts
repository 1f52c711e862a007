import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { once } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaService } from '../../../../src/istiod/ca/ca-service.js';
import { IstiodCa } from '../../../../src/istiod/ca/istiod-ca.js';
import {
  KubeTokenReviewAuthenticator,
  TOKEN_REVIEW_PATH,
} from '../../../../src/istiod/ca/kube-token-review.js';
import { LocalTokenAuthenticator, addNodeToken } from '../../../../src/istiod/ca/local-tokens.js';
import { AmbientNodeIdentities } from '../../../../src/istiod/ca/node-identity-lookup.js';
import { CaServingCertificate } from '../../../../src/istiod/ca/serving-credentials.js';
import { IdentityCaClient, caChannelCredentials, fetchStatus } from '../../../../src/identity/ca-client.js';
import { AmbientIndex } from '../../../../src/istiod/model/ambient-index.js';
import { createCsr } from '../../../../src/pki/csr.js';
import { generateKeyPair } from '../../../../src/pki/keys.js';
import { joinPem } from '../../../../src/pki/pem.js';
import { verifyChain } from '../../../../src/pki/verify.js';
import { CaClient } from '../../../../src/xds/grpc-services.js';
import type {
  IstioCertificateRequest,
  IstioCertificateResponse,
} from '../../../../src/xds/discovery-types.js';
import { ns, pod } from '../../../unit/istiod/model/fixtures.js';
import { kubeConfigFor } from '../../../../src/istiod/config/kube-client.js';
import { TEST_SERVER_NAME, testServingCert } from '../config/helpers/test-tls.js';

const td = 'cluster.local';
const ZTUNNEL = { trustDomain: td, namespace: 'istio-system', serviceAccount: 'ztunnel' };
const WEB = 'spiffe://cluster.local/ns/app/sa/web';
const DB = 'spiffe://cluster.local/ns/app/sa/db';
const sid = (namespace: string, serviceAccount: string) => ({ trustDomain: td, namespace, serviceAccount });

// --- a TokenReview endpoint speaking the Kubernetes API shape ---
const reviews: Array<{
  auth: string | undefined;
  body: { spec?: { token?: string; audiences?: string[] } };
}> = [];
const kubeTls = testServingCert();
const kube = https.createServer({ key: kubeTls.key, cert: kubeTls.cert }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as (typeof reviews)[number]['body'];
    reviews.push({ auth: req.headers.authorization, body });
    if (req.method !== 'POST' || req.url !== TOKEN_REVIEW_PATH) {
      res.writeHead(404).end(JSON.stringify({ kind: 'Status', message: 'not found' }));
      return;
    }
    const token = body.spec?.token;
    const users: Record<string, { username: string; extra?: Record<string, string[]> }> = {
      'k8s-web': { username: 'system:serviceaccount:app:web' },
      'k8s-zt-node2': {
        username: 'system:serviceaccount:istio-system:ztunnel',
        extra: { 'authentication.kubernetes.io/node-name': ['node2'] },
      },
      'k8s-user': { username: 'alice' },
    };
    const user = token ? users[token] : undefined;
    const status = user
      ? { authenticated: true, user, audiences: body.spec?.audiences }
      : { authenticated: false, error: 'token has expired' };
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status }));
  });
});
kube.listen(0, '127.0.0.1');
await once(kube, 'listening');
const kubeUrl = `https://127.0.0.1:${(kube.address() as { port: number }).port}`;

// --- istiod: CA, index, tokens, the service on a plaintext and an mTLS port ---
const dir = await mkdtemp(join(tmpdir(), 'ca-grpc-'));
const ca = await IstiodCa.open({ dataDir: join(dir, 'ca') });
const index = new AmbientIndex();
index.upsert(ns('app', { 'istio.io/dataplane-mode': 'ambient' }));
index.upsert(pod('web-1', { sa: 'web', node: 'node1', ip: '10.0.0.1' }));
index.upsert(pod('db-1', { sa: 'db', node: 'node2', ip: '10.0.0.2' }));
const nodes = new AmbientNodeIdentities(index);
const tokenFile = join(dir, 'tokens.json');
const node1Token = await addNodeToken(tokenFile, { node: 'node1', identity: ZTUNNEL });
const service = new CaService({
  ca,
  nodes,
  authenticators: [
    await LocalTokenAuthenticator.load(tokenFile),
    new KubeTokenReviewAuthenticator({
      kubeConfig: kubeConfigFor(
        kubeUrl,
        { token: 'istiod-own-token' },
        { caData: Buffer.from(kubeTls.caPem).toString('base64'), tlsServerName: TEST_SERVER_NAME },
      ),
      trustDomain: td,
    }),
  ],
});
const serving = new CaServingCertificate(ca);
const plain = new grpc.Server();
const mtls = new grpc.Server();
service.register(plain);
service.register(mtls);
const bind = (s: grpc.Server, creds: grpc.ServerCredentials) =>
  new Promise<number>((resolve, reject) =>
    s.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))),
  );
const plainPort = await bind(plain, grpc.ServerCredentials.createInsecure());
const mtlsPort = await bind(mtls, serving.serverCredentials());
const opened: Array<{ close(): void }> = [];

after(async () => {
  for (const c of opened) c.close();
  plain.forceShutdown();
  mtls.forceShutdown();
  serving.close();
  nodes.close();
  kube.close();
  await rm(dir, { recursive: true, force: true });
});

function client(
  token: string | undefined,
  own = ZTUNNEL,
  extra: Partial<ConstructorParameters<typeof IdentityCaClient>[0]> = {},
) {
  const c = new IdentityCaClient({ address: `127.0.0.1:${plainPort}`, token, ownIdentity: own, ...extra });
  opened.push(c);
  return c;
}

/** A raw CreateCertificate call: resolves with the chain or the gRPC error. */
function raw(
  req: IstioCertificateRequest,
  token?: string,
): Promise<{ chain?: string[]; err?: grpc.ServiceError }> {
  const c = new CaClient(`127.0.0.1:${plainPort}`, grpc.credentials.createInsecure());
  opened.push(c);
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    (
      c as unknown as {
        CreateCertificate: grpc.requestCallback<IstioCertificateResponse> & ((...a: unknown[]) => void);
      }
    ).CreateCertificate(req, md, (err: grpc.ServiceError | null, res?: IstioCertificateResponse) =>
      resolve(err ? { err } : { chain: res?.certChain ?? [] }),
    );
  });
}

function csr(uris: string[], dnsNames: string[] = []): string {
  const { privateKey, publicKey } = generateKeyPair();
  return createCsr({ privateKey, publicKey, uris, dnsNames });
}

test('ztunnel on node1 gets a certificate for a pod on node1 over gRPC (local node token)', async () => {
  const issued = await client(node1Token).fetch(sid('app', 'web'));
  assert.equal(issued.chainPem.length, 2);
  const checked = verifyChain(issued.chainPem, [...ca.rootsPem]);
  assert.ok(checked.ok);
  assert.deepEqual(checked.id, sid('app', 'web'));
});

test('ztunnel on node1 is refused a pod of node2 — until that pod moves to node1', async () => {
  const c = client(node1Token);
  await assert.rejects(c.fetch(sid('app', 'db')), (err: unknown) => {
    assert.equal(fetchStatus(err), grpc.status.PERMISSION_DENIED);
    assert.match(
      String(err),
      /no pod with identity spiffe:\/\/cluster.local\/ns\/app\/sa\/db runs on node "node1"/,
    );
    return true;
  });
  index.upsert(pod('db-2', { sa: 'db', node: 'node1', ip: '10.0.0.3' }));
  assert.ok((await c.fetch(sid('app', 'db'))).chainPem.length > 0);
  index.remove('Pod', 'app', 'db-2');
  await assert.rejects(c.fetch(sid('app', 'db')), /PERMISSION_DENIED/);
});

test('bad input over the wire: status and message for each, nothing signed', async () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const cases: Array<[IstioCertificateRequest, string | undefined, grpc.status, RegExp]> = [
    [
      { csr: 'not a csr', metadata: imp(WEB) },
      node1Token,
      grpc.status.INVALID_ARGUMENT,
      /CSR cannot be parsed/,
    ],
    [
      { csr: csr([WEB, DB]), metadata: imp(WEB) },
      node1Token,
      grpc.status.INVALID_ARGUMENT,
      /2 subject alternative names/,
    ],
    [
      { csr: csr([], ['web.app.svc']), metadata: imp(WEB) },
      node1Token,
      grpc.status.INVALID_ARGUMENT,
      /not a SPIFFE id/,
    ],
    [
      { csr: csr([DB]), metadata: imp(WEB) },
      node1Token,
      grpc.status.INVALID_ARGUMENT,
      /differs from the identity asked for/,
    ],
    [
      { csr: csr(['spiffe://other.td/ns/app/sa/web']), metadata: imp('spiffe://other.td/ns/app/sa/web') },
      node1Token,
      grpc.status.PERMISSION_DENIED,
      /runs on node/,
    ],
    [
      {
        csr: createCsr({ privateKey: rsa.privateKey, publicKey: rsa.publicKey, uris: [WEB] }),
        metadata: imp(WEB),
      },
      node1Token,
      grpc.status.INVALID_ARGUMENT,
      /RSA key has 1024 bits/,
    ],
    [
      { csr: csr([WEB]), metadata: imp(WEB), validityDuration: 100 * 86400 },
      node1Token,
      grpc.status.INVALID_ARGUMENT,
      /over the maximum of 7776000 s/,
    ],
    [
      { csr: csr([WEB]) },
      'made-up',
      grpc.status.UNAUTHENTICATED,
      /not accepted by the Kubernetes API: token has expired/,
    ],
    [{ csr: csr([WEB]) }, undefined, grpc.status.UNAUTHENTICATED, /no credential/],
    [
      { csr: csr([WEB]) },
      'k8s-user',
      grpc.status.UNAUTHENTICATED,
      /belongs to "alice", not a service account/,
    ],
  ];
  const issued = async () =>
    (await service.registry.getSingleMetric('citadel_server_success_cert_issuance_count')?.get())?.values[0]
      ?.value ?? 0;
  const before = await issued();
  for (const [req, token, code, message] of cases) {
    const r = await raw(req, token);
    assert.ok(r.err, `refused: ${message}`);
    assert.equal(r.err.code, code, String(message));
    assert.match(r.err.details, message);
  }
  assert.equal(await issued(), before, 'nothing signed');
  const metrics = await service.registry.metrics();
  assert.match(metrics, /citadel_server_csr_sign_err_count\{reason="multiple_sans"\} 1/);
  assert.match(metrics, /citadel_server_csr_sign_err_count\{reason="weak_key"\} 1/);
});

function imp(uri: string): IstioCertificateRequest['metadata'] {
  return { fields: { ImpersonatedIdentity: { stringValue: uri } } };
}

test('Kubernetes TokenReview: a workload token gets its own identity; a node-bound ztunnel token impersonates on its node', async () => {
  const n = reviews.length;
  const web = await client('k8s-web', sid('app', 'web')).fetch(sid('app', 'web'));
  assert.deepEqual(verifyChain(web.chainPem, [...ca.rootsPem]).ok, true);
  const review = reviews[n]!;
  assert.equal(review.auth, 'Bearer istiod-own-token');
  assert.deepEqual(review.body.spec?.audiences, ['istio-ca']);
  await assert.rejects(
    client('k8s-web', sid('app', 'web')).fetch(sid('app', 'db')),
    /may only get a certificate for itself/,
  );
  const db = await client('k8s-zt-node2').fetch(sid('app', 'db'));
  assert.ok(db.chainPem.length > 0);
  await assert.rejects(client('k8s-zt-node2').fetch(sid('app', 'web')), /runs on node "node2"/);
});

test('on the mTLS port a caller is identified by its mesh certificate; one without a certificate uses its token', async () => {
  const bundle = ca.rootBundlePem();
  const noCert = new IdentityCaClient({
    address: `127.0.0.1:${mtlsPort}`,
    credentials: caChannelCredentials(bundle),
    token: node1Token,
    ownIdentity: ZTUNNEL,
  });
  opened.push(noCert);
  const web = await noCert.fetch(sid('app', 'web'));
  const withCert = new IdentityCaClient({
    address: `127.0.0.1:${mtlsPort}`,
    credentials: caChannelCredentials(bundle, {
      keyPem: web.keyPem,
      chainPem: joinPem(web.chainPem.slice(0, -1)),
    }),
    ownIdentity: sid('app', 'web'),
  });
  opened.push(withCert);
  const renewed = await withCert.fetch(sid('app', 'web'));
  assert.ok(verifyChain(renewed.chainPem, [...ca.rootsPem]).ok);
  await assert.rejects(withCert.fetch(sid('app', 'db')), /may only get a certificate for itself/);
});
