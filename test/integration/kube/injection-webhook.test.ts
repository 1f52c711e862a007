/**
 * Sidecar injection against a real API server: istiod's webhook (HTTPS on loopback, certificate from
 * its CA) is registered with the shipped MutatingWebhookConfiguration's selectors (its clientConfig
 * pointed at the loopback URL: there is no Service routing here); istiod patches the caBundle; the API
 * server calls the webhook when a pod is created, and the stored pod has its sidecar, per Istio's
 * selectors. Also: AdmissionReview v1beta1, the caBundle put back after a reset, and failurePolicy
 * Fail vs Ignore when the webhook is down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { KubeControlPlane, controlPlaneProblem } from '../../../src/kube/control-plane.js';
import { loadKubeConfig, requestJson, statusOf } from '../../../src/istiod/config/kube-client.js';
import { IstiodCa } from '../../../src/istiod/ca/istiod-ca.js';
import { createRootCa } from '../../../src/pki/ca.js';
import { InjectionWebhook } from '../../../src/istiod/inject/webhook-server.js';
import { CaBundlePatcher } from '../../../src/istiod/inject/ca-bundle-patcher.js';
import { injectorWebhookConfig } from '../../../src/kube/install/istiod-objects.js';
import { loadValues } from '../../../src/kube/install/values.js';
import { waitFor } from '../istiod/config/helpers/wait-for.js';

const problem = controlPlaneProblem();
if (problem) console.log(`# skipping the injection webhook tests: ${problem}`);

let plane: Promise<KubeControlPlane> | undefined;
test.after(async () => {
  await (await plane?.catch(() => undefined))?.stop();
});

const MWC_PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-sidecar-injector';
type Mwc = {
  metadata: { resourceVersion?: string };
  webhooks: Array<{
    clientConfig: { url?: string; service?: unknown; caBundle?: string };
    failurePolicy: string;
    admissionReviewVersions: string[];
  }>;
};

test(
  'the API server calls istiod’s webhook: pods of an istio-injection=enabled namespace get their sidecar, others not',
  { skip: problem },
  async (t) => {
    plane ??= KubeControlPlane.start();
    const cp = await plane;
    const kc = loadKubeConfig(cp.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const ca = IstiodCa.fromAuthority(createRootCa());
    const settings = {
      image: 'meshlite/sidecar:test',
      xdsAddress: 'istiod.istio-system.svc:15010',
      trustDomain: 'cluster.local',
      clusterId: 'Kubernetes',
    };
    // The API server dials the URL's host name: localhost, in the certificate with Istio's names.
    const dnsNames = ['istiod.istio-system.svc', 'localhost'];
    let webhook = new InjectionWebhook({ ca, settings, host: '127.0.0.1', port: 0, dnsNames });
    const port = await webhook.start();
    t.after(() => webhook.stop());
    const cert = new X509Certificate(webhook.certificatePem.split(/(?<=-----END CERTIFICATE-----)/)[0]!);
    assert.match(cert.subjectAltName ?? '', /DNS:istiod\.istio-system\.svc/);
    assert.ok(cert.verify(new X509Certificate(ca.rootsPem[0]!).publicKey), 'issued by the mesh CA');

    // The shipped configuration, pointed at the loopback webhook, without a caBundle.
    const mwc = injectorWebhookConfig(loadValues()) as unknown as Mwc;
    for (const w of mwc.webhooks) w.clientConfig = { url: `https://localhost:${port}/inject` };
    await requestJson(kc, 'POST', MWC_PATH.slice(0, MWC_PATH.lastIndexOf('/')), mwc);
    const patcher = new CaBundlePatcher({ kubeConfig: kc, ca, backoffMs: { initial: 100, max: 1000 } });
    patcher.start();
    t.after(() => patcher.stop());
    const bundles = async () =>
      (await requestJson<Mwc>(kc, 'GET', MWC_PATH)).webhooks.map((w) => w.clientConfig.caBundle);
    await waitFor(
      'the caBundle patched',
      async () => (await bundles()).every((b) => b === patcher.wanted),
      30_000,
    );

    for (const [name, labels] of [
      ['inject-on', { 'istio-injection': 'enabled' }],
      ['inject-off', {}],
    ] as const)
      await core.createNamespace({ body: { metadata: { name, labels } } });
    const createPod = (namespace: string, name: string, labels: Record<string, string> = {}) =>
      createWithRetry(core, namespace, {
        metadata: { name, labels: { app: 'web', ...labels } },
        spec: { containers: [{ name: 'web', image: 'meshlite/sample' }] },
      });
    const names = (p: V1Pod) => (p.spec?.containers ?? []).map((c) => c.name);

    const injected = await createPod('inject-on', 'web-1');
    assert.deepEqual(names(injected), ['istio-proxy', 'web']);
    const stored = await core.readNamespacedPod({ namespace: 'inject-on', name: 'web-1' });
    assert.deepEqual(names(stored), ['istio-proxy', 'web'], 'the stored pod has the sidecar');
    assert.deepEqual(
      (stored.spec?.initContainers ?? []).map((c) => c.name),
      ['istio-init'],
    );
    assert.equal(stored.metadata?.labels?.['networking.istio.io/tunnel'], 'http');
    assert.ok(stored.metadata?.annotations?.['sidecar.istio.io/status']);
    const token = stored.spec?.volumes?.find((v) => v.name === 'istio-token');
    assert.equal(token?.projected?.sources?.[0]?.serviceAccountToken?.audience, 'istio-ca');
    assert.equal(stored.spec?.serviceAccountName, 'default', 'the identity the sidecar asks the CA for');

    assert.deepEqual(
      names(await createPod('inject-off', 'plain')),
      ['web'],
      'unlabelled namespace: no sidecar',
    );
    assert.deepEqual(
      names(await createPod('inject-off', 'opted-in', { 'sidecar.istio.io/inject': 'true' })),
      ['istio-proxy', 'web'],
      'a pod labelled sidecar.istio.io/inject=true in an unlabelled namespace',
    );
    assert.deepEqual(
      names(await createPod('inject-on', 'opted-out', { 'sidecar.istio.io/inject': 'false' })),
      ['web'],
      'sidecar.istio.io/inject=false',
    );

    // An API server that speaks only v1beta1 AdmissionReviews.
    const v1beta1 = await requestJson<Mwc>(kc, 'GET', MWC_PATH);
    for (const w of v1beta1.webhooks) w.admissionReviewVersions = ['v1beta1'];
    await requestJson(kc, 'PUT', MWC_PATH, v1beta1);
    assert.deepEqual(names(await createPod('inject-on', 'web-beta')), ['istio-proxy', 'web'], 'v1beta1');

    // Someone resets the caBundle: istiod puts it back.
    const reset = await requestJson<Mwc>(kc, 'GET', MWC_PATH);
    for (const w of reset.webhooks) delete w.clientConfig.caBundle;
    await requestJson(kc, 'PUT', MWC_PATH, reset);
    await waitFor(
      'the caBundle put back',
      async () => (await bundles()).every((b) => b === patcher.wanted),
      30_000,
    );

    // The webhook down: failurePolicy Fail refuses the pod, Ignore creates it without a sidecar.
    await webhook.stop();
    await assert.rejects(createPod('inject-on', 'while-down'), (err: unknown) => {
      assert.equal(statusOf(err), 500);
      assert.match(String((err as { body?: unknown }).body), /failed calling webhook/);
      return true;
    });
    const ignore = await requestJson<Mwc>(kc, 'GET', MWC_PATH);
    for (const w of ignore.webhooks) w.failurePolicy = 'Ignore';
    await requestJson(kc, 'PUT', MWC_PATH, ignore);
    assert.deepEqual(names(await createPod('inject-on', 'while-down')), ['web'], 'Ignore: no sidecar');

    // Back up on the same port: injected again.
    webhook = new InjectionWebhook({ ca, settings, host: '127.0.0.1', port, dnsNames });
    await webhook.start();
    assert.deepEqual(names(await createPod('inject-on', 'web-2')), ['istio-proxy', 'web']);
  },
);

/**
 * Until the token controller has given the namespace's default service account its token, Kubernetes
 * 1.20 answers 500 "No API token found ... retry after" (and 403 before the account exists): retry.
 */
async function createWithRetry(core: CoreV1Api, namespace: string, body: V1Pod): Promise<V1Pod> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await core.createNamespacedPod({ namespace, body });
    } catch (err) {
      const e = err as { code?: number; body?: string };
      const early =
        (e.code === 500 && /retry after/i.test(String(e.body))) ||
        (e.code === 403 && /serviceaccount/i.test(String(e.body)));
      if (!early || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
