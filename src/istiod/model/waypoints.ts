import type { GatewayObj, ServiceObj } from './inputs.js';
import { ipToBytes } from './ip.js';
import { L } from './labels.js';
import type { GatewayAddress } from '../../xds/workload-types.js';

export const WAYPOINT_CLASS = 'istio-waypoint';
export const HBONE_PORT = 15008;

export type WaypointFor = 'service' | 'workload' | 'all' | 'none';

/** A Gateway is a waypoint when its class is `istio-waypoint` and it listens for HBONE on 15008. */
export function isWaypoint(gw: GatewayObj): boolean {
  if (gw.spec.gatewayClassName !== WAYPOINT_CLASS) return false;
  return (gw.spec.listeners ?? []).some((l) => l.port === HBONE_PORT && l.protocol === 'HBONE');
}

/** What traffic the waypoint takes, from its `istio.io/waypoint-for` label (default: service). */
export function waypointFor(gw: GatewayObj): WaypointFor {
  const v = gw.metadata.labels?.[L.waypointFor];
  return v === 'workload' || v === 'all' || v === 'none' ? v : 'service';
}

export function acceptsServices(f: WaypointFor): boolean {
  return f === 'service' || f === 'all';
}

export function acceptsWorkloads(f: WaypointFor): boolean {
  return f === 'workload' || f === 'all';
}

/**
 * Where ztunnel sends traffic for the waypoint: its own Service by hostname when it exists, else the first
 * address in the Gateway's status (a hostname or an IP). Undefined when neither is known yet.
 */
export function waypointAddress(
  gw: GatewayObj,
  ownService: ServiceObj | undefined,
  network: string,
  domainSuffix: string,
): GatewayAddress | undefined {
  const namespace = gw.metadata.namespace ?? 'default';
  if (ownService) {
    const hostname = `${ownService.metadata.name}.${namespace}.svc.${domainSuffix}`;
    return { hostname: { namespace, hostname }, hboneMtlsPort: HBONE_PORT };
  }
  for (const a of gw.status?.addresses ?? []) {
    const bytes = ipToBytes(a.value);
    if (bytes && a.type !== 'Hostname')
      return { address: { network, address: bytes }, hboneMtlsPort: HBONE_PORT };
    if (!bytes && a.value.length > 0) {
      return { hostname: { namespace, hostname: a.value }, hboneMtlsPort: HBONE_PORT };
    }
  }
  return undefined;
}

/**
 * The waypoint an object asks for, as `namespace/name`: the object's own `istio.io/use-waypoint` label if
 * it has one, else its namespace's (narrower wins). `none` on the deciding level opts out (returns null).
 * Undefined when neither level asks. The namespace of the waypoint comes from
 * `istio.io/use-waypoint-namespace` on the same level, else the object's namespace.
 */
export function requestedWaypoint(
  objLabels: Record<string, string> | undefined,
  nsLabels: Record<string, string> | undefined,
  objNamespace: string,
): string | null | undefined {
  const source = objLabels?.[L.useWaypoint] !== undefined ? objLabels : nsLabels;
  const name = source?.[L.useWaypoint];
  if (name === undefined || name === '') return undefined;
  if (name === 'none') return null;
  const ns = source?.[L.useWaypointNamespace] || objNamespace;
  return `${ns}/${name}`;
}
