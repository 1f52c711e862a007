/**
 * Envoy's RBAC filter as Istio configures it from AuthorizationPolicy: the services' policies are
 * compiled once per push; per request the pure decide (security/authz-decide.ts) says allow or deny.
 * A denial answers 403 `RBAC: access denied` (CUSTOM: flag UAEX), is counted and logged with the
 * policy; AUDIT matches and dry-run verdicts are logged and counted, never enforced.
 */
import type { Logger } from '../../common/logger.js';
import type { Exchange } from '../http/exchange.js';
import type { L7Config, ServiceConfig } from '../model.js';
import { compileAuthz, type CompiledAuthz } from '../security/authz-compile.js';
import {
  decideAuthz,
  deniedDetails,
  type AuthzAttributes,
  type AuthzDecision,
  type RuleRef,
} from '../security/authz-decide.js';
import { normalizePath } from '../security/normalize-path.js';
import type { SecurityMetrics } from '../security/security-metrics.js';
import type { HttpFilter } from './filter.js';

export const RBAC_DENIED_BODY = 'RBAC: access denied';

/** Denies everything: what a service gets when its policies cannot be compiled (fail closed). */
const DENY_ALL: CompiledAuthz = compileAuthz([
  { namespace: '', name: 'invalid-policy', action: 'ALLOW', rules: [] },
]);

export class RbacFilter implements HttpFilter {
  readonly name = 'envoy.filters.http.rbac';
  private readonly byService = new Map<ServiceConfig, CompiledAuthz>();

  constructor(
    cfg: L7Config,
    private readonly metrics: SecurityMetrics,
    private readonly log: Logger,
  ) {
    for (const s of cfg.services) {
      const policies = s.security?.policies ?? [];
      if (policies.length === 0) continue;
      try {
        this.byService.set(s, compileAuthz(policies));
      } catch (err) {
        log.error(
          { service: s.hostname, err: (err as Error).message },
          'rbac: policies for this service cannot be compiled; denying all its requests (fail closed)',
        );
        this.byService.set(s, DENY_ALL);
      }
    }
  }

  onRequest(ex: Exchange): boolean {
    const c = this.byService.get(ex.port.service);
    if (!c) return true;
    const d = decideAuthz(attributes(ex), c);
    if (d.audits.length > 0) this.audit(ex, d.audits);
    if (d.shadow) this.shadow(ex, d.shadow);
    const policy = d.policy ? `${d.policy.namespace}/${d.policy.name}` : 'none';
    if (d.allow) {
      this.metrics.rbac.inc({ result: 'allowed', policy });
      return true;
    }
    this.metrics.rbac.inc({ result: 'denied', policy });
    this.log.warn(
      {
        policy,
        rule: d.policy?.rule,
        action: d.by,
        method: ex.method,
        path: ex.path,
        authority: ex.authority,
        source: ex.conn.sourcePrincipal,
        requestPrincipal: ex.auth?.principal,
      },
      d.by === 'CUSTOM'
        ? 'rbac: denied by a CUSTOM policy (no ext_authz provider available; CUSTOM fails closed)'
        : d.by === 'NONE'
          ? 'rbac: denied (no ALLOW policy matched)'
          : 'rbac: denied by a DENY policy',
    );
    ex.respond(403, RBAC_DENIED_BODY, d.by === 'CUSTOM' ? 'UAEX' : '-', deniedDetails(d));
    return false;
  }

  private audit(ex: Exchange, refs: RuleRef[]): void {
    for (const r of refs) {
      this.metrics.rbac.inc({ result: 'audit', policy: `${r.namespace}/${r.name}` });
      this.log.info(
        {
          policy: `${r.namespace}/${r.name}`,
          rule: r.rule,
          method: ex.method,
          path: ex.path,
          source: ex.conn.sourcePrincipal,
        },
        'rbac: AUDIT policy matched',
      );
    }
  }

  private shadow(ex: Exchange, d: AuthzDecision): void {
    const policy = d.policy ? `${d.policy.namespace}/${d.policy.name}` : 'none';
    this.metrics.rbac.inc({ result: d.allow ? 'shadow_allowed' : 'shadow_denied', policy });
    if (!d.allow)
      this.log.info(
        { policy, rule: d.policy?.rule, method: ex.method, path: ex.path, source: ex.conn.sourcePrincipal },
        'rbac: a dry-run policy would deny this request',
      );
  }
}

function attributes(ex: Exchange): AuthzAttributes {
  return {
    sourceIp: ex.conn.sourceIp,
    remoteIp: ex.conn.sourceIp,
    sourcePrincipal: ex.conn.sourcePrincipal,
    destinationIp: ex.conn.targetIp,
    destinationPort: ex.port.port.port,
    method: ex.method,
    path: normalizePath(ex.path),
    authority: ex.authority,
    header: (n) => ex.header(n),
    auth: ex.auth,
  };
}
