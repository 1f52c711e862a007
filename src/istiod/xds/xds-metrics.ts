import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The delta xDS server's metrics, with istiod's names where istiod has them. */
export interface XdsMetrics {
  /** Connected proxies (istiod: pilot_xds). */
  connected: Gauge;
  /** Responses sent, by type (istiod: pilot_xds_pushes). */
  pushes: Counter<'type'>;
  /** Time to build and hand one response to the transport, seconds (istiod: pilot_xds_push_time). */
  pushTime: Histogram<'type'>;
  /** From a config change to the proxy's ACK, seconds (istiod: pilot_proxy_convergence_time). */
  convergence: Histogram;
  /** NACKs received, by type (istiod: pilot_total_xds_rejects). */
  rejects: Counter<'type'>;
  /** Requests carrying a nonce that is not the latest sent, ignored (istiod: pilot_xds_expired_nonce). */
  expiredNonces: Counter<'type'>;
  /** Bytes of responses sent, by type. */
  bytesSent: Counter<'type'>;
  /** Subscriptions to restricted resources (credentials) refused, by type. */
  refusedSubscriptions: Counter<'type'>;
}

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3, 5, 10, 20, 30];

export function createXdsMetrics(registry: Registry): XdsMetrics {
  const registers = [registry];
  return {
    connected: new Gauge({ name: 'pilot_xds', help: 'Proxies connected over delta xDS.', registers }),
    pushes: new Counter({
      name: 'pilot_xds_pushes',
      help: 'Delta xDS responses sent, by resource type.',
      labelNames: ['type'],
      registers,
    }),
    pushTime: new Histogram({
      name: 'pilot_xds_push_time',
      help: 'Seconds to build one delta xDS response and hand it to the transport.',
      labelNames: ['type'],
      buckets: BUCKETS,
      registers,
    }),
    convergence: new Histogram({
      name: 'pilot_proxy_convergence_time',
      help: 'Seconds from a config change until a proxy acknowledged it.',
      buckets: BUCKETS,
      registers,
    }),
    rejects: new Counter({
      name: 'pilot_total_xds_rejects',
      help: 'Delta xDS responses a proxy rejected (NACK).',
      labelNames: ['type'],
      registers,
    }),
    expiredNonces: new Counter({
      name: 'pilot_xds_expired_nonce',
      help: 'Requests with a nonce other than the latest sent; ignored.',
      labelNames: ['type'],
      registers,
    }),
    bytesSent: new Counter({
      name: 'pilot_xds_sent_bytes_total',
      help: 'Bytes of xDS responses sent.',
      labelNames: ['type'],
      registers,
    }),
    refusedSubscriptions: new Counter({
      name: 'meshlite_xds_refused_subscriptions_total',
      help: 'Subscriptions to restricted resources (gateway credentials) refused to the requesting proxy.',
      labelNames: ['type'],
      registers,
    }),
  };
}

/** Short type label from a type URL (`istio.workload.Address` -> `address`), as istiod's labels. */
export function typeLabel(typeUrl: string): string {
  const dot = typeUrl.lastIndexOf('.');
  return (dot >= 0 ? typeUrl.slice(dot + 1) : typeUrl).toLowerCase();
}
