/**
 * The policy variants of the policy-cost benchmark: none, 10 L7 rules, 1,000 L7 rules (the request
 * matches the last ALLOW rule, so every rule is looked at), and JWT validation (an RS256 token checked on
 * every request, with an ALLOW policy requiring its principal).
 */
import type { AuthzPolicy, JwtRule, ServiceSecurity } from '../../src/l7/security/model.js';

export const VARIANTS = ['none', 'rules10', 'rules1000', 'jwt'] as const;
export type Variant = (typeof VARIANTS)[number];

export const ISSUER = 'https://bench.test';

/** `n` ALLOW rules over `n / 10` policies; only the last one matches the benchmark's GET /reviews/0 from curl. */
export function rules(n: number): AuthzPolicy[] {
  const out: AuthzPolicy[] = [];
  for (let p = 0; p < Math.max(1, n / 10); p++) {
    const policy: AuthzPolicy = { namespace: 'bookinfo', name: `policy-${p}`, action: 'ALLOW', rules: [] };
    for (let r = 0; r < Math.min(10, n); r++) {
      const i = p * 10 + r;
      const last = i === n - 1;
      policy.rules.push({
        from: [
          {
            source: {
              principals: [last ? 'cluster.local/ns/default/sa/curl' : `cluster.local/ns/ns${i}/sa/sa${i}`],
            },
          },
        ],
        to: [{ operation: { methods: ['GET', 'HEAD'], paths: [last ? '/reviews/*' : `/api/v${i}/*`] } }],
        when: [{ key: 'request.headers[x-tenant]', notValues: [`blocked-${i}`] }],
      });
    }
    out.push(policy);
  }
  return out;
}

export function security(v: Variant, jwks: string): ServiceSecurity | undefined {
  switch (v) {
    case 'none':
      return undefined;
    case 'rules10':
      return { policies: rules(10), jwtRules: [] };
    case 'rules1000':
      return { policies: rules(1000), jwtRules: [] };
    case 'jwt': {
      const jwt: JwtRule = {
        source: 'RequestAuthentication bookinfo/bench',
        issuer: ISSUER,
        audiences: ['bookinfo'],
        jwks,
      };
      return {
        policies: [
          {
            namespace: 'bookinfo',
            name: 'require-jwt',
            action: 'ALLOW',
            rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }],
          },
        ],
        jwtRules: [jwt],
      };
    }
  }
}
