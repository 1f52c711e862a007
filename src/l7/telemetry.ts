/**
 * Istio's standard HTTP metrics (istio_requests_total, istio_request_duration_milliseconds,
 * istio_request_bytes, istio_response_bytes) with Istio's labels, and one access log record per
 * request with the fields of Istio's default access log format. The metrics' numbers live in
 * request-metrics.ts, one series per label set, found through a per-connection cache.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import type { ConnInfo, Exchange } from './http/exchange.js';
import type { Endpoint } from './model.js';
import { JsonLineWriter } from '../common/json-line.js';
import { RequestMetrics, type RequestLabels, type RequestSeries } from './request-metrics.js';

export interface TelemetryOptions {
  registry: Registry;
  log: Logger;
  /** `waypoint`, `source` (sidecar outbound, gateway) or `destination`. */
  reporter: string;
  clusterId: string;
  accessLog: boolean;
}

export class HttpTelemetry {
  private readonly conns = new WeakMap<ConnInfo, ConnStrings>();
  /** Shared by the engines that share the registry (a sidecar's outbound and inbound). */
  private readonly metrics: RequestMetrics;

  /** The access record's line written by our own serializer (undefined: through `log.info`). */
  private readonly line: JsonLineWriter | undefined;

  constructor(private readonly o: TelemetryOptions) {
    this.metrics = RequestMetrics.of(o.registry);
    this.line = o.accessLog ? JsonLineWriter.of(o.log, 'info', 'access', ACCESS_KEYS) : undefined;
  }

  record(ex: Exchange): void {
    const ms = performance.now() - ex.started;
    const c = ex.conn;
    const cs = this.conn(c);
    const ep = ex.upstream;
    // The destination service is the one routed to (the backend's), as Envoy reports it from the cluster.
    const d = ex.decision;
    const svc = d?.kind === 'forward' ? serviceOf(d.cluster.service, ex.port.service) : ex.port.service;
    this.seriesFor(cs, c, ep, svc, ex).record(ms, ex.bytesReceived, ex.bytesSent);
    if (!this.o.accessLog) return;
    const line = this.line;
    if (line) {
      if (line.enabled) line.write(accessMembers(ex, ms, ep, cs));
      return;
    }
    this.o.log.info(
      {
        start_time: ex.startTime.toISOString(),
        method: ex.method,
        path: ex.query ? `${ex.path}?${ex.query}` : ex.path,
        protocol: ex.protocol,
        response_code: ex.status,
        response_flags: ex.flags,
        response_code_details: ex.details,
        bytes_received: ex.bytesReceived,
        bytes_sent: ex.bytesSent,
        duration: Math.round(ms),
        user_agent: ex.header('user-agent'),
        x_request_id: ex.requestId,
        authority: ex.authority,
        upstream_host: ep ? hostOf(ep) : '-',
        upstream_cluster: ex.upstreamCluster,
        downstream_local_address: cs.local,
        downstream_remote_address: cs.remote,
        source_principal: c.sourcePrincipal,
        route_name: ex.decision?.routeName ?? '-',
      },
      'access',
    );
  }

  /** What a connection contributes to every request's labels and log record, computed once. */
  private conn(c: ConnInfo): ConnStrings {
    let cs = this.conns.get(c);
    if (!cs) {
      const srcNs = c.sourceNamespace ?? parseSpiffe(c.sourcePrincipal)?.ns ?? 'unknown';
      const local = `${c.targetIp}:${c.targetPort}`;
      const remote = `${c.sourceIp}:${c.sourcePort}`;
      cs = {
        local,
        remote,
        connMembers:
          `,"downstream_local_address":${JSON.stringify(local)}` +
          `,"downstream_remote_address":${JSON.stringify(remote)}` +
          `,"source_principal":${JSON.stringify(c.sourcePrincipal)}`,
        srcNs,
        series: new Map(),
      };
      this.conns.set(c, cs);
    }
    return cs;
  }

  /**
   * The metric series of one request's Istio labels. Kept per connection for its requests with the
   * same endpoint, service, code, flags and gRPC status (a few distinct sets per connection), so a
   * request builds no labels and looks nothing up but this short key.
   */
  private seriesFor(
    cs: ConnStrings,
    c: ConnInfo,
    ep: Endpoint | undefined,
    svc: Svc,
    ex: Exchange,
  ): RequestSeries {
    const key = `${ep ? idOf(ep) : 0}|${svc.hostname}|${ex.status}|${ex.flags}|${ex.grpcStatus}|${ex.grpc ? 1 : 0}`;
    let series = cs.series.get(key);
    if (series) return series;
    const labels: RequestLabels = {
      reporter: this.o.reporter,
      source_workload: c.sourceWorkload ?? 'unknown',
      source_workload_namespace: cs.srcNs,
      source_principal: c.sourcePrincipal || 'unknown',
      source_app: c.sourceApp ?? 'unknown',
      source_version: c.sourceVersion ?? 'unknown',
      source_canonical_service: c.sourceApp ?? c.sourceWorkload ?? 'unknown',
      source_canonical_revision: c.sourceVersion ?? 'latest',
      source_cluster: this.o.clusterId,
      destination_workload: ep?.workload ?? 'unknown',
      destination_workload_namespace: ep?.namespace ?? svc.namespace,
      destination_principal: ep?.identity || 'unknown',
      destination_app: ep?.app ?? 'unknown',
      destination_version: ep?.version ?? 'unknown',
      destination_service: svc.hostname,
      destination_service_name: svc.name,
      destination_service_namespace: svc.namespace,
      destination_canonical_service: ep?.app ?? ep?.workload ?? 'unknown',
      destination_canonical_revision: ep?.version ?? 'latest',
      destination_cluster: this.o.clusterId,
      request_protocol: ex.grpc ? 'grpc' : 'http',
      response_code: String(ex.status),
      grpc_response_status: ex.grpcStatus,
      response_flags: ex.flags,
      connection_security_policy: c.mtls ? 'mutual_tls' : 'none',
    };
    series = this.metrics.series(labels);
    if (cs.series.size >= MAX_LABEL_SETS_PER_CONN) cs.series.clear();
    cs.series.set(key, series);
    return series;
  }
}

/** Label sets kept per downstream connection (a connection sees only a few; the bound is for odd ones). */
const MAX_LABEL_SETS_PER_CONN = 32;

interface Svc {
  hostname: string;
  name: string;
  namespace: string;
}

interface ConnStrings {
  local: string;
  remote: string;
  /** The access record's downstream addresses and source principal, serialized. */
  connMembers: string;
  srcNs: string;
  series: Map<string, RequestSeries>;
}

/** The access record's keys, in order. */
const ACCESS_KEYS = [
  'start_time',
  'method',
  'path',
  'protocol',
  'response_code',
  'response_flags',
  'response_code_details',
  'bytes_received',
  'bytes_sent',
  'duration',
  'user_agent',
  'x_request_id',
  'authority',
  'upstream_host',
  'upstream_cluster',
  'downstream_local_address',
  'downstream_remote_address',
  'source_principal',
  'route_name',
] as const;

/**
 * The access record's members as pino writes them from the object in `record` (same keys, order and
 * values; an absent user agent leaves its key out), serialized without pino's generic walk.
 */
function accessMembers(ex: Exchange, ms: number, ep: Endpoint | undefined, cs: ConnStrings): string {
  const ua = ex.header('user-agent');
  const path = ex.query ? `${ex.path}?${ex.query}` : ex.path;
  return (
    `,"start_time":"${ex.startTime.toISOString()}","method":${JSON.stringify(ex.method)}` +
    `,"path":${JSON.stringify(path)},"protocol":${JSON.stringify(ex.protocol)}` +
    `,"response_code":${ex.status},"response_flags":${JSON.stringify(ex.flags)}` +
    `,"response_code_details":${JSON.stringify(ex.details)}` +
    `,"bytes_received":${ex.bytesReceived},"bytes_sent":${ex.bytesSent},"duration":${Math.round(ms)}` +
    (ua === undefined ? '' : `,"user_agent":${JSON.stringify(ua)}`) +
    `,"x_request_id":${JSON.stringify(ex.requestId)},"authority":${JSON.stringify(ex.authority)}` +
    `,"upstream_host":${ep ? hostJsonOf(ep) : '"-"'},"upstream_cluster":${JSON.stringify(ex.upstreamCluster)}` +
    `${cs.connMembers},"route_name":${JSON.stringify(ex.decision?.routeName ?? '-')}`
  );
}

const hosts = new WeakMap<Endpoint, string>();
const hostJsons = new WeakMap<Endpoint, string>();
const ids = new WeakMap<Endpoint, number>();
let lastId = 0;

/** A number per endpoint object (a new one each config push), for label-set keys. */
function idOf(ep: Endpoint): number {
  let id = ids.get(ep);
  if (id === undefined) {
    id = ++lastId;
    ids.set(ep, id);
  }
  return id;
}

/** `ip:port` of an endpoint, made once per endpoint object (per config push). */
function hostOf(ep: Endpoint): string {
  let h = hosts.get(ep);
  if (h === undefined) {
    h = `${ep.ip}:${ep.port}`;
    hosts.set(ep, h);
  }
  return h;
}

/** `hostOf(ep)` as a JSON string, made once per endpoint object. */
function hostJsonOf(ep: Endpoint): string {
  let h = hostJsons.get(ep);
  if (h === undefined) {
    h = JSON.stringify(hostOf(ep));
    hostJsons.set(ep, h);
  }
  return h;
}

function serviceOf(fqdn: string, addressed: { hostname: string; name: string; namespace: string }) {
  if (fqdn === addressed.hostname) return addressed;
  const [name = fqdn, namespace = addressed.namespace] = fqdn.split('.');
  return { hostname: fqdn, name, namespace };
}

function parseSpiffe(uri: string): { ns: string; sa: string } | undefined {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  return m ? { ns: m[1]!, sa: m[2]! } : undefined;
}
