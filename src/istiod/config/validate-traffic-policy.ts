/**
 * Spec checks for a DestinationRule traffic policy's connectionPool and outlierDetection (at the top,
 * per subset and per port): counts are non-negative integers, times are durations, percentages 0–100.
 */
import { parseDuration } from './duration.js';
import { show, type Fields } from './fields.js';

const MAX = 4294967295;

function duration(f: Fields, v: unknown, path: string): void {
  const s = f.string(v, path);
  if (s !== undefined && parseDuration(s) === undefined)
    f.add(path, `${show(s)} is not a duration such as 1s, 500ms or 1m30s`);
}

export function connectionPool(f: Fields, v: unknown, path: string): void {
  const cp = f.object(v, path);
  if (!cp) return;
  const tcp = f.object(cp.tcp, `${path}.tcp`);
  if (tcp) {
    f.int(tcp.maxConnections, `${path}.tcp.maxConnections`, { min: 0, max: MAX });
    duration(f, tcp.connectTimeout, `${path}.tcp.connectTimeout`);
    duration(f, tcp.idleTimeout, `${path}.tcp.idleTimeout`);
  }
  const http = f.object(cp.http, `${path}.http`);
  if (http) {
    for (const k of ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries'])
      f.int(http[k], `${path}.http.${k}`, { min: 0, max: MAX });
    duration(f, http.idleTimeout, `${path}.http.idleTimeout`);
  }
}

export function outlierDetection(f: Fields, v: unknown, path: string): void {
  const od = f.object(v, path);
  if (!od) return;
  f.int(od.consecutive5xxErrors, `${path}.consecutive5xxErrors`, { min: 0, max: MAX });
  f.int(od.consecutiveGatewayErrors, `${path}.consecutiveGatewayErrors`, { min: 0, max: MAX });
  duration(f, od.interval, `${path}.interval`);
  duration(f, od.baseEjectionTime, `${path}.baseEjectionTime`);
  f.int(od.maxEjectionPercent, `${path}.maxEjectionPercent`, { min: 0, max: 100 });
  f.int(od.minHealthPercent, `${path}.minHealthPercent`, { min: 0, max: 100 });
}
