/**
 * The security part of the L7 model (docs/l7-security.md): the AuthorizationPolicies and the JWT rules
 * of RequestAuthentications that apply to one service at a proxy. istiod validates and selects them
 * (targetRefs to the waypoint's Gateway, the Service, or the GatewayClass); the proxy compiles them once
 * per push. Rules keep Istio's field names and value forms (`v`, `v*`, `*v`, `*`).
 */

export type AuthzAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface AuthzSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface AuthzOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthzCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthzRuleSpec {
  from?: { source?: AuthzSource }[];
  to?: { operation?: AuthzOperation }[];
  when?: AuthzCondition[];
}

export interface AuthzPolicy {
  namespace: string;
  name: string;
  action: AuthzAction;
  /** `istio.io/dry-run: "true"`: evaluated and logged, never enforced. */
  dryRun?: boolean;
  /** CUSTOM: the extension provider named (not available here; matching requests are denied). */
  provider?: string;
  rules: AuthzRuleSpec[];
}

export interface JwtHeaderLocation {
  /** Lower-case header name. */
  name: string;
  /** Stripped from the value before the token (e.g. `Bearer `). */
  prefix?: string;
}

export interface JwtRule {
  /** `RequestAuthentication <ns>/<name>`, for logs. */
  source: string;
  issuer: string;
  audiences?: string[];
  /** Inline JWKS (JSON text). */
  jwks?: string;
  /** Fetched by the proxy, cached and refreshed. */
  jwksUri?: string;
  /** Fetch timeout; default 5 s. */
  timeoutMs?: number;
  fromHeaders?: JwtHeaderLocation[];
  fromParams?: string[];
  forwardOriginalToken?: boolean;
  outputPayloadToHeader?: string;
  outputClaimToHeaders?: { header: string; claim: string }[];
}

/** What applies to one service at the proxy. */
export interface ServiceSecurity {
  policies: AuthzPolicy[];
  jwtRules: JwtRule[];
}
