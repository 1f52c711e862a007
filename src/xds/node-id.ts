/**
 * xDS node ids of the form `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`
 * (ztunnel: `ztunnel~10.0.0.5~ztunnel-abcde.istio-system~istio-system.svc.cluster.local`).
 */
export interface NodeId {
  /** `ztunnel`, `sidecar`, `router`, ... */
  type: string;
  ip: string;
  podName: string;
  namespace: string;
  /** The DNS domain part, e.g. `istio-system.svc.cluster.local`. */
  domain: string;
}

export type NodeIdResult = { ok: true; node: NodeId } | { ok: false; error: string };

/** Parses a node id; a malformed one is a value with an error saying what form was expected. */
export function parseNodeId(id: string): NodeIdResult {
  const parts = id.split('~');
  const [type, ip, podDotNs, domain] = parts;
  if (parts.length !== 4 || !type || !ip || !podDotNs || !domain) {
    return {
      ok: false,
      error: `node id "${id}" is not of the form <type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`,
    };
  }
  const dot = podDotNs.indexOf('.');
  const podName = dot >= 0 ? podDotNs.slice(0, dot) : podDotNs;
  const namespace = dot >= 0 ? podDotNs.slice(dot + 1) : (domain.split('.')[0] ?? '');
  return { ok: true, node: { type, ip, podName, namespace, domain } };
}

/** Builds a node id; `clusterDomain` defaults to cluster.local. */
export function formatNodeId(
  type: string,
  ip: string,
  podName: string,
  namespace: string,
  clusterDomain = 'cluster.local',
): string {
  return `${type}~${ip}~${podName}.${namespace}~${namespace}.svc.${clusterDomain}`;
}
