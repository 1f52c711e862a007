/**
 * The route decision: a request and one service port's compiled routes → what to do, with no I/O.
 * Rules (each tested in test/unit/l7/route/decide.test.ts):
 *  - no route object applies to the port: the port's default cluster, Istio's default retry policy;
 *  - routes are tried in order, the first rule with a matching entry wins (an entry's fields AND,
 *    entries OR, no entries = catch-all); nothing matches: 404, flag NR;
 *  - a route action picks a backend by weight (share = w / Σw, zero weights never chosen); a backend
 *    whose cluster is unknown (missing service or subset) gives `missingStatus` (503 NC; 500 for
 *    Gateway API routes), as does a route with no weight at all;
 *  - rewrites: prefix (of the matched prefix), full path, regex, authority; the query is kept;
 *  - redirects build `location` from the request and the action; direct responses are answered as is.
 */
import type { CompiledConfig, CompiledMatch, CompiledPort, CompiledRoute } from '../compile.js';
import type { Cluster, CorsPolicy, FaultPolicy, HeaderOps, MirrorPolicy, RetryPolicy } from '../model.js';
import { matchRequest, type RequestView } from './match.js';

/** Istio's mesh default retry policy (`route/retry/retry.go`). */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  attempts: 2,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
  codes: [],
  backoffMs: 25,
}) as RetryPolicy;

export type Decision =
  | {
      kind: 'forward';
      routeName: string;
      cluster: Cluster;
      /** Path with query, after rewrites. */
      path: string;
      authority: string;
      timeoutMs: number;
      retry: RetryPolicy;
      fault: FaultPolicy | undefined;
      mirrors: MirrorPolicy[] | undefined;
      cors: CorsPolicy | undefined;
      /** Header operations in the order they apply (route, then backend). */
      requestHeaders: HeaderOps[];
      responseHeaders: HeaderOps[];
    }
  | {
      kind: 'respond';
      routeName: string;
      status: number;
      body: string;
      /** Envoy response flag ('-' when none). */
      flag: string;
      details: string;
      location?: string;
      requestHeaders: HeaderOps[];
      responseHeaders: HeaderOps[];
    };

const NONE: HeaderOps[] = [];

export function decide(
  req: RequestView,
  port: CompiledPort,
  cfg: CompiledConfig,
  random: () => number,
): Decision {
  if (!port.routes) {
    const cluster = cfg.clusters.get(port.defaultCluster);
    if (!cluster) return respond('', 503, 'no healthy upstream', 'NC', 'cluster_not_found');
    return forward('default', cluster, req.path + queryPart(req), req.authority, DEFAULT_RETRY);
  }
  for (const route of port.routes) {
    const m = firstMatch(route, req);
    if (m === false) continue;
    return act(route, m, req, cfg, random);
  }
  return respond('', 404, '', 'NR', 'route_not_found');
}

/** The matching entry (undefined for a catch-all rule), or false. */
function firstMatch(route: CompiledRoute, req: RequestView): CompiledMatch | undefined | false {
  if (route.matches.length === 0) return undefined;
  for (const m of route.matches) if (matchRequest(m, req)) return m;
  return false;
}

function act(
  route: CompiledRoute,
  m: CompiledMatch | undefined,
  req: RequestView,
  cfg: CompiledConfig,
  random: () => number,
): Decision {
  const a = route.action;
  if (a.kind === 'direct') {
    return {
      ...respond(route.name, a.status, a.body ?? '', '-', 'direct_response'),
      requestHeaders: a.requestHeaders ? [a.requestHeaders] : NONE,
      responseHeaders: a.responseHeaders ? [a.responseHeaders] : NONE,
    };
  }
  if (a.kind === 'redirect') {
    const [host, reqPort] = splitHostPort(req.authority);
    const scheme = a.scheme ?? req.scheme ?? 'http';
    const port = a.port ?? (a.scheme ? undefined : reqPort);
    const defaultPort = scheme === 'https' ? 443 : 80;
    const hostPart = `${a.host ?? host}${port !== undefined && port !== defaultPort ? `:${port}` : ''}`;
    let path = req.path;
    if (a.path !== undefined) path = a.path;
    else if (a.prefix !== undefined) path = replacePrefix(req.path, m, a.prefix);
    const d = respond(route.name, a.status, '', '-', 'via_upstream') as Extract<
      Decision,
      { kind: 'respond' }
    >;
    d.location = `${scheme}://${hostPart}${path}${queryPart(req)}`;
    if (a.requestHeaders) d.requestHeaders = [a.requestHeaders];
    if (a.responseHeaders) d.responseHeaders = [a.responseHeaders];
    return d;
  }
  const missing = a.missingStatus ?? 503;
  if (route.totalWeight <= 0) return respond(route.name, missing, 'no healthy upstream', 'NC', 'no_backend');
  const backend = weightedPick(a.backends, route.totalWeight, random);
  const cluster = cfg.clusters.get(backend.cluster);
  if (!cluster) return respond(route.name, missing, 'no healthy upstream', 'NC', 'cluster_not_found');
  let path = req.path;
  const rw = a.rewrite;
  if (rw?.fullPath !== undefined) path = rw.fullPath;
  else if (rw?.prefix !== undefined) path = replacePrefix(req.path, m, rw.prefix);
  else if (rw?.regex && route.regexRewrite) {
    route.regexRewrite.lastIndex = 0;
    path = req.path.replace(route.regexRewrite, rw.regex.substitution);
  }
  const d = forward(
    route.name,
    cluster,
    path + queryPart(req),
    rw?.authority ?? req.authority,
    a.retry ?? DEFAULT_RETRY,
  );
  if (d.kind !== 'forward') return d;
  d.timeoutMs = a.timeoutMs ?? 0;
  d.fault = a.fault;
  d.mirrors = a.mirrors;
  d.cors = a.cors;
  const reqOps: HeaderOps[] = [];
  const resOps: HeaderOps[] = [];
  if (a.requestHeaders) reqOps.push(a.requestHeaders);
  if (backend.requestHeaders) reqOps.push(backend.requestHeaders);
  if (a.responseHeaders) resOps.push(a.responseHeaders);
  if (backend.responseHeaders) resOps.push(backend.responseHeaders);
  d.requestHeaders = reqOps.length ? reqOps : NONE;
  d.responseHeaders = resOps.length ? resOps : NONE;
  return d;
}

/** Replaces the matched prefix of `path` with `replacement` ("/" strips it, as Gateway API's ReplacePrefixMatch). */
export function replacePrefix(path: string, m: CompiledMatch | undefined, replacement: string): string {
  const p = m?.path;
  if (!p || (p.kind !== 'prefix' && p.kind !== 'pathPrefix')) return replacement + path.replace(/^\//, '');
  const prefix = p.value === '/' ? '' : p.value;
  const rest = path.slice(prefix.length);
  if (p.kind === 'pathPrefix') {
    const base = replacement.endsWith('/') ? replacement.slice(0, -1) : replacement;
    const out = base + rest;
    return out === '' ? '/' : out.startsWith('/') ? out : `/${out}`;
  }
  return replacement + rest;
}

function queryPart(req: RequestView): string {
  return req.query === '' ? '' : `?${req.query}`;
}

function splitHostPort(authority: string): [string, number | undefined] {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (!m) return [authority, undefined];
  return [m[1]!, m[2] ? Number(m[2]) : undefined];
}

function forward(
  routeName: string,
  cluster: Cluster,
  path: string,
  authority: string,
  retry: RetryPolicy,
): Decision {
  return {
    kind: 'forward',
    routeName,
    cluster,
    path,
    authority,
    timeoutMs: 0,
    retry,
    fault: undefined,
    mirrors: undefined,
    cors: undefined,
    requestHeaders: NONE,
    responseHeaders: NONE,
  };
}

function respond(routeName: string, status: number, body: string, flag: string, details: string): Decision {
  return {
    kind: 'respond',
    routeName,
    status,
    body,
    flag,
    details,
    requestHeaders: NONE,
    responseHeaders: NONE,
  };
}

/** One of `items` with probability weight / total (`total` > 0: the sum of the weights). */
export function weightedPick<T extends { weight: number }>(
  items: readonly T[],
  total: number,
  random: () => number,
): T {
  let pick = random() * total;
  for (const it of items) {
    if (it.weight <= 0) continue;
    if (pick < it.weight) return it;
    pick -= it.weight;
  }
  return items[items.length - 1]!;
}
