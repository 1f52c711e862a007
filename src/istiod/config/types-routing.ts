/**
 * Traffic-management objects, with the upstream field names: Gateway API HTTPRoute (GAMMA: parentRefs
 * to a Service) and Istio's VirtualService and DestinationRule. Only the fields the mesh reads are typed.
 */
import type { Labels, ObjectMeta } from './types-core.js';

type Obj = Record<string, unknown>;

export interface StringMatchSpec {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface HeaderOperationsSpec {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface VsDestination {
  host: string;
  subset?: string;
  port?: { number?: number };
}

export interface VsHttpRoute {
  name?: string;
  match?: Array<{
    uri?: StringMatchSpec;
    ignoreUriCase?: boolean;
    headers?: Record<string, StringMatchSpec>;
    withoutHeaders?: Record<string, StringMatchSpec>;
    queryParams?: Record<string, StringMatchSpec>;
    method?: StringMatchSpec;
    authority?: StringMatchSpec;
    port?: number;
    sourceLabels?: Labels;
    /** Where this match applies: `mesh`, Gateway NAME (the VirtualService's namespace) or NS/NAME. */
    gateways?: string[];
  }>;
  route?: Array<{
    destination: VsDestination;
    weight?: number;
    headers?: { request?: HeaderOperationsSpec; response?: HeaderOperationsSpec };
  }>;
  redirect?: { uri?: string; authority?: string; scheme?: string; port?: number; redirectCode?: number };
  directResponse?: { status: number; body?: { string?: string } };
  rewrite?: { uri?: string; authority?: string; uriRegexRewrite?: { match: string; rewrite: string } };
  timeout?: string;
  retries?: { attempts?: number; perTryTimeout?: string; retryOn?: string };
  fault?: {
    delay?: { fixedDelay?: string; percentage?: { value?: number } };
    abort?: { httpStatus?: number; grpcStatus?: string; percentage?: { value?: number } };
  };
  mirror?: VsDestination;
  mirrorPercentage?: { value?: number };
  mirrors?: Array<{ destination: VsDestination; percentage?: { value?: number } }>;
  headers?: { request?: HeaderOperationsSpec; response?: HeaderOperationsSpec };
  corsPolicy?: {
    allowOrigins?: StringMatchSpec[];
    allowMethods?: string[];
    allowHeaders?: string[];
    exposeHeaders?: string[];
    maxAge?: string;
    allowCredentials?: boolean;
  };
}

/** A VirtualService `tls` route: connections whose server name matches go to the destination. */
export interface VsTlsRoute {
  match: Array<{ sniHosts: string[]; port?: number; gateways?: string[] }>;
  route: Array<{
    destination: { host: string; subset?: string; port?: { number?: number } };
    weight?: number;
  }>;
}

export interface VirtualService {
  apiVersion: string;
  kind: 'VirtualService';
  metadata: ObjectMeta;
  spec: {
    hosts?: string[];
    gateways?: string[];
    http?: VsHttpRoute[];
    tcp?: Obj[];
    tls?: VsTlsRoute[];
    exportTo?: string[];
  };
}

export interface LoadBalancerSpec {
  simple?: string;
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name: string };
    useSourceIp?: boolean;
    httpQueryParameterName?: string;
  };
}

export interface ConnectionPoolSpec {
  tcp?: { maxConnections?: number; connectTimeout?: string; idleTimeout?: string } & Obj;
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
  } & Obj;
}

export interface OutlierDetectionSpec {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export interface TrafficPolicySpec {
  loadBalancer?: LoadBalancerSpec;
  connectionPool?: ConnectionPoolSpec;
  outlierDetection?: OutlierDetectionSpec;
  portLevelSettings?: Array<{
    port?: { number?: number };
    loadBalancer?: LoadBalancerSpec;
    connectionPool?: ConnectionPoolSpec;
    outlierDetection?: OutlierDetectionSpec;
  }>;
  tls?: Obj;
}

export interface DestinationRule {
  apiVersion: string;
  kind: 'DestinationRule';
  metadata: ObjectMeta;
  spec: {
    host: string;
    trafficPolicy?: TrafficPolicySpec;
    subsets?: Array<{ name: string; labels?: Labels; trafficPolicy?: TrafficPolicySpec }>;
    exportTo?: string[];
  };
}

export interface HttpRouteMatchSpec {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: Array<{ type?: 'Exact' | 'RegularExpression'; name: string; value: string }>;
  queryParams?: Array<{ type?: 'Exact' | 'RegularExpression'; name: string; value: string }>;
  method?: string;
}

export interface HttpRouteFilterSpec {
  type: string;
  requestHeaderModifier?: HeaderOperationsSpec & {
    set?: Array<{ name: string; value: string }>;
    add?: Array<{ name: string; value: string }>;
  };
  responseHeaderModifier?: HeaderOperationsSpec & {
    set?: Array<{ name: string; value: string }>;
    add?: Array<{ name: string; value: string }>;
  };
  requestRedirect?: {
    scheme?: string;
    hostname?: string;
    port?: number;
    statusCode?: number;
    path?: { type: string; replaceFullPath?: string; replacePrefixMatch?: string };
  };
  urlRewrite?: {
    hostname?: string;
    path?: { type: string; replaceFullPath?: string; replacePrefixMatch?: string };
  };
  requestMirror?: {
    backendRef: { name: string; namespace?: string; port?: number; kind?: string; group?: string };
    percent?: number;
    fraction?: { numerator: number; denominator?: number };
  };
}

export interface HttpBackendRefSpec {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: HttpRouteFilterSpec[];
}

/** A route's parent: a Service (GAMMA) or a Gateway, and optionally one of its listeners. */
export interface ParentRefSpec {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  sectionName?: string;
}

export interface HTTPRoute {
  apiVersion: string;
  kind: 'HTTPRoute';
  metadata: ObjectMeta;
  spec: {
    parentRefs?: ParentRefSpec[];
    hostnames?: string[];
    rules?: Array<{
      name?: string;
      matches?: HttpRouteMatchSpec[];
      filters?: HttpRouteFilterSpec[];
      backendRefs?: HttpBackendRefSpec[];
      timeouts?: { request?: string; backendRequest?: string };
      retry?: { codes?: number[]; attempts?: number; backoff?: string };
    }>;
  };
  status?: Obj;
}

/** Gateway API TLSRoute (experimental channel): passthrough TLS by server name to backends. */
export interface TLSRoute {
  apiVersion: string;
  kind: 'TLSRoute';
  metadata: ObjectMeta;
  spec: {
    parentRefs?: ParentRefSpec[];
    hostnames?: string[];
    rules?: Array<{ name?: string; backendRefs?: HttpBackendRefSpec[] }>;
  };
  status?: Record<string, unknown>;
}

/**
 * Gateway API ReferenceGrant, in the namespace of what may be referred to: objects of the `from`
 * kinds in those namespaces may refer to objects of the `to` kinds (all of them, or the one `name`).
 */
export interface ReferenceGrant {
  apiVersion: string;
  kind: 'ReferenceGrant';
  metadata: ObjectMeta;
  spec: {
    from: Array<{ group: string; kind: string; namespace: string }>;
    to: Array<{ group: string; kind: string; name?: string }>;
  };
}

/** Gateway API GRPCRoute: methods become `/<service>/<method>` paths; the rest as HTTPRoute. */
export interface GRPCRoute {
  apiVersion: string;
  kind: 'GRPCRoute';
  metadata: ObjectMeta;
  spec: {
    parentRefs?: HTTPRoute['spec']['parentRefs'];
    hostnames?: string[];
    rules?: Array<{
      name?: string;
      matches?: Array<{
        method?: { type?: 'Exact' | 'RegularExpression'; service?: string; method?: string };
        headers?: Array<{ type?: 'Exact' | 'RegularExpression'; name: string; value: string }>;
      }>;
      filters?: HttpRouteFilterSpec[];
      backendRefs?: HttpBackendRefSpec[];
    }>;
  };
  status?: Obj;
}
