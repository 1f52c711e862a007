/**
 * GRPCRoute → the equivalent HTTPRoute, which the HTTPRoute converter then handles: a method match
 * becomes a path match on `/<service>/<method>` (Exact when both are given, a segment prefix for a whole
 * service, a regular expression otherwise); headers, filters and backends carry over unchanged.
 */
import type { GRPCRoute, HTTPRoute, HttpRouteMatchSpec } from '../config/types.js';

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function methodPath(m: {
  type?: string;
  service?: string;
  method?: string;
}): HttpRouteMatchSpec['path'] {
  if (m.type === 'RegularExpression')
    return { type: 'RegularExpression', value: `/${m.service ?? '[^/]+'}/${m.method ?? '[^/]+'}` };
  if (m.service && m.method) return { type: 'Exact', value: `/${m.service}/${m.method}` };
  if (m.service) return { type: 'PathPrefix', value: `/${m.service}` };
  if (m.method) return { type: 'RegularExpression', value: `/[^/]+/${escape(m.method)}` };
  return { type: 'PathPrefix', value: '/' };
}

/** An HTTPRoute made from another kind keeps that kind here (ReferenceGrants name the route's kind). */
export type ConvertedRoute = HTTPRoute & { sourceKind?: 'GRPCRoute' };

export function grpcToHttpRoute(g: GRPCRoute): ConvertedRoute {
  return {
    sourceKind: 'GRPCRoute',
    apiVersion: g.apiVersion,
    kind: 'HTTPRoute',
    metadata: g.metadata,
    spec: {
      parentRefs: g.spec.parentRefs,
      rules: (g.spec.rules ?? []).map((r) => ({
        name: r.name,
        matches: r.matches?.map((m) => ({
          path: m.method ? methodPath(m.method) : undefined,
          headers: m.headers,
        })),
        filters: r.filters,
        backendRefs: r.backendRefs,
      })),
    },
  };
}
