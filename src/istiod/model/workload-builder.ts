import type { PodObj } from './inputs.js';
import { ipToBytes } from './ip.js';
import { canonicalNames, workloadMeta } from './labels.js';
import type { BuildContext } from './service-builder.js';
import {
  TunnelProtocol,
  WorkloadStatus,
  type GatewayAddress,
  type PortList,
  type Workload,
} from '../../xds/workload-types.js';

/** What the index works out about a pod from other objects. */
export interface PodRelations {
  /** In the ambient mesh (captured by ztunnel): HBONE; otherwise plaintext (NONE). */
  enrolled: boolean;
  /** One of a waypoint's own pods: speaks HBONE itself and never gets a waypoint. */
  waypointPod: boolean;
  /** A sidecar-injected pod: its proxy terminates HBONE on the pod's 15008 (native tunnel). */
  sidecar?: boolean;
  waypoint?: GatewayAddress;
  services: Record<string, PortList>;
  authorizationPolicies: string[];
}

/** A Workload as the builders make it: the uid (its xDS name) is always set. */
export type BuiltWorkload = Workload & { uid: string };

/** The xDS name of a pod's Workload: `<cluster>//Pod/<namespace>/<name>`. */
export function podUid(clusterId: string, namespace: string, name: string): string {
  return `${clusterId}//Pod/${namespace}/${name}`;
}

function isReady(pod: PodObj): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Addresses from `status.podIPs` (else `status.podIP`) as raw bytes; unparsable entries are skipped. */
function podAddresses(pod: PodObj): Uint8Array[] {
  const ips = pod.status?.podIPs?.length
    ? pod.status.podIPs.map((p) => p.ip)
    : pod.status?.podIP
      ? [pod.status.podIP]
      : [];
  const out: Uint8Array[] = [];
  for (const ip of ips) {
    const b = ipToBytes(ip);
    if (b) out.push(b);
  }
  return out;
}

/** A pod → its Workload resource. */
export function buildPodWorkload(pod: PodObj, ctx: BuildContext, rel: PodRelations): BuiltWorkload {
  const namespace = pod.metadata.namespace ?? 'default';
  const meta = workloadMeta(pod);
  const canonical = canonicalNames(pod.metadata.labels, meta.workloadName);
  const addresses = podAddresses(pod);
  const hbone = rel.enrolled || rel.waypointPod || rel.sidecar === true;
  const w: BuiltWorkload = {
    uid: podUid(ctx.clusterId, namespace, pod.metadata.name),
    name: pod.metadata.name,
    namespace,
    addresses,
    network: ctx.network,
    tunnelProtocol: hbone ? TunnelProtocol.HBONE : TunnelProtocol.NONE,
    trustDomain: ctx.trustDomain,
    serviceAccount: pod.spec?.serviceAccountName || 'default',
    node: pod.spec?.nodeName ?? '',
    canonicalName: canonical.name,
    canonicalRevision: canonical.revision,
    workloadType: meta.workloadType,
    workloadName: meta.workloadName,
    services: rel.services,
    authorizationPolicies: rel.authorizationPolicies,
    status: addresses.length > 0 && isReady(pod) ? WorkloadStatus.HEALTHY : WorkloadStatus.UNHEALTHY,
    clusterId: ctx.clusterId,
  };
  if (rel.waypointPod || rel.sidecar) w.nativeTunnel = true;
  if (rel.waypoint && rel.enrolled && !rel.waypointPod) w.waypoint = rel.waypoint;
  return w;
}
