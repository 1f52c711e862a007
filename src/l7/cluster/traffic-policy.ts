/**
 * A cluster's circuit breakers and outlier detection (DestinationRule connectionPool and
 * outlierDetection after Istio's precedence: subset port-level > subset > top port-level > top).
 * Absent fields take Istio's defaults (docs/l7-security.md).
 */

export interface ConnectionPoolPolicy {
  /** tcp.maxConnections: HTTP/1.1 requests in flight at once (one per connection); default unlimited. */
  maxConnections?: number;
  /** http.http1MaxPendingRequests: requests waiting for a connection; default unlimited. */
  maxPendingRequests?: number;
  /** http.http2MaxRequests: requests in flight to the cluster; default unlimited. */
  maxRequests?: number;
  /** http.maxRetries: retries in flight to the cluster; default unlimited. */
  maxRetries?: number;
  /** http.maxRequestsPerConnection: 0 unlimited, 1 no keep-alive. */
  maxRequestsPerConnection?: number;
  /** http.idleTimeout (or tcp.idleTimeout): an idle upstream connection is closed after it. */
  idleTimeoutMs?: number;
}

export interface OutlierPolicy {
  /** 0 disables; Envoy's 5 when the block is set without it. */
  consecutive5xxErrors: number;
  /** 502/503/504 and connect failures; 0 (off) unless set. */
  consecutiveGatewayErrors: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  /** Below this share of healthy endpoints ejections are ignored (panic); 0 once the block is set. */
  minHealthPercent: number;
}
