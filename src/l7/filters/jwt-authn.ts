/**
 * Envoy's jwt_authn as Istio configures it from RequestAuthentication: built once per push from the
 * services' JWT rules; per request it finds and verifies the token (security/jwt-verify.ts), answers
 * 401/403 for a bad one, and on success records the end user for authorization and applies the rule's
 * header changes (token removed unless forwardOriginalToken, payload and claims to headers).
 */
import type { Logger } from '../../common/logger.js';
import type { Exchange } from '../http/exchange.js';
import type { L7Config, ServiceConfig } from '../model.js';
import type { JwksCache } from '../security/jwks-cache.js';
import {
  claimHeaderValue,
  compileJwt,
  verifyRequest,
  type CompiledJwt,
  type JwtOutcome,
} from '../security/jwt-verify.js';
import type { SecurityMetrics } from '../security/security-metrics.js';
import type { HttpFilter } from './filter.js';

export class JwtAuthnFilter implements HttpFilter {
  readonly name = 'envoy.filters.http.jwt_authn';
  private readonly byService = new Map<ServiceConfig, CompiledJwt>();

  constructor(
    cfg: L7Config,
    private readonly cache: JwksCache,
    private readonly metrics: SecurityMetrics,
    private readonly log: Logger,
  ) {
    const uris = new Map<string, number>();
    for (const s of cfg.services) {
      const c = compileJwt(s.security?.jwtRules ?? []);
      if (!c) continue;
      this.byService.set(s, c);
      for (const r of c.rules) {
        if (r.rule.jwksUri && r.rule.jwks === undefined) uris.set(r.rule.jwksUri, r.rule.timeoutMs ?? 5000);
        if (r.inlineError)
          log.warn(
            { source: r.rule.source, err: r.inlineError },
            'jwt: inline jwks unusable; tokens of this issuer are rejected',
          );
      }
    }
    cache.retain(uris);
  }

  onRequest(ex: Exchange): boolean | Promise<boolean> {
    const jwt = this.byService.get(ex.port.service);
    if (!jwt) return true;
    // CORS preflights are not authenticated (Envoy bypasses them).
    if (ex.method === 'OPTIONS' && ex.header('origin') && ex.header('access-control-request-method'))
      return true;
    return verifyRequest(jwt, (n) => ex.header(n), ex.query, this.cache).then((out) => this.after(ex, out));
  }

  private after(ex: Exchange, out: JwtOutcome): boolean {
    if (out.kind === 'none') {
      this.metrics.jwt.inc({ result: 'no_token', reason: '' });
      return true;
    }
    if (out.kind === 'denied') {
      this.metrics.jwt.inc({ result: 'denied', reason: out.message });
      this.log.info(
        {
          status: out.status,
          reason: out.message,
          method: ex.method,
          path: ex.path,
          source: ex.conn.sourcePrincipal,
        },
        'jwt: request refused',
      );
      const extra =
        out.status === 401
          ? { 'www-authenticate': `Bearer realm="http://${ex.authority}${ex.path}", error="invalid_token"` }
          : undefined;
      ex.respond(out.status, out.message, '-', `jwt_authn_access_denied{${out.message}}`, extra);
      return false;
    }
    this.metrics.jwt.inc({ result: 'allowed', reason: '' });
    ex.auth = out.auth;
    const h = ex.req.headers;
    const rule = out.rule.rule;
    if (!rule.forwardOriginalToken && out.found.header) delete h[out.found.header.name];
    if (rule.outputPayloadToHeader) h[rule.outputPayloadToHeader.toLowerCase()] = out.payload;
    for (const c of rule.outputClaimToHeaders ?? []) {
      const v = claimHeaderValue(out.auth.claims, c.claim);
      if (v !== undefined) h[c.header.toLowerCase()] = v;
    }
    return true;
  }
}
