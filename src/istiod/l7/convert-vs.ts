/**
 * VirtualService `http` rules → route rules, as Istio does at a waypoint: first match wins, a rule's
 * `match` entries OR, an entry's fields AND; match entries with `sourceLabels` are dropped (istio#51565);
 * a match entry with `gateways` counts only where it names the proxy being configured (`mesh`: the
 * waypoints and sidecars; a Gateway: the gateway pods it selects), and a rule left with no entry is
 * dropped, as Istio does; retries default to Istio's policy; a fault or mirror without percentage
 * follows Istio's defaults.
 */
import { parseDuration } from '../config/duration.js';
import type {
  HeaderOperationsSpec,
  StringMatchSpec,
  VirtualService,
  VsDestination,
  VsHttpRoute,
} from '../config/types.js';
import type {
  HeaderOps,
  NamedMatch,
  RequestMatch,
  RetryPolicy,
  RouteAction,
  RouteRule,
  StringMatch,
} from '../../l7/model.js';
import { DEFAULT_RETRY } from '../../l7/route/decide.js';
import { clusterName } from './clusters.js';
import type { MeshView } from './mesh-view.js';

/** Wants: every cluster a rule names, so the builder can create them. */
export type ClusterWant = { fqdn: string; port: number; subset?: string };

function sm(m: StringMatchSpec | undefined, ignoreCase = false): StringMatch | undefined {
  if (!m) return undefined;
  if (m.exact !== undefined) return { kind: 'exact', value: m.exact, ignoreCase };
  if (m.prefix !== undefined) return { kind: 'prefix', value: m.prefix, ignoreCase };
  if (m.regex !== undefined) return { kind: 'regex', value: m.regex };
  return { kind: 'present', value: '' };
}

function named(rec: Record<string, StringMatchSpec> | undefined, invert = false): NamedMatch[] | undefined {
  if (!rec) return undefined;
  return Object.entries(rec).map(([name, m]) => ({ name: name.toLowerCase(), match: sm(m)!, invert }));
}

function ops(h: HeaderOperationsSpec | undefined): HeaderOps | undefined {
  return h ? { set: h.set, add: h.add, remove: h.remove } : undefined;
}

export function convertRetries(r: VsHttpRoute['retries']): RetryPolicy {
  if (!r) return DEFAULT_RETRY;
  const retryOn: string[] = [];
  const codes: number[] = [];
  for (const c of (
    r.retryOn ?? 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes'
  ).split(',')) {
    const t = c.trim();
    if (/^\d{3}$/.test(t)) codes.push(Number(t));
    else if (t) retryOn.push(t);
  }
  if (codes.length && !retryOn.includes('retriable-status-codes')) retryOn.push('retriable-status-codes');
  return {
    attempts: r.attempts ?? 2,
    perTryTimeoutMs: r.perTryTimeout ? parseDuration(r.perTryTimeout) : undefined,
    retryOn,
    codes,
    backoffMs: 25,
  };
}

function pct(p: { value?: number } | undefined, dflt: number): number {
  return p?.value ?? dflt;
}

/**
 * Whether a match entry's `gateways` (if any) names `where`: `mesh`, or a Gateway as `NS/NAME`. Short
 * names are in the VirtualService's namespace.
 */
export function matchAppliesAt(gateways: string[] | undefined, vsNs: string, where: string): boolean {
  if (!gateways || gateways.length === 0) return true;
  return gateways.some((ref) => (ref === 'mesh' ? where === 'mesh' : gatewayKey(ref, vsNs) === where));
}

/** A VirtualService's Gateway reference (`NAME` in its namespace, or `NS/NAME`) as `NS/NAME`. */
export function gatewayKey(ref: string, vsNs: string): string {
  return ref.includes('/') ? ref : `${vsNs}/${ref}`;
}

export function convertVirtualService(
  vs: VirtualService,
  view: MeshView,
  servicePort: number,
  want: (w: ClusterWant) => string,
  /** The proxy being configured: `mesh` (waypoint, sidecar) or a Gateway's `NS/NAME`. */
  where = 'mesh',
): RouteRule[] {
  const ns = vs.metadata.namespace ?? 'default';
  const dest = (d: VsDestination): string => {
    const fqdn = view.resolveHost(d.host, ns);
    const svc = view.byHost.get(fqdn);
    const port = d.port?.number ?? (svc?.spec?.ports?.length === 1 ? svc.spec.ports[0]!.port : servicePort);
    return want({ fqdn, port, subset: d.subset });
  };
  const out: RouteRule[] = [];
  (vs.spec.http ?? []).forEach((r, i) => {
    const entries = r.match ?? [];
    // As Istio's route translation: an entry naming gateways is decided by them alone (its
    // sourceLabels are not looked at); one without is dropped when it has sourceLabels.
    const kept = entries.filter(
      (m) =>
        (m.port === undefined || m.port === servicePort) &&
        (m.gateways?.length ? matchAppliesAt(m.gateways, ns, where) : !m.sourceLabels),
    );
    if (entries.length > 0 && kept.length === 0) return;
    const matches: RequestMatch[] = kept.map((m) => ({
      path: m.uri
        ? { ...(sm(m.uri, m.ignoreUriCase === true) as StringMatch & { kind: 'exact' | 'prefix' | 'regex' }) }
        : undefined,
      method: m.method?.exact,
      headers: [...(named(m.headers) ?? []), ...(named(m.withoutHeaders, true) ?? [])],
      query: named(m.queryParams),
      authority: sm(m.authority),
    }));
    const reqOps = ops(r.headers?.request);
    const resOps = ops(r.headers?.response);
    let action: RouteAction;
    if (r.redirect) {
      action = {
        kind: 'redirect',
        status: r.redirect.redirectCode ?? 301,
        path: r.redirect.uri,
        host: r.redirect.authority,
        scheme: r.redirect.scheme,
        port: r.redirect.port,
        requestHeaders: reqOps,
        responseHeaders: resOps,
      };
    } else if (r.directResponse) {
      action = {
        kind: 'direct',
        status: r.directResponse.status,
        body: r.directResponse.body?.string,
        responseHeaders: resOps,
      };
    } else {
      const routes = r.route ?? [];
      const mirrors = [
        ...(r.mirror ? [{ cluster: dest(r.mirror), percent: pct(r.mirrorPercentage, 100) }] : []),
        ...(r.mirrors ?? []).map((m) => ({ cluster: dest(m.destination), percent: pct(m.percentage, 100) })),
      ].filter((m) => m.percent > 0);
      const f = r.fault;
      action = {
        kind: 'route',
        backends: routes.map((d) => ({
          cluster: dest(d.destination),
          weight: routes.length === 1 ? (d.weight ?? 100) || 100 : (d.weight ?? 0),
          requestHeaders: ops(d.headers?.request),
          responseHeaders: ops(d.headers?.response),
        })),
        rewrite: r.rewrite
          ? {
              prefix: r.rewrite.uri,
              authority: r.rewrite.authority,
              regex: r.rewrite.uriRegexRewrite
                ? {
                    pattern: r.rewrite.uriRegexRewrite.match,
                    substitution: r.rewrite.uriRegexRewrite.rewrite,
                  }
                : undefined,
            }
          : undefined,
        timeoutMs: r.timeout ? parseDuration(r.timeout) : undefined,
        retry: convertRetries(r.retries),
        fault: f
          ? {
              delay: f.delay
                ? { ms: parseDuration(f.delay.fixedDelay ?? '0s') ?? 0, percent: pct(f.delay.percentage, 0) }
                : undefined,
              abort: f.abort
                ? {
                    status: f.abort.httpStatus ?? 200,
                    grpcStatus: grpcCode(f.abort.grpcStatus),
                    percent: pct(f.abort.percentage, 0),
                  }
                : undefined,
            }
          : undefined,
        mirrors: mirrors.length ? mirrors : undefined,
        requestHeaders: reqOps,
        responseHeaders: resOps,
        cors: r.corsPolicy?.allowOrigins
          ? {
              allowOrigins: r.corsPolicy.allowOrigins.map((o) => sm(o)!),
              allowMethods: r.corsPolicy.allowMethods,
              allowHeaders: r.corsPolicy.allowHeaders,
              exposeHeaders: r.corsPolicy.exposeHeaders,
              maxAgeSeconds: r.corsPolicy.maxAge
                ? Math.round((parseDuration(r.corsPolicy.maxAge) ?? 0) / 1000)
                : undefined,
              allowCredentials: r.corsPolicy.allowCredentials,
            }
          : undefined,
        missingStatus: 503,
      };
    }
    out.push({ name: `VirtualService/${ns}/${vs.metadata.name}#${r.name ?? i}`, matches, action });
  });
  return out;
}

const GRPC_CODES: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

function grpcCode(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  return /^\d+$/.test(s) ? Number(s) : GRPC_CODES[s.toUpperCase()];
}

export { clusterName };
