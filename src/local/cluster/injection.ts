/**
 * Sidecar injection in the local cluster, as Istio's webhook and `istio-init` do it: which pods get a
 * sidecar (Istio's selectors and precedence), the `istio-proxy` container added first (the native
 * sidecar starts before the app), and the pod's capture rules.
 */
import type { Container, PodSpecIn } from './manifests.js';

const EXCLUDED_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease']);
export const INJECT_LABEL = 'sidecar.istio.io/inject';
export const NS_INJECTION_LABEL = 'istio-injection';
export const SIDECAR_STATUS = 'sidecar.istio.io/status';

/**
 * Istio's webhook selectors: a namespace labelled `istio-injection=enabled` (or `istio.io/rev`) injects
 * every pod but those labelled `sidecar.istio.io/inject=false`; in a namespace with neither label a pod
 * labelled `sidecar.istio.io/inject=true` (or `istio.io/rev`) is injected; `istio-injection=disabled`
 * injects nothing. Gateway and waypoint pods are never injected. A pod both ambient and injected is a
 * sidecar pod (ztunnel leaves it alone).
 */
export function wantsSidecar(
  namespace: string,
  podLabels: Record<string, string>,
  nsLabels: Record<string, string> | undefined,
): boolean {
  if (EXCLUDED_NAMESPACES.has(namespace)) return false;
  if (podLabels['gateway.networking.k8s.io/gateway-name'] || podLabels['istio.io/gateway-name']) return false;
  if (podLabels[INJECT_LABEL] === 'false') return false;
  const nsInj = nsLabels?.[NS_INJECTION_LABEL];
  if (nsInj === 'enabled') return true;
  if (nsInj !== undefined) return false;
  if (nsLabels?.['istio.io/rev'] !== undefined) return true;
  return podLabels[INJECT_LABEL] === 'true' || podLabels['istio.io/rev'] !== undefined;
}

export interface InjectContext {
  execPath: string;
  xdsAddress: string;
  tokenFile: string;
}

/** The `istio-proxy` container for a pod. */
export function sidecarContainer(p: PodSpecIn, ctx: InjectContext): Container {
  const l = p.labels;
  const app = l['service.istio.io/canonical-name'] ?? l['app.kubernetes.io/name'] ?? l.app ?? '';
  const version =
    l['service.istio.io/canonical-revision'] ?? l['app.kubernetes.io/version'] ?? l.version ?? '';
  return {
    name: 'istio-proxy',
    command: [ctx.execPath, '$(MESHLITE_DIST)/sidecar/main.js'],
    args: [
      '--pod-name',
      '$(POD_NAME)',
      '--namespace',
      p.namespace,
      '--pod-ip',
      '$(POD_IP)',
      '--service-account',
      p.serviceAccountName || 'default',
      '--workload',
      p.deployment ?? p.name,
      ...(app ? ['--app', app] : []),
      ...(version ? ['--version', version] : []),
      '--xds-address',
      ctx.xdsAddress,
      '--token-file',
      ctx.tokenFile,
    ],
    env: {},
    ports: [15001, 15006, 15008, 15020, 15021],
  };
}

/** The pod with its sidecar: `istio-proxy` first, the injection status recorded. */
export function inject(p: PodSpecIn, ctx: InjectContext): PodSpecIn {
  return {
    ...p,
    // Istio's mark of a sidecar that accepts HBONE on 15008 (ztunnels then tunnel to it directly).
    labels: { ...p.labels, 'networking.istio.io/tunnel': 'http' },
    containers: [sidecarContainer(p, ctx), ...p.containers.filter((c) => c.name !== 'istio-proxy')],
    annotations: {
      ...(p.annotations ?? {}),
      [SIDECAR_STATUS]: JSON.stringify({ containers: ['istio-proxy'], initContainers: ['istio-init'] }),
    },
    sidecar: true,
  };
}
