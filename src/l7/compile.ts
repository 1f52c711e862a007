/**
 * Compiles an L7Config once per push: regular expressions built, lookups by `ip:port`, clusters by
 * name, weights summed. The per-request path (route/decide.ts) reads only compiled objects.
 */
import type {
  Cluster,
  L7Config,
  NamedMatch,
  PathMatch,
  RequestMatch,
  RouteAction,
  RouteRule,
  ServiceConfig,
  ServicePort,
  StringMatch,
} from './model.js';

export interface CompiledString {
  kind: StringMatch['kind'];
  value: string;
  ignoreCase: boolean;
  re: RegExp | undefined;
}

export interface CompiledPath {
  kind: PathMatch['kind'];
  value: string;
  ignoreCase: boolean;
  re: RegExp | undefined;
}

export interface CompiledNamed {
  name: string;
  match: CompiledString;
  invert: boolean;
}

export interface CompiledMatch {
  path: CompiledPath | undefined;
  method: string | undefined;
  headers: CompiledNamed[];
  query: CompiledNamed[];
  authority: CompiledString | undefined;
}

export interface CompiledRoute {
  name: string;
  matches: CompiledMatch[];
  action: RouteAction;
  /** Sum of backend weights (route actions). */
  totalWeight: number;
  regexRewrite: RegExp | undefined;
}

export interface CompiledPort {
  service: ServiceConfig;
  port: ServicePort;
  routes: CompiledRoute[] | undefined;
  defaultCluster: string;
}

export interface CompiledConfig {
  source: L7Config;
  /** `ip:port` (service VIP) → port config. */
  byVip: Map<string, CompiledPort>;
  /** `ip:port` (endpoint pod IP, target port) → the service port it serves. */
  byEndpoint: Map<string, CompiledPort>;
  clusters: Map<string, Cluster>;
  /** Percentage of started traces sampled. */
  samplingPercent: number;
}

/** Istio's default trace sampling (PILOT_TRACE_SAMPLING), percent. */
export const DEFAULT_TRACE_SAMPLING = 1;

/** A regex for full-string matching (RE2 semantics are close enough for the patterns users write). */
function fullRegex(pattern: string, flags = ''): RegExp {
  return new RegExp(`^(?:${pattern})$`, flags);
}

export function compileString(m: StringMatch): CompiledString {
  const ignoreCase = m.ignoreCase === true;
  return {
    kind: m.kind,
    value: ignoreCase ? m.value.toLowerCase() : m.value,
    ignoreCase,
    re: m.kind === 'regex' ? fullRegex(m.value) : undefined,
  };
}

function compilePath(m: PathMatch): CompiledPath {
  const ignoreCase = m.ignoreCase === true;
  let value = ignoreCase ? m.value.toLowerCase() : m.value;
  // Gateway API prefixes are path-separated; a trailing slash adds nothing ("/foo/" == "/foo").
  if (m.kind === 'pathPrefix' && value.length > 1 && value.endsWith('/')) value = value.slice(0, -1);
  return { kind: m.kind, value, ignoreCase, re: m.kind === 'regex' ? fullRegex(m.value) : undefined };
}

function compileNamed(n: NamedMatch): CompiledNamed {
  return { name: n.name.toLowerCase(), match: compileString(n.match), invert: n.invert === true };
}

function compileMatch(m: RequestMatch): CompiledMatch {
  return {
    path: m.path ? compilePath(m.path) : undefined,
    method: m.method?.toUpperCase(),
    headers: (m.headers ?? []).map(compileNamed),
    query: (m.query ?? []).map(compileNamed),
    authority: m.authority ? compileString(m.authority) : undefined,
  };
}

export function compileRoute(r: RouteRule): CompiledRoute {
  const a = r.action;
  const totalWeight = a.kind === 'route' ? a.backends.reduce((s, b) => s + Math.max(0, b.weight), 0) : 0;
  const rx = a.kind === 'route' ? a.rewrite?.regex : undefined;
  return {
    name: r.name,
    matches: r.matches.map(compileMatch),
    action: a,
    totalWeight,
    regexRewrite: rx ? new RegExp(rx.pattern, 'g') : undefined,
  };
}

export function compileConfig(cfg: L7Config): CompiledConfig {
  const clusters = new Map(cfg.clusters.map((c) => [c.name, c]));
  const byVip = new Map<string, CompiledPort>();
  const byEndpoint = new Map<string, CompiledPort>();
  for (const service of cfg.services) {
    for (const port of service.ports) {
      const cp: CompiledPort = {
        service,
        port,
        routes: port.routes?.map(compileRoute),
        defaultCluster: port.defaultCluster,
      };
      for (const vip of service.vips) byVip.set(`${vip}:${port.port}`, cp);
      for (const ep of clusters.get(port.defaultCluster)?.endpoints ?? []) {
        byEndpoint.set(`${ep.ip}:${ep.port}`, cp);
      }
    }
  }
  const samplingPercent = cfg.tracing?.samplingPercent ?? DEFAULT_TRACE_SAMPLING;
  return { source: cfg, byVip, byEndpoint, clusters, samplingPercent };
}

/** The service port a tunnel's authority names: a service VIP:port, else a bound pod IP:port. */
export function portFor(cfg: CompiledConfig, ip: string, port: number): CompiledPort | undefined {
  const key = `${ip}:${port}`;
  return cfg.byVip.get(key) ?? cfg.byEndpoint.get(key);
}
