/**
 * Counters of the security filters, with Envoy's stat names as Istio exports them
 * (`envoy_http_rbac_*`, `envoy_http_jwt_authn_*`), labelled with the deciding policy so a denial can be
 * traced to its AuthorizationPolicy.
 */
import { Counter, type Registry } from 'prom-client';

export class SecurityMetrics {
  readonly rbac: Counter<'result' | 'policy'>;
  readonly jwt: Counter<'result' | 'reason'>;

  constructor(registry: Registry) {
    this.rbac = counter(
      registry,
      'envoy_http_rbac_requests_total',
      'Authorization decisions at this proxy: result allowed, denied, audit, shadow_denied, shadow_allowed; policy <ns>/<name> or none',
      ['result', 'policy'],
    );
    this.jwt = counter(
      registry,
      'envoy_http_jwt_authn_requests_total',
      'JWT authentication: result allowed (a valid token), no_token, denied (with the reason)',
      ['result', 'reason'],
    );
  }
}

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}
