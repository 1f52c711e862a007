import { randomFillSync } from 'node:crypto';
import { isIP } from 'node:net';

const scratch = Buffer.allocUnsafe(24);

/** A fresh W3C `traceparent` (version 00, random trace and span ids, sampled). */
export function newTraceparent(): string {
  randomFillSync(scratch);
  const hex = scratch.toString('hex');
  return `00-${hex.slice(0, 32)}-${hex.slice(32, 48)}-01`;
}

/** RFC 7239 `forwarded` value for the original client, with `host=` when a service was addressed. */
export function forwardedFor(clientIp: string, clientPort: number, host?: string): string {
  const node = isIP(clientIp) === 6 ? `[${clientIp}]:${clientPort}` : `${clientIp}:${clientPort}`;
  return host ? `for="${node}";host=${host}` : `for="${node}"`;
}

/** Reads the `for=` node of a `forwarded` header (first element), e.g. `10.0.0.1:1234`. */
export function parseForwardedFor(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /(?:^|[;,\s])for="?([^";,]+)"?/i.exec(value);
  return m?.[1];
}

/** Workload labels as W3C `baggage`, with the keys Istio's ztunnel sends. */
export interface BaggageFields {
  clusterName?: string;
  namespace?: string;
  workloadType?: string;
  workloadName?: string;
  serviceName?: string;
  serviceVersion?: string;
}

export function baggage(f: BaggageFields): string {
  const parts: string[] = [];
  if (f.clusterName) parts.push(`k8s.cluster.name=${f.clusterName}`);
  if (f.namespace) parts.push(`k8s.namespace.name=${f.namespace}`);
  if (f.workloadName) parts.push(`k8s.${f.workloadType ?? 'deployment'}.name=${f.workloadName}`);
  if (f.serviceName) parts.push(`service.name=${f.serviceName}`);
  if (f.serviceVersion) parts.push(`service.version=${f.serviceVersion}`);
  return parts.join(',');
}
