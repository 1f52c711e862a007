/**
 * Installs and uninstalls the rendered objects through the Kubernetes API with server-side apply
 * (field manager `meshctl`, forced: the install owns the fields it sets), CRDs first and waited for,
 * GatewayClasses only where the Gateway API CRDs are served.
 */
import { fetch } from 'undici';
import {
  ApiextensionsV1Api,
  HttpMethod,
  KubernetesObjectApi,
  RequestContext,
  VersionApi,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { MeshError } from '../../common/errors.js';
import { KubeHttpError, kubeError, serverOf, statusOf } from '../../istiod/config/kube-client.js';
import { gatewayApiCrdsForTests } from './crds.js';
import { NAMESPACE, type KubeObject } from './objects.js';
import { renderInstall } from './render.js';
import { parseKubeVersion, type KubeTarget } from './target.js';
import type { InstallValues } from './values.js';

export const FIELD_MANAGER = 'meshctl';
const GATEWAY_CLASS_CRD = 'gatewayclasses.gateway.networking.k8s.io';

export interface InstallOptions {
  /** Install a minimal Gateway API CRD set (test environments) where none is served. */
  gatewayApiCrds?: boolean;
  /** How long to wait for each CRD to be Established (default 60 s). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

const describe = (o: KubernetesObject) =>
  `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;

/** The API server's version, as the target the manifests are rendered for. */
export async function clusterTarget(kc: KubeConfig): Promise<KubeTarget> {
  try {
    const v = await kc.makeApiClient(VersionApi).getCode();
    return parseKubeVersion(v.major, v.minor);
  } catch (err) {
    throw kubeError(err, 'GET /version (is the cluster reachable with this kubeconfig?)');
  }
}

/** REST collection of each kind the install applies: (group/version, plural, namespaced). */
const REST: Record<string, [string, boolean]> = {
  Namespace: ['namespaces', false],
  ServiceAccount: ['serviceaccounts', true],
  Service: ['services', true],
  ConfigMap: ['configmaps', true],
  Deployment: ['deployments', true],
  DaemonSet: ['daemonsets', true],
  PodDisruptionBudget: ['poddisruptionbudgets', true],
  ClusterRole: ['clusterroles', false],
  ClusterRoleBinding: ['clusterrolebindings', false],
  Role: ['roles', true],
  RoleBinding: ['rolebindings', true],
  CustomResourceDefinition: ['customresourcedefinitions', false],
  GatewayClass: ['gatewayclasses', false],
  MutatingWebhookConfiguration: ['mutatingwebhookconfigurations', false],
};

/** The object's REST path, e.g. /apis/apps/v1/namespaces/istio-system/daemonsets/ztunnel. */
export function restPath(o: KubeObject): string {
  const rest = REST[o.kind];
  if (!rest) throw new MeshError('KUBE_ERR_KIND', `${o.kind}: not a kind meshctl install applies`);
  const [plural, namespaced] = rest;
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = namespaced ? `/namespaces/${o.metadata.namespace ?? 'default'}` : '';
  return `${base}${ns}/${plural}/${o.metadata.name}`;
}

/**
 * Server-side apply of the object as JSON, exactly as rendered. (client-node's typed clients pass
 * objects through its models, which drop what they do not name: a CRD's
 * `x-kubernetes-preserve-unknown-fields` was lost that way, and every custom object came back with
 * an empty spec.)
 */
async function serverSideApply(kc: KubeConfig, o: KubeObject): Promise<void> {
  const path = `${restPath(o)}?fieldManager=${FIELD_MANAGER}&force=true`;
  const ctx = new RequestContext(serverOf(kc).replace(/\/$/, '') + path, HttpMethod.PATCH);
  ctx.setHeaderParam('Content-Type', 'application/apply-patch+yaml');
  ctx.setHeaderParam('Accept', 'application/json');
  await kc.applySecurityAuthentication(ctx);
  let res;
  try {
    res = await fetch(ctx.getUrl(), {
      method: 'PATCH',
      headers: ctx.getHeaders(),
      body: JSON.stringify(o),
      dispatcher: ctx.getDispatcher(),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw kubeError(err, `PATCH ${path}`);
  }
  const text = await res.text();
  if (res.status >= 300) {
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON: the text itself
    }
    throw new KubeHttpError(res.status, `HTTP ${res.status}: ${message}`);
  }
}

async function applyAll(kc: KubeConfig, objects: readonly KubeObject[], log: (l: string) => void) {
  for (const o of objects) {
    try {
      await serverSideApply(kc, o);
    } catch (err) {
      throw kubeError(err, `apply ${describe(o)}`);
    }
    log(`applied ${describe(o)}`);
  }
}

async function crdExists(kc: KubeConfig, name: string): Promise<boolean> {
  try {
    await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name });
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw kubeError(err, `GET CustomResourceDefinition ${name}`);
  }
}

/** Waits until every named CRD has condition Established=True. */
export async function waitEstablished(
  kc: KubeConfig,
  names: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name }).catch(() => undefined);
      const ok = crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      if (ok) break;
      if (Date.now() > deadline)
        throw new MeshError(
          'KUBE_ERR_CRD',
          `CustomResourceDefinition ${name} was not Established after ${timeoutMs} ms; check \`kubectl describe crd ${name}\``,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Applies the install to the cluster of `kc`, rendered for its version. Returns the target used. */
export async function install(
  kc: KubeConfig,
  v: InstallValues,
  opts: InstallOptions = {},
): Promise<KubeTarget> {
  const log = opts.log ?? (() => undefined);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const target = await clusterTarget(kc);
  log(`Kubernetes ${target.major}.${target.minor}`);
  const r = renderInstall(v, target);
  await applyAll(kc, r.crds, log);
  await waitEstablished(
    kc,
    r.crds.map((c) => c.metadata.name),
    timeoutMs,
  );
  await applyAll(kc, r.mesh, log);
  let gatewayApi = await crdExists(kc, GATEWAY_CLASS_CRD);
  if (!gatewayApi && opts.gatewayApiCrds) {
    const crds = gatewayApiCrdsForTests(target);
    await applyAll(kc, crds, log);
    await waitEstablished(
      kc,
      crds.map((c) => c.metadata.name),
      timeoutMs,
    );
    gatewayApi = true;
  }
  if (gatewayApi) await applyAll(kc, r.gatewayClasses, log);
  else
    log(
      'skipped the GatewayClasses: the Gateway API CRDs are not installed (apply them, then run meshctl install again)',
    );
  return target;
}

export interface UninstallOptions {
  /** Also delete the Istio CRDs (and every object of them), the test Gateway API CRDs and the root ConfigMaps. */
  purge?: boolean;
  /** Wait until the objects are gone (the namespace's finalizers run; default true). */
  wait?: boolean;
  timeoutMs?: number;
  log?: (line: string) => void;
}

async function deleteIfPresent(client: KubernetesObjectApi, o: KubernetesObject, log: (l: string) => void) {
  try {
    await client.delete(o, undefined, undefined, undefined, undefined, 'Background');
    log(`deleted ${describe(o)}`);
  } catch (err) {
    if (statusOf(err) !== 404) throw kubeError(err, `delete ${describe(o)}`);
  }
}

async function gone(client: KubernetesObjectApi, o: KubernetesObject): Promise<boolean> {
  try {
    await client.read(o as KubernetesObject & { metadata: { name: string } });
    return false;
  } catch (err) {
    if (statusOf(err) === 404) return true;
    throw kubeError(err, `GET ${describe(o)}`);
  }
}

/**
 * Deletes what install applied, in reverse order. The Istio CRDs stay (as Istio's do) unless `purge`;
 * with `purge` the istio-ca-root-cert ConfigMaps istiod wrote and test-only Gateway API CRDs go too.
 */
export async function uninstall(
  kc: KubeConfig,
  v: InstallValues,
  opts: UninstallOptions = {},
): Promise<void> {
  const log = opts.log ?? (() => undefined);
  const target = await clusterTarget(kc);
  const r = renderInstall(v, target);
  const client = KubernetesObjectApi.makeApiClient(kc);
  const doomed: KubernetesObject[] = [...r.gatewayClasses, ...[...r.mesh].reverse()];
  if (opts.purge) {
    doomed.push(...r.crds);
    const testCrds = gatewayApiCrdsForTests(target);
    for (const c of testCrds) {
      const live = await kc
        .makeApiClient(ApiextensionsV1Api)
        .readCustomResourceDefinition({ name: c.metadata.name })
        .catch(() => undefined);
      if (live?.metadata?.annotations?.['meshlite.dev/test-only'] === 'true') doomed.push(c);
    }
  }
  const gatewayApi = await crdExists(kc, GATEWAY_CLASS_CRD);
  for (const o of doomed) {
    if (o.kind === 'GatewayClass' && !gatewayApi) continue;
    // Objects in istio-system go with the namespace; deleting them first keeps the order explicit.
    await deleteIfPresent(client, o, log);
  }
  if (opts.purge) await deleteRootConfigMaps(kc, log);
  if (opts.wait ?? true) {
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    for (const o of doomed) {
      if (o.kind === 'GatewayClass' && !gatewayApi) continue;
      while (!(await gone(client, o))) {
        if (Date.now() > deadline)
          throw new MeshError(
            'KUBE_ERR_UNINSTALL',
            `${describe(o)} is still there; check its finalizers (namespace ${NAMESPACE}: \`kubectl get ns ${NAMESPACE} -o yaml\`)`,
          );
        await new Promise((res) => setTimeout(res, 250));
      }
    }
  }
}

async function deleteRootConfigMaps(kc: KubeConfig, log: (l: string) => void): Promise<void> {
  const { CoreV1Api } = await import('@kubernetes/client-node');
  const core = kc.makeApiClient(CoreV1Api);
  const list = await core.listConfigMapForAllNamespaces({
    fieldSelector: 'metadata.name=istio-ca-root-cert',
  });
  for (const cm of list.items) {
    const namespace = cm.metadata!.namespace!;
    await core.deleteNamespacedConfigMap({ name: 'istio-ca-root-cert', namespace }).catch((err: unknown) => {
      if (statusOf(err) !== 404) throw kubeError(err, `delete ConfigMap ${namespace}/istio-ca-root-cert`);
    });
    log(`deleted ConfigMap ${namespace}/istio-ca-root-cert`);
  }
}
