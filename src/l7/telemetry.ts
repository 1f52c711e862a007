/**
 * Istio's standard HTTP metrics (istio_requests_total, istio_request_duration_milliseconds,
 * istio_request_bytes, istio_response_bytes) with Istio's labels, and one access log record per
 * request with the fields of Istio's default access log format.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import type { ConnInfo, Exchange } from './http/exchange.js';
import type { Endpoint } from './model.js';

const LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

type Label = (typeof LABELS)[number];

/** Envoy's default histogram buckets (Istio keeps them). */
const BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

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
  private readonly requests: Counter<Label>;
  private readonly duration: Histogram<Label>;
  private readonly reqBytes: Histogram<Label>;
  private readonly resBytes: Histogram<Label>;

  constructor(private readonly o: TelemetryOptions) {
    const registers = [o.registry];
    // Two engines in one process (a sidecar's outbound and inbound) share the registry's metrics.
    const existing = o.registry.getSingleMetric('istio_requests_total');
    if (existing) {
      this.requests = existing as Counter<Label>;
      this.duration = o.registry.getSingleMetric('istio_request_duration_milliseconds') as Histogram<Label>;
      this.reqBytes = o.registry.getSingleMetric('istio_request_bytes') as Histogram<Label>;
      this.resBytes = o.registry.getSingleMetric('istio_response_bytes') as Histogram<Label>;
      return;
    }
    this.requests = new Counter({
      name: 'istio_requests_total',
      help: 'Requests handled',
      labelNames: LABELS,
      registers,
    });
    this.duration = new Histogram({
      name: 'istio_request_duration_milliseconds',
      help: 'Request duration',
      labelNames: LABELS,
      buckets: BUCKETS,
      registers,
    });
    this.reqBytes = new Histogram({
      name: 'istio_request_bytes',
      help: 'Request body sizes',
      labelNames: LABELS,
      buckets: BUCKETS,
      registers,
    });
    this.resBytes = new Histogram({
      name: 'istio_response_bytes',
      help: 'Response body sizes',
      labelNames: LABELS,
      buckets: BUCKETS,
      registers,
    });
  }

  record(ex: Exchange): void {
    const ms = performance.now() - ex.started;
    const c = ex.conn;
    const ep = ex.upstream;
    // The destination service is the one routed to (the backend's), as Envoy reports it from the cluster.
    const d = ex.decision;
    const svc = d?.kind === 'forward' ? serviceOf(d.cluster.service, ex.port.service) : ex.port.service;
    const labels = this.labelsFor(c, ep, svc, ex);
    this.requests.inc(labels);
    this.duration.observe(labels, ms);
    this.reqBytes.observe(labels, ex.bytesReceived);
    this.resBytes.observe(labels, ex.bytesSent);
    if (!this.o.accessLog) return;
    const cs = this.conn(c);
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
      cs = {
        local: `${c.targetIp}:${c.targetPort}`,
        remote: `${c.sourceIp}:${c.sourcePort}`,
        srcNs,
        labels: new Map(),
      };
      this.conns.set(c, cs);
    }
    return cs;
  }

  /**
   * Istio's labels of one request. The object is reused for the connection's requests with the same
   * endpoint, service, code, flags and gRPC status (a few distinct sets per connection), so a request
   * does not build 25 strings and an object of its own.
   */
  private labelsFor(c: ConnInfo, ep: Endpoint | undefined, svc: Svc, ex: Exchange): Record<Label, string> {
    const cs = this.conn(c);
    const key = `${ep ? idOf(ep) : 0}|${svc.hostname}|${ex.status}|${ex.flags}|${ex.grpcStatus}|${ex.grpc ? 1 : 0}`;
    let labels = cs.labels.get(key);
    if (labels) return labels;
    labels = {
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
    if (cs.labels.size >= MAX_LABEL_SETS_PER_CONN) cs.labels.clear();
    cs.labels.set(key, labels);
    return labels;
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
  srcNs: string;
  labels: Map<string, Record<Label, string>>;
}

const hosts = new WeakMap<Endpoint, string>();
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

function serviceOf(fqdn: string, addressed: { hostname: string; name: string; namespace: string }) {
  if (fqdn === addressed.hostname) return addressed;
  const [name = fqdn, namespace = addressed.namespace] = fqdn.split('.');
  return { hostname: fqdn, name, namespace };
}

function parseSpiffe(uri: string): { ns: string; sa: string } | undefined {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  return m ? { ns: m[1]!, sa: m[2]! } : undefined;
}
