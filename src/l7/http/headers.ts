/** Header handling: hop-by-hop removal, Istio/Envoy header operations, response decoration. */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { HeaderOps } from '../model.js';

/** Removed when forwarding (RFC 9110 §7.6.1, plus HTTP/2's forbidden connection headers). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
]);

/**
 * Request headers for the upstream: pseudo-headers and hop-by-hop headers dropped (`te` kept only as
 * `trailers`, which gRPC needs), the operations applied in order. Returns the headers and the authority,
 * which `host` / `:authority` operations rewrite.
 */
export function upstreamRequestHeaders(
  down: IncomingHttpHeaders,
  authority: string,
  ops: readonly HeaderOps[],
): { headers: OutgoingHttpHeaders; authority: string } {
  const out: OutgoingHttpHeaders = {};
  for (const name in down) {
    if (name.charCodeAt(0) === 58 /* : */ || HOP_BY_HOP.has(name)) continue;
    const v = down[name];
    if (v === undefined) continue;
    if (name === 'te') {
      if (String(v).toLowerCase().includes('trailers')) out.te = 'trailers';
      continue;
    }
    out[name] = v;
  }
  for (const op of ops) authority = applyOps(out, op, authority);
  return { headers: out, authority };
}

/** Applies one set of operations: set overwrites, add appends, remove deletes; `host` rewrites the authority. */
export function applyOps(h: OutgoingHttpHeaders, op: HeaderOps, authority = ''): string {
  if (op.set) {
    for (const [k, v] of Object.entries(op.set)) {
      const n = k.toLowerCase();
      if (n === 'host' || n === ':authority') authority = v;
      else h[n] = v;
    }
  }
  if (op.add) {
    for (const [k, v] of Object.entries(op.add)) {
      const n = k.toLowerCase();
      if (n === 'host' || n === ':authority') {
        if (!op.set || !(k in op.set)) authority = v;
        continue;
      }
      const cur = h[n];
      if (cur === undefined) h[n] = v;
      else h[n] = Array.isArray(cur) ? [...cur, v] : [String(cur), v];
    }
  }
  if (op.remove) for (const k of op.remove) delete h[k.toLowerCase()];
  return authority;
}

/** Response headers for the downstream: hop-by-hop dropped, operations applied, `server: istio-envoy`. */
export function downstreamResponseHeaders(
  up: IncomingHttpHeaders,
  ops: readonly HeaderOps[],
  upstreamMs: number,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in up) {
    if (name.charCodeAt(0) === 58 || HOP_BY_HOP.has(name)) continue;
    const v = up[name];
    if (v !== undefined) out[name] = v;
  }
  out.server = 'istio-envoy';
  out['x-envoy-upstream-service-time'] = String(Math.round(upstreamMs));
  for (const op of ops) applyOps(out, op);
  return out;
}
