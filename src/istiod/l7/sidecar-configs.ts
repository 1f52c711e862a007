/**
 * The L7 configuration of sidecar-injected pods, in two roles of the same engine:
 * - outbound, one per namespace with sidecar pods (`<ns>/~sidecar-outbound`): every Service of the mesh
 *   with the client-side routing that applies (VirtualService / GAMMA HTTPRoute from the service's or
 *   the client's namespace, DestinationRule subsets and load balancing). A Service bound to a waypoint
 *   is sent to that waypoint over HBONE (authority = VIP:port) with no routing of its own, so the
 *   waypoint's routes and policy apply once — where Istio's sidecars skip the waypoint (istio#55538).
 * - inbound, one per pod (`<ns>/<pod>~inbound`): the Services that select the pod, each port to the
 *   app on the pod's own IP; server-side policy (the AuthorizationPolicies and RequestAuthentications
 *   bound to the pod by selector, its namespace's and the root namespace's) and
 *   `reporter="destination"` telemetry run there.
 */
import type { ConfigStore } from '../config/store.js';
import type { Pod, Service } from '../config/types.js';
import type { Cluster, Endpoint, L7Config, ServiceConfig } from '../../l7/model.js';
import { canonicalNames, isSidecarPod, selects, workloadMeta } from '../model/labels.js';
import { acceptsServices, isWaypoint, requestedWaypoint, waypointFor } from '../model/waypoints.js';
import { grpcToHttpRoute } from './grpc-route.js';
import { MeshView, portProtocol, type MeshViewOptions } from './mesh-view.js';
import { l4Policies, SecurityIndex } from './security-configs.js';
import { buildServiceConfig, clusterCollector, serviceVips, tracingOf } from './waypoint-configs.js';

export const sidecarOutboundKey = (ns: string): string => `${ns}/~sidecar-outbound`;
export const sidecarInboundKey = (ns: string, pod: string): string => `${ns}/${pod}~inbound`;

const isGatewayService = (s: Service): boolean => {
  const sel = s.spec?.selector ?? {};
  return Boolean(sel['gateway.networking.k8s.io/gateway-name'] || sel['istio.io/gateway-name']);
};

function podIp(p: Pod): string | undefined {
  return p.status?.podIP ?? p.status?.podIPs?.[0]?.ip;
}

export function sidecarPods(store: ConfigStore): Pod[] {
  return store
    .list('Pod')
    .filter(
      (p) =>
        isSidecarPod(p as never) &&
        podIp(p) !== undefined &&
        p.status?.phase !== 'Succeeded' &&
        p.status?.phase !== 'Failed',
    );
}

export function buildSidecarConfigs(store: ConfigStore, opts: MeshViewOptions): Map<string, L7Config> {
  const out = new Map<string, L7Config>();
  const pods = sidecarPods(store);
  if (pods.length === 0) return out;
  const view = new MeshView(store, opts);
  const vss = store.list('VirtualService');
  const routes = [...store.list('HTTPRoute'), ...store.list('GRPCRoute').map(grpcToHttpRoute)];
  for (const ns of new Set(pods.map((p) => p.metadata.namespace ?? 'default'))) {
    const key = sidecarOutboundKey(ns);
    const c = clusterCollector(view);
    const services: ServiceConfig[] = [];
    for (const svc of view.byHost.values()) {
      if (isGatewayService(svc)) continue;
      const wp = waypointOf(svc, view);
      if (wp) {
        services.push(viaWaypoint(svc, view, wp, c.add));
        continue;
      }
      services.push(buildServiceConfig(svc, view, vss, routes, ns, c.want));
    }
    out.set(key, { proxy: key, services, clusters: c.built(), ...tracingOf(view) });
  }
  const security = new SecurityIndex(store, opts.rootNamespace ?? 'istio-system');
  for (const pod of pods) {
    const key = sidecarInboundKey(pod.metadata.namespace ?? 'default', pod.metadata.name);
    out.set(key, inbound(pod, view, key, security));
  }
  return out;
}

/** The waypoint Service a Service is bound to (one that accepts service traffic), if any. */
export function waypointOf(svc: Service, view: MeshView): Service | undefined {
  const ns = svc.metadata.namespace ?? 'default';
  const nsLabels = view.store.get('Namespace', undefined, ns)?.metadata.labels;
  const req = requestedWaypoint(svc.metadata.labels, nsLabels, ns);
  if (!req) return undefined;
  const [gwNs = ns, gwName = ''] = req.split('/');
  const gw = view.store.get('Gateway', gwNs, gwName);
  if (!gw || !isWaypoint(gw as never) || !acceptsServices(waypointFor(gw as never))) return undefined;
  return view.byHost.get(`${gwName}.${gwNs}.svc.${view.opts.domainSuffix}`);
}

/**
 * Endpoints that reach a service port through its waypoint: HBONE to each waypoint pod, authority =
 * the service VIP:port, the waypoint's identity expected.
 */
export function waypointEndpoints(svc: Service, view: MeshView, wp: Service, port: number): Endpoint[] {
  const vips = serviceVips(svc);
  if (vips.length === 0) return [];
  const wpNs = wp.metadata.namespace ?? 'default';
  return view.endpoints(wp, 15008).map((e) => ({
    ip: vips[0]!,
    port,
    via: e.ip,
    identity: `spiffe://${view.opts.trustDomain}/ns/${wpNs}/sa/${e.labels['gateway.networking.k8s.io/gateway-name'] ?? wp.metadata.name}`,
    hbone: true,
    workload: e.workload,
    namespace: wpNs,
    ...(e.app ? { app: e.app } : {}),
  }));
}

/** A service whose traffic goes to its waypoint, which does the routing: no routes here. */
function viaWaypoint(svc: Service, view: MeshView, wp: Service, add: (c: Cluster) => void): ServiceConfig {
  const fqdn = view.fqdn(svc);
  const ports = (svc.spec?.ports ?? []).map((p) => {
    const name = `outbound-waypoint|${p.port}||${fqdn}`;
    add({
      name,
      service: fqdn,
      port: p.port,
      lb: { kind: 'LEAST_REQUEST' },
      upstream: 'downstream',
      endpoints: waypointEndpoints(svc, view, wp, p.port),
    });
    return {
      port: p.port,
      targetPort: typeof p.targetPort === 'number' ? p.targetPort : p.port,
      protocol: portProtocol(p),
      defaultCluster: name,
    };
  });
  return {
    namespace: svc.metadata.namespace ?? 'default',
    name: svc.metadata.name,
    hostname: fqdn,
    vips: serviceVips(svc),
    ports,
  };
}

/** The inbound role: each Service port selecting the pod, to the app on the pod's IP. */
function inbound(pod: Pod, view: MeshView, key: string, security: SecurityIndex): L7Config {
  const sec = security.forPod(pod);
  const ns = pod.metadata.namespace ?? 'default';
  const ip = podIp(pod)!;
  const labels = pod.metadata.labels ?? {};
  const wl = workloadMeta(pod as never).workloadName;
  const canon = canonicalNames(labels, wl);
  const identity = `spiffe://${view.opts.trustDomain}/ns/${ns}/sa/${pod.spec?.serviceAccountName || 'default'}`;
  const services: ServiceConfig[] = [];
  const clusters: Cluster[] = [];
  for (const svc of view.byHost.values()) {
    if ((svc.metadata.namespace ?? 'default') !== ns || !selects(svc.spec?.selector, labels)) continue;
    const fqdn = view.fqdn(svc);
    const ports = [];
    for (const p of svc.spec?.ports ?? []) {
      const ep = view.endpoints(svc, p.port).find((e) => e.ip === ip);
      if (!ep) continue;
      const name = `inbound|${ep.port}||${fqdn}`;
      if (!clusters.some((c) => c.name === name)) {
        const proto = portProtocol(p);
        clusters.push({
          name,
          service: fqdn,
          port: p.port,
          lb: { kind: 'ROUND_ROBIN' },
          upstream:
            proto === 'http2' || proto === 'grpc' ? 'http2' : proto === 'http' ? 'http1' : 'downstream',
          endpoints: [
            {
              ip,
              port: ep.port,
              identity,
              hbone: false,
              workload: wl,
              namespace: ns,
              app: canon.name,
              version: canon.revision,
            },
          ],
        });
      }
      ports.push({ port: p.port, targetPort: ep.port, protocol: portProtocol(p), defaultCluster: name });
    }
    if (ports.length)
      services.push({
        namespace: ns,
        name: svc.metadata.name,
        hostname: fqdn,
        vips: [],
        ports,
        ...(sec ? { security: sec } : {}),
      });
  }
  return {
    proxy: key,
    services,
    clusters,
    ...tracingOf(view),
    ...(sec?.policies.length ? { l4Policies: l4Policies(sec.policies) } : {}),
  };
}
