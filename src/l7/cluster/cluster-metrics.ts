/**
 * Cluster resilience metrics with Envoy's names as Istio exports them: outlier ejections (active
 * gauge, enforced counter by detector) and circuit-breaker overflows (by limit).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { OutlierMetrics } from './outlier.js';

export interface ClusterMetrics {
  outlier: OutlierMetrics;
  overflow: Counter<'cluster_name' | 'kind'>;
}

export function clusterMetrics(registry: Registry): ClusterMetrics {
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    outlier: {
      active: get(
        'envoy_cluster_outlier_detection_ejections_active',
        () =>
          new Gauge({
            name: 'envoy_cluster_outlier_detection_ejections_active',
            help: 'Endpoints of the cluster ejected now by outlier detection',
            labelNames: ['cluster_name'],
            registers: [registry],
          }),
      ),
      enforced: get(
        'envoy_cluster_outlier_detection_ejections_enforced_total',
        () =>
          new Counter({
            name: 'envoy_cluster_outlier_detection_ejections_enforced_total',
            help: 'Ejections by outlier detection, by detector (consecutive_5xx, consecutive_gateway_failure)',
            labelNames: ['cluster_name', 'reason'],
            registers: [registry],
          }),
      ),
    },
    overflow: get(
      'envoy_cluster_upstream_rq_overflow_total',
      () =>
        new Counter({
          name: 'envoy_cluster_upstream_rq_overflow_total',
          help: 'Requests refused (503 UO) or retries skipped at a connectionPool limit: requests, pending, retries',
          labelNames: ['cluster_name', 'kind'],
          registers: [registry],
        }),
    ),
  };
}
