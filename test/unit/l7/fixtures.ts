import type { Cluster, L7Config, RouteRule } from '../../../src/l7/model.js';
import type { RequestView } from '../../../src/l7/route/match.js';

export function cluster(name: string, ips: string[] = ['10.0.0.1']): Cluster {
  return {
    name,
    service: 'reviews.bookinfo.svc.cluster.local',
    port: 9080,
    lb: { kind: 'ROUND_ROBIN' },
    upstream: 'http1',
    endpoints: ips.map((ip) => ({
      ip,
      port: 9080,
      identity: '',
      hbone: false,
      workload: 'w',
      namespace: 'bookinfo',
    })),
  };
}

export const DEFAULT = 'inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local';
export const V1 = 'inbound-vip|9080|http/v1|reviews.bookinfo.svc.cluster.local';
export const V2 = 'inbound-vip|9080|http/v2|reviews.bookinfo.svc.cluster.local';

export function config(
  routes?: RouteRule[],
  clusters: Cluster[] = [cluster(DEFAULT), cluster(V1), cluster(V2)],
): L7Config {
  return {
    proxy: 'bookinfo/waypoint',
    services: [
      {
        namespace: 'bookinfo',
        name: 'reviews',
        hostname: 'reviews.bookinfo.svc.cluster.local',
        vips: ['10.96.0.10'],
        ports: [{ port: 9080, targetPort: 9080, protocol: 'http', routes, defaultCluster: DEFAULT }],
      },
    ],
    clusters,
  };
}

export function request(
  over: Partial<Omit<RequestView, 'header'>> & { headers?: Record<string, string> } = {},
): RequestView {
  const headers = over.headers ?? {};
  return {
    method: over.method ?? 'GET',
    path: over.path ?? '/',
    query: over.query ?? '',
    authority: over.authority ?? 'reviews:9080',
    header: (n) => headers[n],
  };
}

/** Parses `name{labels} value` lines of one metric into [labels, value]. */
export function samples(text: string, name: string): Array<[Record<string, string>, number]> {
  const out: Array<[Record<string, string>, number]> = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l: Record<string, string> = {};
    for (const p of m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) l[p[1]!] = p[2]!;
    out.push([l, Number(m[3])]);
  }
  return out;
}
