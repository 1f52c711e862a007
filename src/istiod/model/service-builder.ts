import type { PodObj, ServiceEntryObj, ServiceObj, ServicePort } from './inputs.js';
import type { BuiltWorkload } from './workload-builder.js';
import { cidrToMatch, ipToBytes } from './ip.js';
import { canonicalNames } from './labels.js';
import {
  AppProtocol,
  TunnelProtocol,
  WorkloadStatus,
  WorkloadType,
  type GatewayAddress,
  type NetworkAddress,
  type Port,
  type Service,
} from '../../xds/workload-types.js';

/** What the builders need from the index's configuration. */
export interface BuildContext {
  clusterId: string;
  network: string;
  trustDomain: string;
  domainSuffix: string;
}

const PROTOCOLS: Record<string, AppProtocol> = {
  http: AppProtocol.HTTP11,
  http2: AppProtocol.HTTP2,
  h2c: AppProtocol.HTTP2,
  'kubernetes.io/h2c': AppProtocol.HTTP2,
  grpc: AppProtocol.GRPC,
  'grpc-web': AppProtocol.GRPC,
  tcp: AppProtocol.TCP,
  tls: AppProtocol.TLS,
  https: AppProtocol.TLS,
  mongo: AppProtocol.TCP,
  mysql: AppProtocol.TCP,
  redis: AppProtocol.TCP,
};

/** The application protocol of a port: `appProtocol` first, then the Istio port-name prefix (`http-web`). */
export function appProtocolOf(port: { name?: string; appProtocol?: string; protocol?: string }): AppProtocol {
  if (port.appProtocol) {
    const p = PROTOCOLS[port.appProtocol.toLowerCase()];
    if (p !== undefined) return p;
  }
  if (port.name) {
    const n = port.name.toLowerCase();
    const dash = n.indexOf('-');
    const p = PROTOCOLS[dash >= 0 ? n.slice(0, dash) : n];
    if (p !== undefined) return p;
  }
  // ServiceEntry ports carry the protocol itself (HTTP, HTTP2, GRPC, TCP, TLS, HTTPS).
  if (port.protocol) {
    const p = PROTOCOLS[port.protocol.toLowerCase()];
    if (p !== undefined) return p;
  }
  return AppProtocol.UNKNOWN;
}

function isTcp(protocol: string | undefined): boolean {
  return protocol === undefined || protocol === 'TCP';
}

export function serviceHostname(name: string, namespace: string, domainSuffix: string): string {
  return `${name}.${namespace}.svc.${domainSuffix}`;
}

/** A Kubernetes Service → the Service resource (xDS name `<namespace>/<hostname>`). */
export function buildService(
  svc: ServiceObj,
  ctx: BuildContext,
  waypoint: GatewayAddress | undefined,
): Service {
  const namespace = svc.metadata.namespace ?? 'default';
  const addresses: NetworkAddress[] = [];
  const ips = svc.spec?.clusterIPs?.length
    ? svc.spec.clusterIPs
    : svc.spec?.clusterIP
      ? [svc.spec.clusterIP]
      : [];
  for (const ip of ips) {
    const bytes = ipToBytes(ip);
    if (bytes) addresses.push({ network: ctx.network, address: bytes });
  }
  const ports: Port[] = [];
  for (const p of svc.spec?.ports ?? []) {
    if (!isTcp(p.protocol)) continue;
    const target = p.targetPort === undefined ? p.port : typeof p.targetPort === 'number' ? p.targetPort : 0;
    ports.push({ servicePort: p.port, targetPort: target, appProtocol: appProtocolOf(p) });
  }
  const out: Service = {
    name: svc.metadata.name,
    namespace,
    hostname: serviceHostname(svc.metadata.name, namespace, ctx.domainSuffix),
    addresses,
    ports,
  };
  if (waypoint) out.waypoint = waypoint;
  return out;
}

/** The pod's side of a Service's ports: named target ports resolved against the pod's container ports. */
export function podServicePorts(svc: ServiceObj, pod: PodObj): Port[] {
  const out: Port[] = [];
  for (const p of svc.spec?.ports ?? []) {
    if (!isTcp(p.protocol)) continue;
    const target = resolveTargetPort(p, pod);
    if (target !== undefined)
      out.push({ servicePort: p.port, targetPort: target, appProtocol: appProtocolOf(p) });
  }
  return out;
}

function resolveTargetPort(p: ServicePort, pod: PodObj): number | undefined {
  if (p.targetPort === undefined) return p.port;
  if (typeof p.targetPort === 'number') return p.targetPort;
  if (/^\d+$/.test(p.targetPort)) return Number(p.targetPort);
  for (const c of pod.spec?.containers ?? []) {
    for (const cp of c.ports ?? []) {
      if (cp.name === p.targetPort && isTcp(cp.protocol)) return cp.containerPort;
    }
  }
  return undefined; // the pod does not expose that named port: it does not serve this service port
}

/** A ServiceEntry → one Service per host (xDS name `<namespace>/<host>`). */
export function buildServiceEntryServices(
  se: ServiceEntryObj,
  ctx: BuildContext,
  waypoint: GatewayAddress | undefined,
): Service[] {
  const namespace = se.metadata.namespace ?? 'default';
  const addresses: NetworkAddress[] = [];
  for (const a of se.spec.addresses ?? []) {
    const m = cidrToMatch(a);
    if (m && m.length === m.address.length * 8) addresses.push({ network: ctx.network, address: m.address });
  }
  const ports: Port[] = (se.spec.ports ?? []).map((p) => ({
    servicePort: p.number,
    targetPort: p.targetPort ?? 0,
    appProtocol: appProtocolOf(p),
  }));
  return se.spec.hosts.map((host) => {
    const s: Service = { name: se.metadata.name, namespace, hostname: host, addresses, ports };
    if (waypoint) s.waypoint = waypoint;
    return s;
  });
}

/** The ports a workload selected by (or listed in) a ServiceEntry serves, per service port. */
export function serviceEntryPorts(se: ServiceEntryObj, endpointPorts?: Record<string, number>): Port[] {
  return (se.spec.ports ?? []).map((p) => ({
    servicePort: p.number,
    targetPort: (p.name !== undefined ? endpointPorts?.[p.name] : undefined) ?? p.targetPort ?? p.number,
    appProtocol: appProtocolOf(p),
  }));
}

/** Inline `endpoints` of a ServiceEntry → Workload resources (uid `<cluster>/networking.istio.io/ServiceEntry/<ns>/<name>/<address>`). */
export function buildServiceEntryWorkloads(se: ServiceEntryObj, ctx: BuildContext): BuiltWorkload[] {
  const namespace = se.metadata.namespace ?? 'default';
  const out: BuiltWorkload[] = [];
  for (const ep of se.spec.endpoints ?? []) {
    if (!ep.address) continue;
    const bytes = ipToBytes(ep.address);
    const services: Record<string, { ports: Port[] }> = {};
    for (const host of se.spec.hosts)
      services[`${namespace}/${host}`] = { ports: serviceEntryPorts(se, ep.ports) };
    const canonical = canonicalNames(ep.labels, se.metadata.name);
    const w: BuiltWorkload = {
      uid: `${ctx.clusterId}/networking.istio.io/ServiceEntry/${namespace}/${se.metadata.name}/${ep.address}`,
      name: se.metadata.name,
      namespace,
      addresses: bytes ? [bytes] : [],
      network: ep.network ?? ctx.network,
      tunnelProtocol: TunnelProtocol.NONE,
      trustDomain: ctx.trustDomain,
      serviceAccount: ep.serviceAccount || 'default',
      node: '',
      canonicalName: canonical.name,
      canonicalRevision: canonical.revision,
      workloadType: WorkloadType.POD,
      workloadName: se.metadata.name,
      services,
      authorizationPolicies: [],
      status: WorkloadStatus.HEALTHY,
      clusterId: ctx.clusterId,
    };
    if (!bytes) w.hostname = ep.address;
    out.push(w);
  }
  return out;
}
