/**
 * The outbound decision: from (source workload, original destination, state) to a plan, with no I/O.
 * Rules, in order (each has a test in test/unit/ztunnel/outbound/decide.test.ts):
 *  1. A call to one of ztunnel's own ports (15001/15006/15008) on loopback, the node's own IPs or the
 *     source pod's own IP (where in-pod ztunnel listens) is a self-call: deny.
 *  2. A source workload that runs on another node is not ours to proxy: deny.
 *  3. Destination is a service VIP (on the source's network):
 *     - load-balancing mode PASSTHROUGH: passthrough to the original destination;
 *     - the service has a waypoint and the source is not that waypoint: HBONE to the waypoint, the
 *       CONNECT authority being the original VIP:port;
 *     - the port is not one of the service's: deny;
 *     - otherwise load balance (load-balance.ts) over its endpoints, connecting to the endpoint's own
 *       target port: HBONE to the pod for an HBONE endpoint, plain TCP otherwise; none eligible: deny.
 *  4. Destination is a workload IP: with a workload waypoint the source is not, HBONE to the waypoint
 *     (authority = pod IP:port); else HBONE to the pod (gateway = pod IP:15008, in-pod redirection
 *     delivers it to the pod's ztunnel) or plain TCP for a workload outside the ambient mesh.
 *  5. Anything else is outside the mesh: passthrough.
 * A waypoint given by hostname is the service of that name (its endpoints load balanced); by address,
 * a service VIP or a workload IP. The source "is the waypoint" when it is one of those endpoints.
 */
import { isLoopback } from '../state/ip.js';
import type { StateStore } from '../state/store.js';
import type { GatewayRef, Service, Workload } from '../state/types.js';
import { pickEndpoint, pickIp } from './load-balance.js';

export interface SocketAddr {
  ip: string;
  port: number;
}

export interface DecideOptions {
  /** ztunnel's own ports, refused as self-calls: [15001, 15006, 15008]. */
  selfPorts: readonly number[];
  /** This node's name: a source workload on another node is refused (empty: no check). */
  nodeName: string;
  /** Uniform in [0, 1): the load balancer's dice (seed it in tests). */
  random: () => number;
  /** This node's own IPs, also refused for self-calls (loopback always is). */
  nodeIps?: readonly string[];
}

export type DenyCode =
  | 'self-call'
  | 'source-not-local'
  | 'no-service-port'
  | 'no-healthy-endpoint'
  | 'waypoint-not-found'
  | 'waypoint-no-endpoint';

export type Plan =
  | {
      kind: 'hbone';
      target: SocketAddr;
      gateway: SocketAddr;
      expectedIdentities: readonly string[];
      dstWorkload: Workload;
      service?: Service;
    }
  | {
      kind: 'waypoint';
      /** The CONNECT authority: the original service VIP:port or pod IP:port. */
      target: SocketAddr;
      /** The chosen waypoint pod's IP and HBONE port. */
      gateway: SocketAddr;
      expectedIdentities: readonly string[];
      waypoint: Workload;
      service?: Service;
      dstWorkload?: Workload;
    }
  | { kind: 'plaintext'; target: SocketAddr; dstWorkload: Workload; service?: Service }
  | { kind: 'passthrough'; target: SocketAddr }
  | { kind: 'deny'; code: DenyCode; reason: string };

export const HBONE_PORT = 15008;

const identityLists = new WeakMap<Workload, readonly string[]>();

/** `[w.identityUri]`, one array per workload object (no allocation per decision). */
function identitiesOf(w: Workload): readonly string[] {
  let list = identityLists.get(w);
  if (!list) identityLists.set(w, (list = Object.freeze([w.identityUri])));
  return list;
}

export function decideOutbound(src: Workload, dst: SocketAddr, store: StateStore, opts: DecideOptions): Plan {
  if (opts.selfPorts.includes(dst.port) && isSelfAddress(src, dst.ip, opts)) {
    return deny('self-call', `${dst.ip}:${dst.port} is ztunnel's own port; refusing a self-call`);
  }
  if (opts.nodeName && src.node && src.node !== opts.nodeName) {
    return deny(
      'source-not-local',
      `source workload ${src.uid} runs on node ${src.node}, not on ${opts.nodeName}`,
    );
  }
  const svc = store.serviceByVip(src.network, dst.ip);
  if (svc) return viaService(src, dst, svc, store, opts);
  const w = store.workloadByAddress(src.network, dst.ip);
  if (w) return toWorkload(src, dst, w, store, opts);
  return { kind: 'passthrough', target: dst };
}

function isSelfAddress(src: Workload, ip: string, opts: DecideOptions): boolean {
  return isLoopback(ip) || src.ips.includes(ip) || (opts.nodeIps?.includes(ip) ?? false);
}

function viaService(
  src: Workload,
  dst: SocketAddr,
  svc: Service,
  store: StateStore,
  opts: DecideOptions,
): Plan {
  if (svc.loadBalancing?.mode === 'passthrough') return { kind: 'passthrough', target: dst };
  if (svc.waypoint && !sourceIsWaypoint(src, svc.waypoint, store)) {
    return toWaypoint(src, dst, svc.waypoint, store, opts, svc, undefined);
  }
  if (!svc.ports.has(dst.port)) {
    return deny('no-service-port', `service ${svc.key} has no port ${dst.port}`);
  }
  const pick = pickEndpoint(src, svc, dst.port, store.endpointsOf(svc.key), opts.random);
  if (!pick)
    return deny('no-healthy-endpoint', `service ${svc.key} has no healthy endpoint for port ${dst.port}`);
  const ep = pick.workload;
  const target = { ip: pickIp(ep, dst.ip.includes(':')), port: pick.targetPort };
  if (ep.protocol !== 'HBONE') return { kind: 'plaintext', target, dstWorkload: ep, service: svc };
  const expectedIdentities =
    svc.subjectAltNames.length === 0 ? identitiesOf(ep) : [ep.identityUri, ...svc.subjectAltNames];
  return {
    kind: 'hbone',
    target,
    gateway: { ip: target.ip, port: HBONE_PORT },
    expectedIdentities,
    dstWorkload: ep,
    service: svc,
  };
}

function toWorkload(
  src: Workload,
  dst: SocketAddr,
  w: Workload,
  store: StateStore,
  opts: DecideOptions,
): Plan {
  if (w.waypoint && !sourceIsWaypoint(src, w.waypoint, store)) {
    return toWaypoint(src, dst, w.waypoint, store, opts, undefined, w);
  }
  if (w.protocol !== 'HBONE') return { kind: 'plaintext', target: dst, dstWorkload: w };
  return {
    kind: 'hbone',
    target: dst,
    gateway: { ip: dst.ip, port: HBONE_PORT },
    expectedIdentities: identitiesOf(w),
    dstWorkload: w,
  };
}

function toWaypoint(
  src: Workload,
  dst: SocketAddr,
  gw: GatewayRef,
  store: StateStore,
  opts: DecideOptions,
  service: Service | undefined,
  dstWorkload: Workload | undefined,
): Plan {
  let wp: Workload | undefined;
  let wpSvc: Service | undefined;
  if (gw.kind === 'hostname') {
    wpSvc = store.serviceByKey(gw.key);
    if (!wpSvc) return deny('waypoint-not-found', `waypoint ${gw.key} is not a known service`);
  } else {
    wpSvc = store.serviceByVip(gw.network, gw.ip);
    if (!wpSvc) wp = store.workloadByAddress(gw.network, gw.ip);
    if (!wpSvc && !wp)
      return deny('waypoint-not-found', `waypoint ${gw.ip} is neither a known service nor workload`);
  }
  if (wpSvc) {
    const pick = pickEndpoint(src, wpSvc, gw.hbonePort, store.endpointsOf(wpSvc.key), opts.random, true);
    if (!pick) return deny('waypoint-no-endpoint', `waypoint ${wpSvc.key} has no healthy endpoint`);
    wp = pick.workload;
  }
  const waypoint = wp as Workload;
  const ip =
    gw.kind === 'address' && waypoint.ips.includes(gw.ip) ? gw.ip : pickIp(waypoint, dst.ip.includes(':'));
  const plan: Plan = {
    kind: 'waypoint',
    target: dst,
    gateway: { ip, port: gw.hbonePort },
    expectedIdentities: identitiesOf(waypoint),
    waypoint,
  };
  if (service) plan.service = service;
  if (dstWorkload) plan.dstWorkload = dstWorkload;
  return plan;
}

/** Whether the source is one of the waypoint's own workloads (its traffic then goes direct). */
function sourceIsWaypoint(src: Workload, gw: GatewayRef, store: StateStore): boolean {
  if (gw.kind === 'hostname') return src.services.has(gw.key);
  if (src.ips.includes(gw.ip)) return true;
  const svc = store.serviceByVip(gw.network, gw.ip);
  return svc !== undefined && src.services.has(svc.key);
}

function deny(code: DenyCode, reason: string): Plan {
  return { kind: 'deny', code, reason };
}
