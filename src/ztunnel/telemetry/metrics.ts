import { Counter, type Registry } from 'prom-client';

/**
 * ztunnel's connection metrics, with Istio's names and labels, so dashboards and alerts written for
 * Istio's ztunnel work unchanged:
 *   istio_tcp_connections_opened_total, istio_tcp_connections_closed_total,
 *   istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total, istio_tcp_connections_failed_total.
 * `reporter` is `source` on the outbound side and `destination` on the inbound side.
 */
export const TCP_LABELS = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_service',
  'destination_service_namespace',
  'destination_service_name',
  'destination_workload',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_cluster',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
] as const;

export type TcpLabel = (typeof TCP_LABELS)[number];
export type TcpLabels = Record<TcpLabel, string>;

/** What the metrics need to know of one side of a connection. Unknown fields are 'unknown'. */
export interface PeerInfo {
  workload?: string;
  namespace?: string;
  canonicalService?: string;
  canonicalRevision?: string;
  principal?: string;
  cluster?: string;
}

export interface ConnectionLabels {
  reporter: 'source' | 'destination';
  source: PeerInfo;
  destination: PeerInfo;
  /** Service hostname when the connection was addressed to a service. */
  service?: { hostname: string; namespace: string; name: string };
  /** mutual_tls when carried over HBONE, else unknown. */
  mtls: boolean;
  /** Envoy-style response flags: '-' for none, e.g. 'UF' upstream failure, 'UAEX' denied. */
  responseFlags?: string;
}

const U = 'unknown';

export function tcpLabels(c: ConnectionLabels): TcpLabels {
  const s = c.source;
  const d = c.destination;
  return {
    reporter: c.reporter,
    source_workload: s.workload ?? U,
    source_canonical_service: s.canonicalService ?? U,
    source_canonical_revision: s.canonicalRevision ?? U,
    source_workload_namespace: s.namespace ?? U,
    source_principal: s.principal ?? U,
    source_app: s.canonicalService ?? U,
    source_version: s.canonicalRevision ?? U,
    source_cluster: s.cluster ?? U,
    destination_service: c.service?.hostname ?? U,
    destination_service_namespace: c.service?.namespace ?? U,
    destination_service_name: c.service?.name ?? U,
    destination_workload: d.workload ?? U,
    destination_canonical_service: d.canonicalService ?? U,
    destination_canonical_revision: d.canonicalRevision ?? U,
    destination_workload_namespace: d.namespace ?? U,
    destination_principal: d.principal ?? U,
    destination_app: d.canonicalService ?? U,
    destination_version: d.canonicalRevision ?? U,
    destination_cluster: d.cluster ?? U,
    request_protocol: 'tcp',
    response_flags: c.responseFlags ?? '-',
    connection_security_policy: c.mtls ? 'mutual_tls' : 'unknown',
  };
}

export class TcpMetrics {
  readonly opened: Counter<TcpLabel>;
  readonly closed: Counter<TcpLabel>;
  readonly sent: Counter<TcpLabel>;
  readonly received: Counter<TcpLabel>;
  readonly failed: Counter<TcpLabel>;

  constructor(registry: Registry) {
    const make = (name: string, help: string) =>
      new Counter({ name, help, labelNames: TCP_LABELS, registers: [registry] });
    this.opened = make('istio_tcp_connections_opened_total', 'The total number of TCP connections opened');
    this.closed = make('istio_tcp_connections_closed_total', 'The total number of TCP connections closed');
    this.sent = make(
      'istio_tcp_sent_bytes_total',
      'The size of total bytes sent during request in case of a TCP connection',
    );
    this.received = make(
      'istio_tcp_received_bytes_total',
      'The size of total bytes received during request in case of a TCP connection',
    );
    this.failed = make(
      'istio_tcp_connections_failed_total',
      'The total number of TCP connections that failed to establish',
    );
  }

  /** At open: count it. Returns the labels to pass to `close` or `fail`. */
  open(c: ConnectionLabels): TcpLabels {
    const labels = tcpLabels(c);
    this.opened.inc(labels);
    return labels;
  }

  /** At close: count it with the bytes each way (sent = toward the destination). */
  close(labels: TcpLabels, sentBytes: number, receivedBytes: number): void {
    this.closed.inc(labels);
    if (sentBytes > 0) this.sent.inc(labels, sentBytes);
    if (receivedBytes > 0) this.received.inc(labels, receivedBytes);
  }

  /** A connection that never got established (denied, no upstream, ...). */
  fail(c: ConnectionLabels): void {
    this.failed.inc(tcpLabels(c));
  }
}
