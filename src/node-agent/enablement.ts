/**
 * Which pods of a node the node agent puts in the ambient mesh (pure, Istio's rules): a pod labelled
 * `istio.io/dataplane-mode=ambient`, or a pod of a namespace labelled so (the short
 * `dataplane-mode=ambient` too) that is not labelled `none`; never host-network pods, pods with a
 * sidecar (`sidecar.istio.io/status`), pods of excluded namespaces, or pods not running (yet).
 */
export const DATAPLANE_MODE = 'istio.io/dataplane-mode';
export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';

export interface AgentPod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: { nodeName?: string; hostNetwork?: boolean; serviceAccountName?: string };
  status?: { phase?: string; podIP?: string };
}

const mode = (labels: Record<string, string> | undefined): string | undefined =>
  labels?.[DATAPLANE_MODE] ?? labels?.['dataplane-mode'];

export function podEnabled(
  pod: AgentPod,
  nsLabels: Record<string, string> | undefined,
  excluded: readonly string[],
): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  if (pod.spec.hostNetwork) return false;
  if (excluded.includes(pod.metadata.namespace)) return false;
  if (pod.metadata.annotations?.['sidecar.istio.io/status']) return false;
  if (pod.status?.phase !== 'Running' || !pod.status.podIP) return false;
  const own = mode(pod.metadata.labels);
  if (own === 'none') return false;
  return own === 'ambient' || mode(nsLabels) === 'ambient';
}
