/**
 * What the L7 builders read from the configuration: Services by FQDN, their endpoints (selected,
 * running pods with their labels and identity), destination rules by host, and host-name resolution
 * as Istio does it (a short name resolves in the namespace of the object that names it).
 */
import { ReferenceGrants } from './reference-grants.js';
import type { ConfigStore } from '../config/store.js';
import type { DestinationRule, Pod, Service } from '../config/types.js';
import { appProtocolOf, serviceHostname } from '../model/service-builder.js';
import { AppProtocol } from '../../xds/workload-types.js';
import { canonicalNames, isAmbientEnrolled, isHboneSidecar, selects, workloadMeta } from '../model/labels.js';
import type { Endpoint, PortProtocol } from '../../l7/model.js';

export interface MeshViewOptions {
  trustDomain: string;
  domainSuffix: string;
  /** Sent to each waypoint as `tracing.samplingPercent` when set. */
  traceSampling?: number;
  /** Policies bound to the GatewayClass live here; default istio-system. */
  rootNamespace?: string;
}

export interface EndpointWithLabels extends Endpoint {
  labels: Record<string, string>;
}

export class MeshView {
  readonly byHost = new Map<string, Service>();
  readonly drByHost = new Map<string, DestinationRule[]>();
  private readonly podsByNs = new Map<string, Pod[]>();

  constructor(
    readonly store: ConfigStore,
    readonly opts: MeshViewOptions,
  ) {
    for (const s of store.list('Service')) this.byHost.set(this.fqdn(s), s);
    for (const p of store.list('Pod')) {
      const ns = p.metadata.namespace ?? 'default';
      let list = this.podsByNs.get(ns);
      if (!list) this.podsByNs.set(ns, (list = []));
      list.push(p);
    }
    for (const dr of store.list('DestinationRule')) {
      const host = this.resolveHost(dr.spec.host, dr.metadata.namespace ?? 'default');
      let list = this.drByHost.get(host);
      if (!list) this.drByHost.set(host, (list = []));
      list.push(dr);
    }
  }

  private grantsCache: ReferenceGrants | undefined;

  /** The ReferenceGrants of the store (built on first use). */
  get grants(): ReferenceGrants {
    return (this.grantsCache ??= new ReferenceGrants(this.store.list('ReferenceGrant')));
  }

  fqdn(s: Service): string {
    return serviceHostname(s.metadata.name, s.metadata.namespace ?? 'default', this.opts.domainSuffix);
  }

  /** `reviews` → `reviews.<ns>.svc.<suffix>`; `reviews.other` → `reviews.other.svc.<suffix>`; FQDNs as they are. */
  resolveHost(host: string, ns: string): string {
    if (host.includes('*')) return host;
    const parts = host.split('.');
    if (parts.length === 1) return serviceHostname(host, ns, this.opts.domainSuffix);
    if (parts.length === 2) return `${host}.svc.${this.opts.domainSuffix}`;
    return host;
  }

  /** Running pods selected by the Service that expose the port, with where to reach them. */
  endpoints(s: Service, port: number): EndpointWithLabels[] {
    const sel = s.spec?.selector;
    if (!sel || Object.keys(sel).length === 0) return [];
    const ns = s.metadata.namespace ?? 'default';
    const sp = (s.spec?.ports ?? []).find((p) => p.port === port);
    if (!sp) return [];
    const nsLabels = this.store.get('Namespace', undefined, ns)?.metadata.labels;
    const out: EndpointWithLabels[] = [];
    for (const pod of this.podsByNs.get(ns) ?? []) {
      const labels = pod.metadata.labels ?? {};
      if (!selects(sel, labels)) continue;
      const ip = pod.status?.podIP ?? pod.status?.podIPs?.[0]?.ip;
      if (!ip || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
      const target = targetPort(sp.targetPort, sp.port, pod);
      if (target === undefined) continue;
      const hbone = isAmbientEnrolled(pod as never, nsLabels) || isHboneSidecar(pod as never);
      const sa = pod.spec?.serviceAccountName || 'default';
      const wl = workloadMeta(pod as never).workloadName;
      const canon = canonicalNames(labels, wl);
      out.push({
        ip,
        port: target,
        identity: hbone ? `spiffe://${this.opts.trustDomain}/ns/${ns}/sa/${sa}` : '',
        hbone,
        workload: wl,
        namespace: ns,
        app: canon.name,
        version: canon.revision,
        labels,
      });
    }
    return out.sort((a, b) => a.ip.localeCompare(b.ip));
  }
}

function targetPort(tp: number | string | undefined, port: number, pod: Pod): number | undefined {
  if (tp === undefined) return port;
  if (typeof tp === 'number') return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  for (const c of pod.spec?.containers ?? [])
    for (const cp of c.ports ?? []) if (cp.name === tp) return cp.containerPort;
  return undefined;
}

/** The L7 protocol of a Service port, from appProtocol or the port name (Istio's rules). */
export function portProtocol(p: { name?: string; appProtocol?: string; port: number }): PortProtocol {
  switch (appProtocolOf(p)) {
    case AppProtocol.HTTP11:
      return 'http';
    case AppProtocol.HTTP2:
      return 'http2';
    case AppProtocol.GRPC:
      return 'grpc';
    case AppProtocol.TCP:
      return 'tcp';
    case AppProtocol.TLS:
      return 'tls';
    default:
      // Istio never sniffs these server-first ports.
      return [25, 53, 3306, 27017].includes(p.port) ? 'tcp' : 'unknown';
  }
}
