/**
 * Spec checks for HTTPRoute, VirtualService and DestinationRule: each problem names its field path, so a
 * bad route is rejected whole (its last good version keeps serving) with a message saying what to fix.
 */
import { parseDuration } from './duration.js';
import { show, type Fields } from './fields.js';
import { connectionPool, outlierDetection } from './validate-traffic-policy.js';

type Obj = Record<string, unknown>;

const HTTPROUTE_FILTERS = [
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'RequestMirror',
];
const LB_SIMPLE = ['UNSPECIFIED', 'LEAST_REQUEST', 'LEAST_CONN', 'ROUND_ROBIN', 'RANDOM', 'PASSTHROUGH'];

function regex(f: Fields, v: unknown, path: string): void {
  if (typeof v !== 'string') return;
  try {
    new RegExp(v);
  } catch (err) {
    f.add(path, `${show(v)} is not a valid regular expression (${(err as Error).message})`);
  }
}

function duration(f: Fields, v: unknown, path: string): void {
  const s = f.string(v, path);
  if (s !== undefined && parseDuration(s) === undefined)
    f.add(path, `${show(s)} is not a duration such as 1s, 500ms or 1m30s`);
}

function percent(f: Fields, v: unknown, path: string): void {
  const o = f.object(v, path);
  if (!o) return;
  if (typeof o.value !== 'number' || o.value < 0 || o.value > 100)
    f.add(`${path}.value`, `${show(o.value)} must be a number from 0 to 100`);
}

function stringMatch(f: Fields, v: unknown, path: string): void {
  const m = f.object(v, path);
  if (!m) return;
  const kinds = ['exact', 'prefix', 'regex'].filter((k) => m[k] !== undefined);
  if (kinds.length > 1) f.add(path, `set one of exact, prefix, regex (got ${kinds.join(', ')})`);
  for (const k of kinds) f.string(m[k], `${path}.${k}`);
  regex(f, m.regex, `${path}.regex`);
}

function headerOps(f: Fields, v: unknown, path: string): void {
  const o = f.object(v, path);
  if (!o) return;
  f.stringMap(o.set, `${path}.set`);
  f.stringMap(o.add, `${path}.add`);
  f.strings(o.remove, `${path}.remove`);
}

function destination(f: Fields, v: unknown, path: string): void {
  const d = f.object(v, path, { required: true });
  if (!d) return;
  f.string(d.host, `${path}.host`, { required: true, nonEmpty: true });
  f.string(d.subset, `${path}.subset`);
  const p = f.object(d.port, `${path}.port`);
  if (p) f.port(p.number, `${path}.port.number`);
}

/** `gateways` lists: `mesh`, a Gateway's NAME (in the VirtualService's namespace) or NAMESPACE/NAME. */
function gatewayRefs(f: Fields, v: unknown, path: string): void {
  f.strings(v, path)?.forEach((g, i) => {
    const parts = g.split('/');
    const ok = parts.length <= 2 && parts.every((x) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(x));
    if (!ok) f.add(`${path}[${i}]`, `${JSON.stringify(g)} is not mesh, a Gateway NAME or NAMESPACE/NAME`);
  });
}

function checkVirtualService(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  f.strings(spec.hosts, 'spec.hosts', { required: true, nonEmpty: true });
  gatewayRefs(f, spec.gateways, 'spec.gateways');
  f.objects(spec.http, 'spec.http', (r, p) => {
    f.string(r.name, `${p}.name`);
    f.objects(r.match, `${p}.match`, (m, mp) => {
      stringMatch(f, m.uri, `${mp}.uri`);
      stringMatch(f, m.method, `${mp}.method`);
      stringMatch(f, m.authority, `${mp}.authority`);
      for (const key of ['headers', 'withoutHeaders', 'queryParams']) {
        const h = f.object(m[key], `${mp}.${key}`);
        if (h) for (const [k, v] of Object.entries(h)) stringMatch(f, v, `${mp}.${key}.${k}`);
      }
      f.bool(m.ignoreUriCase, `${mp}.ignoreUriCase`);
      f.port(m.port, `${mp}.port`);
      gatewayRefs(f, m.gateways, `${mp}.gateways`);
    });
    const actions = ['route', 'redirect', 'directResponse'].filter((k) => r[k] !== undefined);
    if (actions.length !== 1)
      f.add(p, `set exactly one of route, redirect, directResponse (got ${actions.join(', ') || 'none'})`);
    f.objects(r.route, `${p}.route`, (d, dp) => {
      destination(f, d.destination, `${dp}.destination`);
      f.int(d.weight, `${dp}.weight`, { min: 0 });
      const h = f.object(d.headers, `${dp}.headers`);
      if (h) {
        headerOps(f, h.request, `${dp}.headers.request`);
        headerOps(f, h.response, `${dp}.headers.response`);
      }
    });
    const red = f.object(r.redirect, `${p}.redirect`);
    if (red) {
      f.int(red.redirectCode, `${p}.redirect.redirectCode`, { min: 300, max: 399 });
      f.port(red.port, `${p}.redirect.port`);
    }
    const dr = f.object(r.directResponse, `${p}.directResponse`);
    if (dr) f.int(dr.status, `${p}.directResponse.status`, { required: true, min: 200, max: 599 });
    const rw = f.object(r.rewrite, `${p}.rewrite`);
    if (rw) {
      f.string(rw.uri, `${p}.rewrite.uri`);
      f.string(rw.authority, `${p}.rewrite.authority`);
      const rr = f.object(rw.uriRegexRewrite, `${p}.rewrite.uriRegexRewrite`);
      if (rr) regex(f, rr.match, `${p}.rewrite.uriRegexRewrite.match`);
    }
    duration(f, r.timeout, `${p}.timeout`);
    const rt = f.object(r.retries, `${p}.retries`);
    if (rt) {
      f.int(rt.attempts, `${p}.retries.attempts`, { min: 0 });
      duration(f, rt.perTryTimeout, `${p}.retries.perTryTimeout`);
      f.string(rt.retryOn, `${p}.retries.retryOn`);
    }
    const fault = f.object(r.fault, `${p}.fault`);
    if (fault) {
      const d = f.object(fault.delay, `${p}.fault.delay`);
      if (d) {
        duration(f, d.fixedDelay, `${p}.fault.delay.fixedDelay`);
        percent(f, d.percentage, `${p}.fault.delay.percentage`);
      }
      const a = f.object(fault.abort, `${p}.fault.abort`);
      if (a) {
        if (a.httpStatus === undefined && a.grpcStatus === undefined)
          f.add(`${p}.fault.abort`, 'set httpStatus or grpcStatus');
        f.int(a.httpStatus, `${p}.fault.abort.httpStatus`, { min: 200, max: 599 });
        percent(f, a.percentage, `${p}.fault.abort.percentage`);
      }
    }
    if (r.mirror !== undefined) destination(f, r.mirror, `${p}.mirror`);
    percent(f, r.mirrorPercentage, `${p}.mirrorPercentage`);
    f.objects(r.mirrors, `${p}.mirrors`, (m, mp) => {
      destination(f, m.destination, `${mp}.destination`);
      percent(f, m.percentage, `${mp}.percentage`);
    });
    const h = f.object(r.headers, `${p}.headers`);
    if (h) {
      headerOps(f, h.request, `${p}.headers.request`);
      headerOps(f, h.response, `${p}.headers.response`);
    }
    const cors = f.object(r.corsPolicy, `${p}.corsPolicy`);
    if (cors) {
      f.objects(cors.allowOrigins, `${p}.corsPolicy.allowOrigins`, (m, mp) => stringMatch(f, m, mp));
      duration(f, cors.maxAge, `${p}.corsPolicy.maxAge`);
    }
  });
  // TLS routes (passthrough at a gateway): by the ClientHello's server name.
  f.objects(spec.tls, 'spec.tls', (r, p) => {
    f.objects(
      r.match,
      `${p}.match`,
      (m, mp) => {
        f.strings(m.sniHosts, `${mp}.sniHosts`, { required: true, nonEmpty: true });
        f.port(m.port, `${mp}.port`);
        gatewayRefs(f, m.gateways, `${mp}.gateways`);
      },
      { required: true, nonEmpty: true },
    );
    f.objects(
      r.route,
      `${p}.route`,
      (d, dp) => {
        destination(f, d.destination, `${dp}.destination`);
        f.int(d.weight, `${dp}.weight`, { min: 0 });
      },
      { required: true, nonEmpty: true },
    );
  });
}

function loadBalancer(f: Fields, v: unknown, path: string): void {
  const lb = f.object(v, path);
  if (!lb) return;
  f.oneOf(lb.simple, `${path}.simple`, LB_SIMPLE);
  const ch = f.object(lb.consistentHash, `${path}.consistentHash`);
  if (ch) {
    const keys = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'].filter(
      (k) => ch[k] !== undefined,
    );
    if (keys.length !== 1)
      f.add(
        `${path}.consistentHash`,
        'set exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName',
      );
  }
  if (lb.simple !== undefined && ch) f.add(path, 'simple and consistentHash cannot both be set');
}

function trafficPolicy(f: Fields, v: unknown, path: string): void {
  const tp = f.object(v, path);
  if (!tp) return;
  loadBalancer(f, tp.loadBalancer, `${path}.loadBalancer`);
  connectionPool(f, tp.connectionPool, `${path}.connectionPool`);
  outlierDetection(f, tp.outlierDetection, `${path}.outlierDetection`);
  f.objects(tp.portLevelSettings, `${path}.portLevelSettings`, (pl, pp) => {
    const port = f.object(pl.port, `${pp}.port`, { required: true });
    if (port) f.port(port.number, `${pp}.port.number`, { required: true });
    loadBalancer(f, pl.loadBalancer, `${pp}.loadBalancer`);
    connectionPool(f, pl.connectionPool, `${pp}.connectionPool`);
    outlierDetection(f, pl.outlierDetection, `${pp}.outlierDetection`);
  });
}

function checkDestinationRule(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  f.string(spec.host, 'spec.host', { required: true, nonEmpty: true });
  trafficPolicy(f, spec.trafficPolicy, 'spec.trafficPolicy');
  const names = new Set<string>();
  f.objects(spec.subsets, 'spec.subsets', (s, p) => {
    const n = f.string(s.name, `${p}.name`, { required: true, nonEmpty: true });
    if (n !== undefined && names.has(n)) f.add(`${p}.name`, `${show(n)} is used by another subset`);
    if (n !== undefined) names.add(n);
    f.labels(s.labels, `${p}.labels`);
    trafficPolicy(f, s.trafficPolicy, `${p}.trafficPolicy`);
  });
}

/** Gateway API routes' parents (a Service for GAMMA): a name, an optional port. */
function parentRefs(f: Fields, spec: Obj): void {
  f.objects(spec.parentRefs, 'spec.parentRefs', (r, p) => {
    f.string(r.name, `${p}.name`, { required: true, nonEmpty: true });
    f.port(r.port, `${p}.port`);
  });
}

/** ReferenceGrant: `from` (group, kind, namespace) and `to` (group, kind, optional name), both non-empty. */
function checkReferenceGrant(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  f.objects(
    spec.from,
    'spec.from',
    (r, p) => {
      f.string(r.group, `${p}.group`, { required: true });
      f.string(r.kind, `${p}.kind`, { required: true, nonEmpty: true });
      const ns = f.string(r.namespace, `${p}.namespace`, { required: true, nonEmpty: true });
      if (ns) f.dnsLabel(ns, `${p}.namespace`);
    },
    { required: true, nonEmpty: true },
  );
  f.objects(
    spec.to,
    'spec.to',
    (r, p) => {
      f.string(r.group, `${p}.group`, { required: true });
      f.string(r.kind, `${p}.kind`, { required: true, nonEmpty: true });
      f.string(r.name, `${p}.name`);
    },
    { required: true, nonEmpty: true },
  );
}

function checkHttpRoute(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  parentRefs(f, spec);
  f.objects(spec.rules, 'spec.rules', (rule, p) => {
    f.objects(rule.matches, `${p}.matches`, (m, mp) => {
      const path = f.object(m.path, `${mp}.path`);
      if (path) {
        f.oneOf(path.type, `${mp}.path.type`, ['Exact', 'PathPrefix', 'RegularExpression']);
        const v = f.string(path.value, `${mp}.path.value`);
        if (v !== undefined && path.type !== 'RegularExpression' && !v.startsWith('/'))
          f.add(`${mp}.path.value`, `${show(v)} must start with /`);
        if (path.type === 'RegularExpression') regex(f, path.value, `${mp}.path.value`);
      }
      for (const key of ['headers', 'queryParams']) {
        f.objects(m[key], `${mp}.${key}`, (h, hp) => {
          f.oneOf(h.type, `${hp}.type`, ['Exact', 'RegularExpression']);
          f.string(h.name, `${hp}.name`, { required: true, nonEmpty: true });
          f.string(h.value, `${hp}.value`, { required: true });
          if (h.type === 'RegularExpression') regex(f, h.value, `${hp}.value`);
        });
      }
      f.oneOf(m.method, `${mp}.method`, [
        'GET',
        'HEAD',
        'POST',
        'PUT',
        'DELETE',
        'CONNECT',
        'OPTIONS',
        'TRACE',
        'PATCH',
      ]);
    });
    const filters = (v: unknown, fp: string): void =>
      f.objects(v, fp, (flt, p2) => {
        const t = f.string(flt.type, `${p2}.type`, { required: true });
        if (t !== undefined && !HTTPROUTE_FILTERS.includes(t))
          f.add(`${p2}.type`, `${show(t)} is not supported; supported: ${HTTPROUTE_FILTERS.join(', ')}`);
      });
    filters(rule.filters, `${p}.filters`);
    f.objects(rule.backendRefs, `${p}.backendRefs`, (b, bp) => {
      f.string(b.name, `${bp}.name`, { required: true, nonEmpty: true });
      f.port(b.port, `${bp}.port`);
      f.int(b.weight, `${bp}.weight`, { min: 0, max: 1_000_000 });
      if (b.kind !== undefined && b.kind !== 'Service')
        f.add(`${bp}.kind`, `${show(b.kind)} is not supported; use Service`);
      filters(b.filters, `${bp}.filters`);
    });
    const t = f.object(rule.timeouts, `${p}.timeouts`);
    if (t) {
      duration(f, t.request, `${p}.timeouts.request`);
      duration(f, t.backendRequest, `${p}.timeouts.backendRequest`);
    }
    const r = f.object(rule.retry, `${p}.retry`);
    if (r) {
      f.int(r.attempts, `${p}.retry.attempts`, { min: 0 });
      duration(f, r.backoff, `${p}.retry.backoff`);
    }
  });
}

const GRPCROUTE_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror'];

/** TLSRoute: parents, server names, and per rule the backends (Services with a port). */
function checkTlsRoute(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  parentRefs(f, spec);
  f.strings(spec.hostnames, 'spec.hostnames');
  f.objects(
    spec.rules,
    'spec.rules',
    (rule, p) => {
      f.objects(
        rule.backendRefs,
        `${p}.backendRefs`,
        (b, bp) => {
          f.string(b.name, `${bp}.name`, { required: true, nonEmpty: true });
          f.string(b.namespace, `${bp}.namespace`);
          f.port(b.port, `${bp}.port`, { required: true });
          f.int(b.weight, `${bp}.weight`, { min: 0 });
        },
        { required: true, nonEmpty: true },
      );
    },
    { required: true, nonEmpty: true },
  );
}

function checkGrpcRoute(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  parentRefs(f, spec);
  f.objects(spec.rules, 'spec.rules', (rule, p) => {
    f.objects(rule.matches, `${p}.matches`, (m, mp) => {
      const meth = f.object(m.method, `${mp}.method`);
      if (meth) {
        f.oneOf(meth.type, `${mp}.method.type`, ['Exact', 'RegularExpression']);
        f.string(meth.service, `${mp}.method.service`);
        f.string(meth.method, `${mp}.method.method`);
        if (meth.service === undefined && meth.method === undefined)
          f.add(`${mp}.method`, 'set service, method or both');
        if (meth.type === 'RegularExpression') {
          regex(f, meth.service, `${mp}.method.service`);
          regex(f, meth.method, `${mp}.method.method`);
        }
      }
      f.objects(m.headers, `${mp}.headers`, (h, hp) => {
        f.oneOf(h.type, `${hp}.type`, ['Exact', 'RegularExpression']);
        f.string(h.name, `${hp}.name`, { required: true, nonEmpty: true });
        f.string(h.value, `${hp}.value`, { required: true });
      });
    });
    f.objects(rule.filters, `${p}.filters`, (flt, fp) => {
      const t = f.string(flt.type, `${fp}.type`, { required: true });
      if (t !== undefined && !GRPCROUTE_FILTERS.includes(t))
        f.add(`${fp}.type`, `${show(t)} is not supported; supported: ${GRPCROUTE_FILTERS.join(', ')}`);
    });
    f.objects(rule.backendRefs, `${p}.backendRefs`, (b, bp) => {
      f.string(b.name, `${bp}.name`, { required: true, nonEmpty: true });
      f.port(b.port, `${bp}.port`);
      f.int(b.weight, `${bp}.weight`, { min: 0, max: 1_000_000 });
    });
  });
}

export const ROUTING_CHECKS: Record<string, (f: Fields, o: Obj) => void> = {
  VirtualService: checkVirtualService,
  DestinationRule: checkDestinationRule,
  HTTPRoute: checkHttpRoute,
  GRPCRoute: checkGrpcRoute,
  ReferenceGrant: checkReferenceGrant,
  TLSRoute: checkTlsRoute,
};
