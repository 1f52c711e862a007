import type { PeerInfo } from './telemetry/metrics.js';
import type { Workload } from './state/types.js';

/** Metric labels of a workload (or of an identity only, when the peer is not in our state). */
export function peerOf(w: Workload | undefined, principal?: string, clusterId?: string): PeerInfo {
  if (!w) return { principal, cluster: clusterId };
  return {
    workload: w.workloadName || w.name,
    namespace: w.namespace,
    canonicalService: w.canonicalName || undefined,
    canonicalRevision: w.canonicalRevision || undefined,
    principal: principal ?? w.identityUri,
    cluster: w.clusterId || clusterId,
  };
}
