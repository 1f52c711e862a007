/**
 * Which pods get a sidecar, as Istio's injection webhook decides it; shared by the local cluster (which
 * injects itself) and istiod's webhook on Kubernetes (where the API server has already matched the
 * namespace selectors of the MutatingWebhookConfiguration, and the webhook checks the pod).
 */

export const INJECT_LABEL = 'sidecar.istio.io/inject';
export const NS_INJECTION_LABEL = 'istio-injection';
export const SIDECAR_STATUS = 'sidecar.istio.io/status';
/** Istio's mark of a sidecar that accepts HBONE on 15008 (ztunnels then tunnel to it directly). */
export const TUNNEL_LABEL = 'networking.istio.io/tunnel';

const EXCLUDED_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

/**
 * Why the pod itself is never injected, whatever its namespace says: Kubernetes' own namespaces,
 * gateway and waypoint pods, `sidecar.istio.io/inject=false`, host-network pods, pods already
 * injected. Undefined when the pod may be injected.
 */
export function podExcluded(
  namespace: string,
  podLabels: Record<string, string>,
  more: { annotations?: Record<string, string>; hostNetwork?: boolean } = {},
): string | undefined {
  if (EXCLUDED_NAMESPACES.has(namespace)) return `namespace ${namespace} is never injected`;
  if (podLabels['gateway.networking.k8s.io/gateway-name'] || podLabels['istio.io/gateway-name'])
    return 'a gateway or waypoint pod';
  if (podLabels[INJECT_LABEL] === 'false') return `label ${INJECT_LABEL}=false`;
  if (more.hostNetwork) return 'a host-network pod';
  if (more.annotations?.[SIDECAR_STATUS] !== undefined) return 'already injected';
  return undefined;
}

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
  if (podExcluded(namespace, podLabels) !== undefined) return false;
  const nsInj = nsLabels?.[NS_INJECTION_LABEL];
  if (nsInj === 'enabled') return true;
  if (nsInj !== undefined) return false;
  if (nsLabels?.['istio.io/rev'] !== undefined) return true;
  return podLabels[INJECT_LABEL] === 'true' || podLabels['istio.io/rev'] !== undefined;
}

/** The `sidecar.istio.io/status` annotation's value (Istio's JSON shape). */
export function sidecarStatus(s: {
  containers: string[];
  initContainers: string[];
  volumes: string[];
}): string {
  return JSON.stringify({
    initContainers: s.initContainers,
    containers: s.containers,
    volumes: s.volumes,
    imagePullSecrets: null,
    revision: 'default',
  });
}

/** The canonical service and revision of a pod (Istio's label precedence). */
export function canonicalNames(labels: Record<string, string>, fallbackName: string) {
  return {
    app:
      labels['service.istio.io/canonical-name'] ??
      labels['app.kubernetes.io/name'] ??
      labels.app ??
      fallbackName,
    version:
      labels['service.istio.io/canonical-revision'] ??
      labels['app.kubernetes.io/version'] ??
      labels.version ??
      'latest',
  };
}
