import type { PodObj } from './inputs.js';
import { WorkloadType } from '../../xds/workload-types.js';

/** Label and annotation keys the index reads (Istio's names). */
export const L = {
  dataplaneMode: 'istio.io/dataplane-mode',
  dataplaneModeShort: 'dataplane-mode',
  useWaypoint: 'istio.io/use-waypoint',
  useWaypointNamespace: 'istio.io/use-waypoint-namespace',
  waypointFor: 'istio.io/waypoint-for',
  gatewayName: 'gateway.networking.k8s.io/gateway-name',
  istioGatewayName: 'istio.io/gateway-name',
  sidecarStatus: 'sidecar.istio.io/status',
  tlsMode: 'security.istio.io/tlsMode',
  tunnel: 'networking.istio.io/tunnel',
  canonicalName: 'service.istio.io/canonical-name',
  canonicalRevision: 'service.istio.io/canonical-revision',
  podTemplateHash: 'pod-template-hash',
} as const;

type Labels = Record<string, string> | undefined;

/** True when every key/value of `selector` is in `labels`. An empty selector selects nothing here. */
export function selects(selector: Labels, labels: Labels): boolean {
  if (!selector) return false;
  let any = false;
  for (const k in selector) {
    any = true;
    if (labels?.[k] !== selector[k]) return false;
  }
  return any;
}

export function hasSelector(selector: Labels): selector is Record<string, string> {
  if (!selector) return false;
  for (const _ in selector) return true;
  return false;
}

function dataplaneMode(labels: Labels): string | undefined {
  return labels?.[L.dataplaneMode] ?? labels?.[L.dataplaneModeShort];
}

/** The sidecar-injected test: injection status annotation, or the tlsMode label with an istio-proxy. */
export function isSidecarPod(pod: PodObj): boolean {
  if (pod.metadata.annotations?.[L.sidecarStatus] !== undefined) return true;
  if (pod.metadata.labels?.[L.tlsMode] !== 'istio') return false;
  return (pod.spec?.containers ?? []).some((c) => c.name === 'istio-proxy');
}

/**
 * A sidecar that terminates HBONE itself on the pod's 15008 (Istio's `networking.istio.io/tunnel: http`
 * label on an injected pod): a native-tunnel HBONE workload, which ztunnels tunnel to directly.
 */
export function isHboneSidecar(pod: PodObj): boolean {
  return isSidecarPod(pod) && pod.metadata.labels?.[L.tunnel] === 'http';
}

/**
 * Whether a pod is captured by the ambient data plane: labelled (itself or its namespace) with
 * `istio.io/dataplane-mode=ambient` (or `dataplane-mode=ambient`), not opted out by the pod label
 * `=none`, not a sidecar pod and not a host-network pod.
 */
export function isAmbientEnrolled(pod: PodObj, namespaceLabels: Labels): boolean {
  if (pod.spec?.hostNetwork) return false;
  if (isSidecarPod(pod)) return false;
  const podMode = dataplaneMode(pod.metadata.labels);
  if (podMode === 'none') return false;
  if (podMode === 'ambient') return true;
  return dataplaneMode(namespaceLabels) === 'ambient';
}

export interface WorkloadMeta {
  workloadName: string;
  workloadType: WorkloadType;
}

/** The owning workload of a pod: a Deployment (ReplicaSet hash stripped), a CronJob, a Job, else the pod. */
export function workloadMeta(pod: PodObj): WorkloadMeta {
  const name = pod.metadata.name;
  const hash = pod.metadata.labels?.[L.podTemplateHash];
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller !== false);
  if (owner) {
    if (owner.kind === 'ReplicaSet') {
      const base = stripHash(owner.name, hash);
      if (base !== undefined) return { workloadName: base, workloadType: WorkloadType.DEPLOYMENT };
      return { workloadName: owner.name, workloadType: WorkloadType.POD };
    }
    if (owner.kind === 'Job') {
      // A CronJob's jobs are named <cronjob>-<schedule time in minutes>.
      const m = /^(.+)-\d{8,}$/.exec(owner.name);
      if (m) return { workloadName: m[1]!, workloadType: WorkloadType.CRONJOB };
      return { workloadName: owner.name, workloadType: WorkloadType.JOB };
    }
    return { workloadName: owner.name, workloadType: WorkloadType.POD };
  }
  // No owner recorded (e.g. objects from YAML files): a Deployment's pod is <deploy>-<hash>-<suffix>.
  if (hash) {
    const m = /^(.+)-[a-z0-9]{5}$/.exec(name);
    const base = m ? stripHash(m[1]!, hash) : undefined;
    if (base !== undefined) return { workloadName: base, workloadType: WorkloadType.DEPLOYMENT };
  }
  return { workloadName: name, workloadType: WorkloadType.POD };
}

function stripHash(rsName: string, hash: string | undefined): string | undefined {
  if (hash && rsName.endsWith(`-${hash}`)) return rsName.slice(0, -hash.length - 1);
  if (!hash) {
    const m = /^(.+)-[a-z0-9]{6,10}$/.exec(rsName);
    if (m) return m[1];
  }
  return undefined;
}

/** Istio's canonical service name and revision from labels, falling back to the workload name / `latest`. */
export function canonicalNames(labels: Labels, workloadName: string): { name: string; revision: string } {
  const name =
    labels?.[L.canonicalName] ?? labels?.['app.kubernetes.io/name'] ?? labels?.['app'] ?? workloadName;
  const revision =
    labels?.[L.canonicalRevision] ?? labels?.['app.kubernetes.io/version'] ?? labels?.['version'] ?? 'latest';
  return { name, revision };
}
