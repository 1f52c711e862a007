/**
 * The L7 configuration model: what istiod computes for one proxy (a waypoint today; a sidecar or an
 * ingress gateway later) and sends as JSON inside our own xDS resource (docs/waypoint.md). Istio's
 * VirtualService, Gateway API HTTPRoute/GRPCRoute and DestinationRule are converted into this one model
 * at istiod's edge; the proxy compiles it once per push (compile.ts) and never parses config per request.
 */
import type { ConnectionPoolPolicy, OutlierPolicy } from './cluster/traffic-policy.js';
import type { AuthzPolicy, ServiceSecurity } from './security/model.js';

/** How a string is matched. `present`: the value exists (any value). */
export interface StringMatch {
  kind: 'exact' | 'prefix' | 'regex' | 'present';
  value: string;
  /** Compare case-insensitively (exact/prefix). */
  ignoreCase?: boolean;
}

/** Path matching. `pathPrefix` is Gateway API's segment-wise prefix; `prefix` is Istio's raw string prefix. */
export interface PathMatch {
  kind: 'exact' | 'prefix' | 'pathPrefix' | 'regex';
  value: string;
  ignoreCase?: boolean;
}

export interface NamedMatch {
  /** Lower-case header name or query parameter name. */
  name: string;
  match: StringMatch;
  /** True: the request must NOT match (VirtualService `withoutHeaders`). */
  invert?: boolean;
}

/** One match entry: every field must hold (AND). A rule matches when any of its entries does (OR). */
export interface RequestMatch {
  path?: PathMatch;
  method?: string;
  headers?: NamedMatch[];
  query?: NamedMatch[];
  authority?: StringMatch;
}

export interface HeaderOps {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface Backend {
  /** Cluster name (see Cluster); a name not in `clusters` is a missing backend (NC). */
  cluster: string;
  weight: number;
  requestHeaders?: HeaderOps;
  responseHeaders?: HeaderOps;
}

export interface RetryPolicy {
  /** Retries after the first try (Istio `attempts`). */
  attempts: number;
  perTryTimeoutMs?: number;
  /** Envoy retry conditions: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, unavailable, cancelled, deadline-exceeded, resource-exhausted. */
  retryOn: string[];
  /** Status codes for `retriable-status-codes`. */
  codes?: number[];
  /** Backoff base; default 25 ms (Envoy). */
  backoffMs?: number;
}

export interface FaultPolicy {
  delay?: { ms: number; percent: number };
  abort?: { status: number; grpcStatus?: number; percent: number };
}

export interface MirrorPolicy {
  cluster: string;
  percent: number;
}

export interface Rewrite {
  /** Replace the matched prefix with this (needs a prefix or pathPrefix match). */
  prefix?: string;
  /** Replace the whole path (query kept). */
  fullPath?: string;
  /** Regex rewrite of the path. */
  regex?: { pattern: string; substitution: string };
  authority?: string;
}

export interface CorsPolicy {
  allowOrigins: StringMatch[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAgeSeconds?: number;
  allowCredentials?: boolean;
}

export type RouteAction =
  | {
      kind: 'route';
      backends: Backend[];
      rewrite?: Rewrite;
      /** 0 or absent: no timeout (Istio's default). */
      timeoutMs?: number;
      retry?: RetryPolicy;
      fault?: FaultPolicy;
      mirrors?: MirrorPolicy[];
      requestHeaders?: HeaderOps;
      responseHeaders?: HeaderOps;
      cors?: CorsPolicy;
      /** Status when the chosen backend is missing: 503 (VirtualService, flag NC) or 500 (Gateway API). */
      missingStatus?: number;
    }
  | {
      kind: 'redirect';
      status: number;
      scheme?: string;
      host?: string;
      port?: number;
      path?: string;
      /** Replace the matched prefix with this. */
      prefix?: string;
      requestHeaders?: HeaderOps;
      responseHeaders?: HeaderOps;
    }
  | {
      kind: 'direct';
      status: number;
      body?: string;
      requestHeaders?: HeaderOps;
      responseHeaders?: HeaderOps;
    };

export interface RouteRule {
  /** `<Kind>/<namespace>/<name>#<rule index>`, for access logs and `route_name`. */
  name: string;
  /** Empty: matches everything. */
  matches: RequestMatch[];
  action: RouteAction;
}

export type PortProtocol = 'http' | 'http2' | 'grpc' | 'tcp' | 'tls' | 'unknown';

export interface ServicePort {
  port: number;
  targetPort: number;
  /** From appProtocol or the port name; `unknown` is sniffed. */
  protocol: PortProtocol;
  /**
   * Routes in order (first match wins). Undefined: no route object applies, so everything goes to the
   * port's default cluster. Defined (even empty): a route applies, and no match is 404 NR.
   */
  routes?: RouteRule[];
  /** `inbound-vip|<port>|http|<fqdn>`: every endpoint of the service on this port. */
  defaultCluster: string;
  /** An ingress gateway's HTTPS port: TLS is terminated here with these certificates. */
  tls?: PortTls;
  /**
   * TLS passthrough: the connection goes, still encrypted, to the cluster of the first entry that
   * names the server name of its ClientHello, else the first whose wildcard covers it (`*.domain`: one
   * label; `*`: any); none: closed. With `backends`, the cluster is one of them by weight.
   */
  sni?: Array<{
    name: string;
    hosts: string[];
    cluster: string;
    backends?: Array<{ cluster: string; weight: number }>;
  }>;
}

/** The prefix of a credential's name: `kubernetes://<namespace>/<secret>`. */
export const CREDENTIAL_PREFIX = 'kubernetes://';

/**
 * TLS termination on a port. The certificate served is the first whose hostnames cover the client's
 * SNI (`*.example.com` covers one label), else the first without hostnames, else the first.
 */
export interface PortTls {
  certificates: Array<{
    hostnames: string[];
    credential: string;
    /**
     * Client certificates (Istio's MUTUAL: required; OPTIONAL_MUTUAL: checked when presented),
     * checked against the CA bundle `caCredential` (`kubernetes://<ns>/<secret>-cacert`).
     */
    clientCerts?: 'required' | 'optional';
    caCredential?: string;
  }>;
}

export interface ServiceConfig {
  namespace: string;
  name: string;
  /** FQDN, e.g. reviews.bookinfo.svc.cluster.local. */
  hostname: string;
  vips: string[];
  ports: ServicePort[];
  /** AuthorizationPolicies and JWT rules bound to this service at the proxy (l7/security). */
  security?: ServiceSecurity;
}

export type LbPolicy =
  | { kind: 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'RANDOM' }
  | { kind: 'HASH'; header?: string; cookie?: string; query?: string; sourceIp?: boolean };

export interface Endpoint {
  ip: string;
  port: number;
  /** SPIFFE URI the endpoint presents (HBONE); empty for a plain-TCP endpoint. */
  identity: string;
  /** Reached over HBONE (an ambient or sidecar pod) or plain TCP. */
  hbone: boolean;
  /**
   * HBONE through another proxy: the tunnel goes to `via`:15008 (a waypoint pod) with the CONNECT
   * authority `ip:port` (the service VIP:port), and `identity` is that proxy's.
   */
  via?: string;
  workload: string;
  namespace: string;
  app?: string;
  version?: string;
}

export interface Cluster {
  /** `inbound-vip|<port>|http[/<subset>]|<fqdn>`. */
  name: string;
  service: string;
  port: number;
  subset?: string;
  lb: LbPolicy;
  /** Upstream protocol: h2c for http2/grpc ports, else HTTP/1.1 (or what the client spoke, when sniffed). */
  upstream: 'http1' | 'http2' | 'downstream';
  endpoints: Endpoint[];
  connectTimeoutMs?: number;
  connectionPool?: ConnectionPoolPolicy;
  outlier?: OutlierPolicy;
}

/** One proxy's whole L7 configuration. */
export interface L7Config {
  /** The proxy this is for, `<namespace>/<name>`. */
  proxy: string;
  services: ServiceConfig[];
  clusters: Cluster[];
  /** Tracing: the percentage of traces this proxy starts that are sampled (Istio's default 1). */
  tracing?: { samplingPercent: number };
  /**
   * A sidecar's inbound side: the pod's AuthorizationPolicies in their L4 form (HTTP-only rules dropped
   * from ALLOW, HTTP fields removed from DENY, as Istio's network RBAC filter), for connections the
   * engine does not judge per request: ports no service names and TCP ports.
   */
  l4Policies?: AuthzPolicy[];
}
