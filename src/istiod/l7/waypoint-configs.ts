/**
 * Each waypoint's L7 configuration, computed from the whole configuration once per change: the
 * Services bound to it (`istio.io/use-waypoint` on the Service or its namespace, and the waypoint
 * accepting service traffic), per port the routes of the VirtualServices and HTTPRoutes that apply
 * (from the service's or the waypoint's namespace only, as Istio), and the clusters those name.
 */
import type { ConfigStore } from '../config/store.js';
import type { Gateway, HTTPRoute, Service, VirtualService } from '../config/types.js';
import type { Cluster, L7Config, RouteRule, ServiceConfig } from '../../l7/model.js';
import { acceptsServices, isWaypoint, requestedWaypoint, waypointFor } from '../model/waypoints.js';
import { buildCluster, clusterName } from './clusters.js';
import { convertHttpRoutes } from './convert-httproute.js';
import { grpcToHttpRoute } from './grpc-route.js';
import { convertVirtualService, type ClusterWant } from './convert-vs.js';
import { MeshView, portProtocol, type MeshViewOptions } from './mesh-view.js';
import { SecurityIndex } from './security-configs.js';

export function waypointKey(gw: Gateway): string {
  return `${gw.metadata.namespace ?? 'default'}/${gw.metadata.name}`;
}

export function buildWaypointConfigs(store: ConfigStore, opts: MeshViewOptions): Map<string, L7Config> {
  const view = new MeshView(store, opts);
  const out = new Map<string, L7Config>();
  const waypoints = store.list('Gateway').filter((g) => isWaypoint(g as never));
  if (waypoints.length === 0) return out;
  const vss = store.list('VirtualService');
  const routes = [...store.list('HTTPRoute'), ...store.list('GRPCRoute').map(grpcToHttpRoute)];
  const security = new SecurityIndex(store, opts.rootNamespace ?? 'istio-system');
  for (const gw of waypoints) out.set(waypointKey(gw), buildOne(gw, view, vss, routes, security));
  return out;
}

function boundServices(gw: Gateway, view: MeshView): Service[] {
  if (!acceptsServices(waypointFor(gw as never))) return [];
  const key = waypointKey(gw);
  const out: Service[] = [];
  for (const s of view.byHost.values()) {
    const ns = s.metadata.namespace ?? 'default';
    // A waypoint's own Service is never bound to a waypoint.
    const sel = s.spec?.selector ?? {};
    if (sel['gateway.networking.k8s.io/gateway-name'] || sel['istio.io/gateway-name']) continue;
    const nsLabels = view.store.get('Namespace', undefined, ns)?.metadata.labels;
    if (requestedWaypoint(s.metadata.labels, nsLabels, ns) === key) out.push(s);
  }
  return out;
}

function buildOne(
  gw: Gateway,
  view: MeshView,
  vss: VirtualService[],
  routes: HTTPRoute[],
  security: SecurityIndex,
): L7Config {
  const gwNs = gw.metadata.namespace ?? 'default';
  const c = clusterCollector(view);
  const services = boundServices(gw, view).map((svc) => {
    const s = buildServiceConfig(svc, view, vss, routes, gwNs, c.want);
    const sec = security.forService(gw, svc);
    if (sec) s.security = sec;
    return s;
  });
  return { proxy: waypointKey(gw), services, clusters: c.built(), ...tracingOf(view) };
}

/** The trace sampling istiod was started with, as every L7 proxy's configuration carries it. */
export function tracingOf(view: MeshView): Pick<L7Config, 'tracing'> {
  const sampling = view.opts.traceSampling;
  return sampling !== undefined ? { tracing: { samplingPercent: sampling } } : {};
}

/** The clusters a proxy's routes name, each built once; `built()` lists the ones that exist. */
export function clusterCollector(view: MeshView): {
  want: (w: ClusterWant) => string;
  add: (c: Cluster) => void;
  built: () => Cluster[];
} {
  const clusters = new Map<string, Cluster | null>();
  return {
    want: (w) => {
      const name = clusterName(w.fqdn, w.port, w.subset);
      if (!clusters.has(name)) clusters.set(name, buildCluster(view, w.fqdn, w.port, w.subset) ?? null);
      return name;
    },
    add: (c) => void clusters.set(c.name, c),
    built: () => {
      const out: Cluster[] = [];
      for (const c of clusters.values()) if (c) out.push(c);
      return out.sort((a, b) => a.name.localeCompare(b.name));
    },
  };
}

/**
 * One Service's L7 view as a proxy in namespace `viewerNs` sees it: per port, the routes of the
 * VirtualServices (`gateways` empty or `mesh`) and GAMMA HTTPRoutes that apply, from the service's own
 * namespace or the viewer's (as Istio scopes them at waypoints), and the clusters they name.
 */
export function buildServiceConfig(
  svc: Service,
  view: MeshView,
  vss: VirtualService[],
  routes: HTTPRoute[],
  viewerNs: string,
  want: (w: ClusterWant) => string,
): ServiceConfig {
  const ns = svc.metadata.namespace ?? 'default';
  const fqdn = view.fqdn(svc);
  const scoped = (o: { metadata: { namespace?: string } }) => {
    const n = o.metadata.namespace ?? 'default';
    return n === ns || n === viewerNs;
  };
  const myVs = vss
    .filter(scoped)
    .filter((v) => (v.spec.gateways ?? []).length === 0 || v.spec.gateways!.includes('mesh'))
    .filter((v) =>
      (v.spec.hosts ?? []).some((h) => view.resolveHost(h, v.metadata.namespace ?? 'default') === fqdn),
    )
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
  const ports = (svc.spec?.ports ?? []).map((p) => {
    const myRoutes = routes
      .filter(scoped)
      .filter((r) =>
        (r.spec.parentRefs ?? []).some(
          (ref) =>
            (ref.kind ?? 'Gateway') === 'Service' &&
            (ref.group ?? '') === '' &&
            ref.name === svc.metadata.name &&
            (ref.namespace ?? r.metadata.namespace ?? 'default') === ns &&
            (ref.port === undefined || ref.port === p.port),
        ),
      );
    let rules: RouteRule[] | undefined;
    if (myVs.length > 0 || myRoutes.length > 0) {
      rules = [
        ...myVs.flatMap((v) => convertVirtualService(v, view, p.port, want)),
        ...convertHttpRoutes(myRoutes, view, p.port, want),
      ];
    }
    return {
      port: p.port,
      targetPort: typeof p.targetPort === 'number' ? p.targetPort : p.port,
      protocol: portProtocol(p),
      routes: rules,
      defaultCluster: want({ fqdn, port: p.port }),
    };
  });
  return { namespace: ns, name: svc.metadata.name, hostname: fqdn, vips: serviceVips(svc), ports };
}

export function serviceVips(svc: Service): string[] {
  const vips = svc.spec?.clusterIPs?.length
    ? svc.spec.clusterIPs
    : svc.spec?.clusterIP
      ? [svc.spec.clusterIP]
      : [];
  return vips.filter((v) => v !== 'None');
}
