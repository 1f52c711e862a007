import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** istiod's metrics about its configuration and the index (the xDS ones live in istiod/xds). */
export interface ConfigMetrics {
  /** Configuration objects served now, by kind. */
  objects: Gauge<'kind'>;
  /** Configuration events applied, by kind and event (Istio: pilot_k8s_cfg_events). */
  events: Counter<'type' | 'event'>;
  /** Objects rejected by validation, counted once per new problem, by kind (Istio: galley_validation_failed). */
  rejected: Counter<'kind'>;
  /** Current configuration problems (invalid objects, unreadable files, duplicates). */
  issues: Gauge;
  /** Seconds the index took to compute a change: the initial build, then each update. */
  indexCompute: Histogram<'phase'>;
  /** Seconds to hand a change set to the xDS server (each changed resource encoded once). */
  xdsPrepare: Histogram<'phase'>;
  /** xDS resources held, by type. */
  resources: Gauge<'type'>;
}

const BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createConfigMetrics(registry: Registry): ConfigMetrics {
  const registers = [registry];
  return {
    objects: new Gauge({
      name: 'istiod_config_objects',
      help: 'Configuration objects served, by kind.',
      labelNames: ['kind'],
      registers,
    }),
    events: new Counter({
      name: 'pilot_k8s_cfg_events',
      help: 'Configuration events applied, by kind (type) and event (add, update, delete).',
      labelNames: ['type', 'event'],
      registers,
    }),
    rejected: new Counter({
      name: 'galley_validation_failed',
      help: 'Configuration objects rejected by validation (each new problem once), by kind.',
      labelNames: ['kind'],
      registers,
    }),
    issues: new Gauge({
      name: 'istiod_config_issues',
      help: 'Configuration problems present now (invalid objects, unreadable files, duplicates).',
      registers,
    }),
    indexCompute: new Histogram({
      name: 'istiod_index_compute_seconds',
      help: 'Seconds the ambient index took to compute resources: phase initial (full build) or update.',
      labelNames: ['phase'],
      buckets: BUCKETS,
      registers,
    }),
    xdsPrepare: new Histogram({
      name: 'istiod_xds_prepare_seconds',
      help: 'Seconds to hand a change set to the xDS server, encoding each changed resource once: phase initial or update.',
      labelNames: ['phase'],
      buckets: BUCKETS,
      registers,
    }),
    resources: new Gauge({
      name: 'istiod_xds_resources',
      help: 'xDS resources held for pushing, by type (address, authorization).',
      labelNames: ['type'],
      registers,
    }),
  };
}
