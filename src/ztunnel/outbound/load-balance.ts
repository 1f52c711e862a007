/**
 * Picking one endpoint of a service for a connection, as Istio's ztunnel does:
 * - eligible endpoints: healthy (or any, under health policy ALLOW_ALL), with an address, and able to
 *   serve the service port (its own target port from its services map, else the service's);
 * - with load-balancing mode STRICT or FAILOVER, each endpoint is ranked by how many of the service's
 *   routing-preference scopes, in order, it shares with the source (stopping at the first that
 *   differs); FAILOVER keeps the best rank present, STRICT only endpoints that share all of them;
 *   with no mode set, preferences are ignored;
 * - among those, a random pick weighted by capacity.
 * One pass over the live endpoint array, no allocation but the result.
 */
import type { LbScope, Service, Workload } from '../state/types.js';

export interface EndpointPick {
  workload: Workload;
  /** The port to connect to on the endpoint. */
  targetPort: number;
}

/**
 * The endpoint's target port for a service port, or 0 when it cannot serve that port.
 * Order: the endpoint's own mapping (a listed 0 means "the service port"); the service's target port;
 * when the service's target is a named port (0) and the endpoint lists no ports at all, the service
 * port itself; otherwise 0 (a named port this endpoint does not expose).
 */
export function endpointTargetPort(w: Workload, svc: Service, servicePort: number): number {
  const own = w.services.get(svc.key);
  const mapped = own?.get(servicePort);
  if (mapped !== undefined) return mapped || servicePort;
  const sp = svc.ports.get(servicePort);
  if (!sp) return 0;
  if (sp.targetPort) return sp.targetPort;
  return own === undefined || own.size === 0 ? servicePort : 0;
}

function shares(scope: LbScope, a: Workload, b: Workload): boolean {
  switch (scope) {
    case 'region':
      return a.locality.region === b.locality.region;
    case 'zone':
      return a.locality.zone === b.locality.zone;
    case 'subzone':
      return a.locality.subzone === b.locality.subzone;
    case 'node':
      return a.node === b.node;
    case 'cluster':
      return a.clusterId === b.clusterId;
    case 'network':
      return a.network === b.network;
  }
}

function rankOf(src: Workload, w: Workload, prefs: readonly LbScope[]): number {
  let rank = 0;
  while (rank < prefs.length && shares(prefs[rank]!, src, w)) rank++;
  return rank;
}

/**
 * Picks an endpoint for `servicePort` of `svc` among `endpoints`. In `anyPort` mode (resolving a
 * waypoint, reached on its HBONE port whether or not the service lists it) port eligibility is skipped
 * and `targetPort` is the port asked for.
 */
export function pickEndpoint(
  src: Workload,
  svc: Service,
  servicePort: number,
  endpoints: readonly Workload[],
  random: () => number,
  anyPort = false,
): EndpointPick | undefined {
  const lb = svc.loadBalancing;
  const allowUnhealthy = lb?.healthPolicy === 'allow-all';
  const ranked = lb !== undefined && (lb.mode === 'strict' || lb.mode === 'failover');
  const prefs = lb?.routingPreference ?? [];
  const strict = ranked && lb.mode === 'strict';

  // One pass, weighted reservoir sampling: keep the best rank seen; within it, the running pick is
  // replaced by the current endpoint with probability capacity / (capacity sum so far).
  let best = -1;
  let total = 0;
  let chosen: Workload | undefined;
  let chosenPort = 0;
  for (let i = 0; i < endpoints.length; i++) {
    const w = endpoints[i]!;
    if ((!w.healthy && !allowUnhealthy) || w.ips.length === 0) continue;
    const port = anyPort ? servicePort : endpointTargetPort(w, svc, servicePort);
    if (port === 0) continue;
    const rank = ranked ? rankOf(src, w, prefs) : 0;
    if (rank < best || (strict && rank !== prefs.length)) continue;
    if (rank > best) {
      best = rank;
      total = 0;
      chosen = undefined;
    }
    if (w.capacity <= 0) continue;
    total += w.capacity;
    if (chosen === undefined || random() * total < w.capacity) {
      chosen = w;
      chosenPort = port;
    }
  }
  return chosen ? { workload: chosen, targetPort: chosenPort } : undefined;
}

/** The endpoint's IP of the wanted family (IPv6 or not), else its first. */
export function pickIp(w: Workload, v6: boolean): string {
  const ips = w.ips;
  for (let i = 0; i < ips.length; i++) if (ips[i]!.includes(':') === v6) return ips[i]!;
  return ips[0]!;
}
