/**
 * DestinationRule connectionPool and outlierDetection for one cluster, by Istio's precedence: subset
 * port-level > subset > top port-level > top, each block whole (a port-level block replaces the one
 * above it, no field inheritance). Istio's defaults fill what a block leaves out: every limit
 * unlimited; outlier detection 5 consecutive 5xx, interval 10 s, base ejection 30 s, at most 10 %
 * ejected, panic off.
 */
import { parseDuration } from '../config/duration.js';
import type {
  ConnectionPoolSpec,
  DestinationRule,
  OutlierDetectionSpec,
  TrafficPolicySpec,
} from '../config/types.js';
import type { ConnectionPoolPolicy, OutlierPolicy } from '../../l7/cluster/traffic-policy.js';

type Block = 'connectionPool' | 'outlierDetection';

function level<K extends Block>(
  tp: TrafficPolicySpec | undefined,
  port: number,
  k: K,
): TrafficPolicySpec[K] | undefined {
  if (!tp) return undefined;
  const pl = tp.portLevelSettings?.find((p) => p.port?.number === port);
  return (pl?.[k] as TrafficPolicySpec[K] | undefined) ?? tp[k];
}

function pick<K extends Block>(
  spec: DestinationRule['spec'] | undefined,
  port: number,
  subset: string | undefined,
  k: K,
): TrafficPolicySpec[K] | undefined {
  const sub = subset ? spec?.subsets?.find((s) => s.name === subset)?.trafficPolicy : undefined;
  return level(sub, port, k) ?? level(spec?.trafficPolicy, port, k);
}

const ms = (d: string | undefined): number | undefined => (d ? parseDuration(d) : undefined);

export function connectionPoolOf(cp: ConnectionPoolSpec | undefined): ConnectionPoolPolicy | undefined {
  if (!cp) return undefined;
  const out: ConnectionPoolPolicy = {};
  // Istio: 0 or unset means "Envoy's default as Istio sets it", which is unlimited (2^32-1).
  const limit = (n: number | undefined): number | undefined => (n && n > 0 ? n : undefined);
  const set = <K extends keyof ConnectionPoolPolicy>(k: K, v: ConnectionPoolPolicy[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('maxConnections', limit(cp.tcp?.maxConnections));
  set('maxPendingRequests', limit(cp.http?.http1MaxPendingRequests));
  set('maxRequests', limit(cp.http?.http2MaxRequests));
  set('maxRetries', limit(cp.http?.maxRetries));
  set('maxRequestsPerConnection', limit(cp.http?.maxRequestsPerConnection));
  set('idleTimeoutMs', ms(cp.http?.idleTimeout) ?? ms(cp.tcp?.idleTimeout));
  return Object.keys(out).length > 0 ? out : undefined;
}

export function outlierOf(od: OutlierDetectionSpec | undefined): OutlierPolicy | undefined {
  if (!od) return undefined;
  return {
    consecutive5xxErrors: od.consecutive5xxErrors ?? 5,
    consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? 0,
    intervalMs: ms(od.interval) ?? 10_000,
    baseEjectionTimeMs: ms(od.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: od.maxEjectionPercent ?? 10,
    minHealthPercent: od.minHealthPercent ?? 0,
  };
}

export function resiliencePolicy(
  spec: DestinationRule['spec'] | undefined,
  port: number,
  subset: string | undefined,
): { connectionPool?: ConnectionPoolPolicy; outlier?: OutlierPolicy } {
  return {
    connectionPool: connectionPoolOf(pick(spec, port, subset, 'connectionPool')),
    outlier: outlierOf(pick(spec, port, subset, 'outlierDetection')),
  };
}
