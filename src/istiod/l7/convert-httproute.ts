/**
 * Gateway API HTTPRoute rules attached to a Service (GAMMA) → route rules. Each match becomes its own
 * rule, ordered as Istio orders them: Exact > PathPrefix (longer first) > RegularExpression > none, then
 * a method match, more header matches, more query matches; ties keep route order (oldest route first,
 * then namespace/name) and rule order. A backend that is not a known Service (or subset), or one in
 * another namespace that no ReferenceGrant there admits, is answered 500.
 */
import type { ConvertedRoute } from './grpc-route.js';
import { GATEWAY_API_GROUP } from './reference-grants.js';
import { parseDuration } from '../config/duration.js';
import type { HTTPRoute, HttpRouteFilterSpec, HttpRouteMatchSpec } from '../config/types.js';
import type {
  Backend,
  HeaderOps,
  MirrorPolicy,
  RequestMatch,
  RouteAction,
  RouteRule,
} from '../../l7/model.js';
import { DEFAULT_RETRY } from '../../l7/route/decide.js';
import type { ClusterWant } from './convert-vs.js';
import type { MeshView } from './mesh-view.js';

function modifier(m: HttpRouteFilterSpec['requestHeaderModifier']): HeaderOps | undefined {
  if (!m) return undefined;
  const pairs = (l: unknown): Record<string, string> | undefined =>
    Array.isArray(l)
      ? Object.fromEntries(l.map((x: { name: string; value: string }) => [x.name, x.value]))
      : undefined;
  return { set: pairs(m.set), add: pairs(m.add), remove: m.remove };
}

function match(m: HttpRouteMatchSpec): RequestMatch {
  const p = m.path ?? { type: 'PathPrefix', value: '/' };
  const kind = p.type === 'Exact' ? 'exact' : p.type === 'RegularExpression' ? 'regex' : 'pathPrefix';
  const nm = (l: HttpRouteMatchSpec['headers']) =>
    (l ?? []).map((h) => ({
      name: h.name.toLowerCase(),
      match: {
        kind: h.type === 'RegularExpression' ? ('regex' as const) : ('exact' as const),
        value: h.value,
      },
    }));
  return {
    path: { kind, value: p.value ?? '/' },
    method: m.method,
    headers: nm(m.headers),
    query: nm(m.queryParams),
  };
}

function rank(m: RequestMatch): number[] {
  const p = m.path;
  const kind = !p ? 3 : p.kind === 'exact' ? 0 : p.kind === 'pathPrefix' ? 1 : 2;
  return [
    kind,
    -(p?.value.length ?? 0),
    m.method ? 0 : 1,
    -(m.headers?.length ?? 0),
    -(m.query?.length ?? 0),
  ];
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Routes attached to a service, oldest first, then by namespace/name (the spec's tie-breakers). */
export function orderRoutes<R extends Pick<HTTPRoute, 'metadata'>>(routes: R[]): R[] {
  return [...routes].sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
  );
}

/** The cluster of a backend the route may not refer to (never built: requests to it get 500). */
const notPermitted = (ns: string, name: string): string => `not-permitted|${ns}/${name}`;

export function convertHttpRoutes(
  routes: ConvertedRoute[],
  view: MeshView,
  servicePort: number,
  want: (w: ClusterWant) => string,
): RouteRule[] {
  const entries: Array<{ rank: number[]; rule: RouteRule }> = [];
  for (const rt of orderRoutes(routes)) {
    const ns = rt.metadata.namespace ?? 'default';
    // A backend in another namespace needs a ReferenceGrant there (Gateway API), else it gets 500.
    const from = { group: GATEWAY_API_GROUP, kind: rt.sourceKind ?? 'HTTPRoute', namespace: ns };
    const permitted = (b: { group?: string; kind?: string; name: string; namespace?: string }): boolean =>
      view.grants.permits(from, {
        group: b.group ?? '',
        kind: b.kind ?? 'Service',
        namespace: b.namespace ?? ns,
        name: b.name,
      });
    (rt.spec.rules ?? []).forEach((rule, i) => {
      const name = `HTTPRoute/${ns}/${rt.metadata.name}#${rule.name ?? i}`;
      const filters = rule.filters ?? [];
      const get = (t: string) => filters.find((f) => f.type === t);
      const reqOps = modifier(get('RequestHeaderModifier')?.requestHeaderModifier);
      const resOps = modifier(get('ResponseHeaderModifier')?.responseHeaderModifier);
      const matches = (rule.matches?.length ? rule.matches : [{}]).map(match);
      let action: RouteAction;
      const redirect = get('RequestRedirect')?.requestRedirect;
      if (redirect) {
        action = {
          kind: 'redirect',
          status: redirect.statusCode ?? 302,
          scheme: redirect.scheme,
          host: redirect.hostname,
          port: redirect.port,
          path: redirect.path?.type === 'ReplaceFullPath' ? redirect.path.replaceFullPath : undefined,
          prefix: redirect.path?.type === 'ReplacePrefixMatch' ? redirect.path.replacePrefixMatch : undefined,
          requestHeaders: reqOps,
          responseHeaders: resOps,
        };
      } else {
        const backends: Backend[] = (rule.backendRefs ?? []).map((b) => {
          const fqdn = view.resolveHost(b.name, b.namespace ?? ns);
          const bf = b.filters ?? [];
          return {
            cluster: permitted(b)
              ? want({ fqdn, port: b.port ?? servicePort })
              : notPermitted(b.namespace ?? ns, b.name),
            weight: b.weight ?? 1,
            requestHeaders: modifier(
              bf.find((f) => f.type === 'RequestHeaderModifier')?.requestHeaderModifier,
            ),
            responseHeaders: modifier(
              bf.find((f) => f.type === 'ResponseHeaderModifier')?.responseHeaderModifier,
            ),
          };
        });
        const rw = get('URLRewrite')?.urlRewrite;
        const mirrors: MirrorPolicy[] = filters
          .filter(
            (f) => f.type === 'RequestMirror' && f.requestMirror && permitted(f.requestMirror.backendRef),
          )
          .map((f) => {
            const m = f.requestMirror!;
            const percent =
              m.percent ??
              (m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : 100);
            return {
              cluster: want({
                fqdn: view.resolveHost(m.backendRef.name, m.backendRef.namespace ?? ns),
                port: m.backendRef.port ?? servicePort,
              }),
              percent,
            };
          });
        const request = rule.timeouts?.request ? parseDuration(rule.timeouts.request) : undefined;
        const backendReq = rule.timeouts?.backendRequest
          ? parseDuration(rule.timeouts.backendRequest)
          : undefined;
        const retry = rule.retry
          ? {
              attempts: rule.retry.attempts ?? 2,
              retryOn: [
                'connect-failure',
                'refused-stream',
                'unavailable',
                'cancelled',
                'retriable-status-codes',
              ],
              codes: rule.retry.codes ?? [],
              perTryTimeoutMs: backendReq,
              backoffMs: rule.retry.backoff ? parseDuration(rule.retry.backoff) : 25,
            }
          : DEFAULT_RETRY;
        action = {
          kind: 'route',
          backends,
          rewrite: rw
            ? {
                authority: rw.hostname,
                fullPath: rw.path?.type === 'ReplaceFullPath' ? rw.path.replaceFullPath : undefined,
                prefix: rw.path?.type === 'ReplacePrefixMatch' ? rw.path.replacePrefixMatch : undefined,
              }
            : undefined,
          timeoutMs: request ?? (rule.retry ? undefined : backendReq),
          retry,
          mirrors: mirrors.length ? mirrors : undefined,
          requestHeaders: reqOps,
          responseHeaders: resOps,
          missingStatus: 500,
        };
      }
      for (const m of matches) entries.push({ rank: rank(m), rule: { name, matches: [m], action } });
    });
  }
  // Array.prototype.sort is stable: equal ranks keep route and rule order.
  return entries.sort((a, b) => compareRank(a.rank, b.rank)).map((e) => e.rule);
}
