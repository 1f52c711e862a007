/**
 * Clusters from Services and DestinationRules: `inbound-vip|<port>|http[/<subset>]|<fqdn>`, the
 * subset's endpoints (pods whose labels include the subset's), and the load balancer by Istio's
 * precedence (subset port-level > subset > top port-level > top; unset: LEAST_REQUEST).
 */
import { parseDuration } from '../config/duration.js';
import type { DestinationRule, LoadBalancerSpec, TrafficPolicySpec } from '../config/types.js';
import type { Cluster, LbPolicy } from '../../l7/model.js';
import { resiliencePolicy } from './resilience.js';
import { portProtocol, type MeshView } from './mesh-view.js';

export function clusterName(fqdn: string, port: number, subset?: string): string {
  return `inbound-vip|${port}|http${subset ? `/${subset}` : ''}|${fqdn}`;
}

function lbOf(spec: LoadBalancerSpec | undefined): LbPolicy | undefined {
  if (!spec) return undefined;
  const ch = spec.consistentHash;
  if (ch) {
    if (ch.httpHeaderName) return { kind: 'HASH', header: ch.httpHeaderName };
    if (ch.httpCookie) return { kind: 'HASH', cookie: ch.httpCookie.name };
    if (ch.httpQueryParameterName) return { kind: 'HASH', query: ch.httpQueryParameterName };
    if (ch.useSourceIp) return { kind: 'HASH', sourceIp: true };
  }
  switch (spec.simple) {
    case 'ROUND_ROBIN':
      return { kind: 'ROUND_ROBIN' };
    case 'RANDOM':
      return { kind: 'RANDOM' };
    case 'LEAST_REQUEST':
    case 'LEAST_CONN':
      return { kind: 'LEAST_REQUEST' };
    default:
      return undefined;
  }
}

/** The effective load balancer and connect timeout of one traffic policy for a port. */
function fromPolicy(tp: TrafficPolicySpec | undefined, port: number): { lb?: LbPolicy; connectMs?: number } {
  if (!tp) return {};
  const pl = tp.portLevelSettings?.find((p) => p.port?.number === port);
  const lb = pl ? lbOf(pl.loadBalancer) : lbOf(tp.loadBalancer);
  const ct = tp.connectionPool?.tcp?.connectTimeout;
  return { lb, connectMs: ct ? parseDuration(ct) : undefined };
}

/** The DestinationRule for a host: one in the service's namespace first, else the oldest elsewhere. */
export function destinationRuleFor(view: MeshView, fqdn: string, ns: string): DestinationRule | undefined {
  const list = view.drByHost.get(fqdn);
  if (!list?.length) return undefined;
  return list.find((d) => d.metadata.namespace === ns) ?? list[0];
}

/** Builds a cluster, or undefined when the service or the subset does not exist (the route then gets NC). */
export function buildCluster(
  view: MeshView,
  fqdn: string,
  port: number,
  subset?: string,
): Cluster | undefined {
  const svc = view.byHost.get(fqdn);
  if (!svc) return undefined;
  const sp = (svc.spec?.ports ?? []).find((p) => p.port === port);
  if (!sp) return undefined;
  const ns = svc.metadata.namespace ?? 'default';
  const dr = destinationRuleFor(view, fqdn, ns);
  let eps = view.endpoints(svc, port);
  const top = fromPolicy(dr?.spec.trafficPolicy, port);
  let lb = top.lb;
  let connectMs = top.connectMs;
  if (subset) {
    const s = dr?.spec.subsets?.find((x) => x.name === subset);
    if (!s) return undefined;
    const want = s.labels ?? {};
    eps = eps.filter((e) => Object.entries(want).every(([k, v]) => e.labels[k] === v));
    const sub = fromPolicy(s.trafficPolicy, port);
    lb = sub.lb ?? lb;
    connectMs = sub.connectMs ?? connectMs;
  }
  const proto = portProtocol(sp);
  const { connectionPool, outlier } = resiliencePolicy(dr?.spec, port, subset);
  return {
    name: clusterName(fqdn, port, subset),
    service: fqdn,
    port,
    subset,
    lb: lb ?? { kind: 'LEAST_REQUEST' },
    upstream: proto === 'http2' || proto === 'grpc' ? 'http2' : proto === 'http' ? 'http1' : 'downstream',
    endpoints: eps.map(({ labels: _l, ...e }) => e),
    connectTimeoutMs: connectMs,
    ...(connectionPool ? { connectionPool } : {}),
    ...(outlier ? { outlier } : {}),
  };
}
