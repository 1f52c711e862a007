/**
 * The injection webhook's HTTPS server on loopback, as the API server talks to it: TLS verified
 * against the mesh root for istiod.istio-system.svc; an AdmissionReview v1 or v1beta1 answered in
 * its own version with a JSON patch; other kinds and operations allowed untouched; unreadable
 * requests refused with 400 and a reason, wrong paths with 404; the certificate replaced after a root
 * rotation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { IstiodCa } from '../../../src/istiod/ca/istiod-ca.js';
import { InjectionWebhook } from '../../../src/istiod/inject/webhook-server.js';
import { Registry } from 'prom-client';

const SETTINGS = {
  image: 'meshlite/sidecar:test',
  xdsAddress: 'istiod.istio-system.svc:15010',
  trustDomain: 'cluster.local',
  clusterId: 'Kubernetes',
};

function post(port: number, ca: string, path: string, body: string) {
  return new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', ca, servername: 'istiod.istio-system.svc' },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const review = (apiVersion: string, request: Record<string, unknown>) =>
  JSON.stringify({ apiVersion, kind: 'AdmissionReview', request });

test('AdmissionReviews over verified TLS: v1 and v1beta1 patched, others allowed, bad ones refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshlite-webhook-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await IstiodCa.open({ trustDomain: 'cluster.local', dataDir: dir });
  const registry = new Registry();
  const hook = new InjectionWebhook({ ca, settings: SETTINGS, host: '127.0.0.1', port: 0, registry });
  const port = await hook.start();
  t.after(() => hook.stop());
  const root = ca.rootBundlePem();
  const pod = {
    metadata: { name: 'web-1', labels: { app: 'web' } },
    spec: { containers: [{ name: 'web' }] },
  };

  for (const v of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
    const r = await post(
      port,
      root,
      '/inject',
      review(v, { uid: 'u-1', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'demo', object: pod }),
    );
    assert.equal(r.status, 200);
    assert.equal(r.json.apiVersion, v, 'answered in the version asked');
    const res = r.json.response as { uid: string; allowed: boolean; patchType: string; patch: string };
    assert.deepEqual([res.uid, res.allowed, res.patchType], ['u-1', true, 'JSONPatch']);
    const ops = JSON.parse(Buffer.from(res.patch, 'base64').toString()) as Array<{ path: string }>;
    assert.ok(
      ops.some((o) => o.path === '/spec/containers/0'),
      'istio-proxy first',
    );
  }
  const update = await post(
    port,
    root,
    '/inject',
    review('admission.k8s.io/v1', { uid: 'u-2', kind: { kind: 'Pod' }, operation: 'UPDATE', object: pod }),
  );
  assert.deepEqual(update.json.response, { uid: 'u-2', allowed: true });

  const bad = await post(port, root, '/inject', '{not json');
  assert.equal(bad.status, 400);
  assert.match(String(bad.json.error), /not JSON/);
  const noUid = await post(port, root, '/inject', review('admission.k8s.io/v1', {}));
  assert.deepEqual([noUid.status, noUid.json.error], [400, 'request.uid is required']);
  const v2 = await post(port, root, '/inject', review('admission.k8s.io/v2', { uid: 'x' }));
  assert.match(String(v2.json.error), /is not one of admission\.k8s\.io\/v1, admission\.k8s\.io\/v1beta1/);
  assert.equal((await post(port, root, '/mutate', '{}')).status, 404);

  const metrics = await registry.getSingleMetricAsString('sidecar_injection_success_total');
  assert.match(metrics, /sidecar_injection_success_total 2/);

  // A root rotation: the next handshake presents a certificate from the new root.
  const presented = () =>
    new Promise<X509Certificate>((resolve, reject) => {
      const s = connect(
        { host: '127.0.0.1', port, servername: 'istiod.istio-system.svc', rejectUnauthorized: false },
        () => {
          resolve(s.getPeerX509Certificate()!);
          s.end();
        },
      );
      s.on('error', reject);
    });
  const before = await presented();
  await ca.rotateRoot();
  const now = await presented();
  assert.notEqual(now.fingerprint256, before.fingerprint256, 'a new certificate');
  assert.ok(now.verify(new X509Certificate(ca.authority.rootPem).publicKey), 'issued by the new root');
  const after = await post(
    port,
    ca.rootBundlePem(),
    '/inject',
    review('admission.k8s.io/v1', { uid: 'u-3', kind: { kind: 'Pod' }, operation: 'CREATE', object: pod }),
  );
  assert.equal(after.status, 200);
});
