/** CORS (Envoy's cors filter): answers allowed preflights, adds the allow headers to actual responses. */
import type { OutgoingHttpHeaders } from 'node:http';
import { compileString, type CompiledString } from '../compile.js';
import type { Exchange } from '../http/exchange.js';
import type { CorsPolicy } from '../model.js';
import { matchString } from '../route/match.js';
import type { HttpFilter } from './filter.js';

const compiled = new WeakMap<CorsPolicy, CompiledString[]>();

function origins(p: CorsPolicy): CompiledString[] {
  let c = compiled.get(p);
  if (!c) compiled.set(p, (c = p.allowOrigins.map(compileString)));
  return c;
}

export class CorsFilter implements HttpFilter {
  readonly name = 'envoy.filters.http.cors';

  onRequest(ex: Exchange): boolean {
    const d = ex.decision;
    const policy = d?.kind === 'forward' ? d.cors : undefined;
    const origin = ex.header('origin');
    if (!policy || origin === undefined) return true;
    if (!origins(policy).some((m) => matchString(m, origin))) return true;
    const h: OutgoingHttpHeaders = { 'access-control-allow-origin': origin };
    if (policy.allowCredentials) h['access-control-allow-credentials'] = 'true';
    const preflight = ex.method === 'OPTIONS' && ex.header('access-control-request-method') !== undefined;
    if (preflight) {
      if (policy.allowMethods?.length) h['access-control-allow-methods'] = policy.allowMethods.join(',');
      if (policy.allowHeaders?.length) h['access-control-allow-headers'] = policy.allowHeaders.join(',');
      if (policy.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(policy.maxAgeSeconds);
      ex.respond(200, '', '-', 'cors_response', h);
      return false;
    }
    if (policy.exposeHeaders?.length) h['access-control-expose-headers'] = policy.exposeHeaders.join(',');
    ex.extraResponseHeaders = h;
    return true;
  }
}
