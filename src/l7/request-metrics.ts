/**
 * Storage of Istio's four HTTP request metrics (istio_requests_total, istio_request_duration_milliseconds,
 * istio_request_bytes, istio_response_bytes) as plain numbers per label set, exported through a
 * prom-client Registry in prom-client's own shapes (so /metrics reads as it did with prom-client's
 * Counter and Histograms: same names, HELP/TYPE, label order, cumulative `le` buckets, `_sum`, `_count`).
 *
 * Why: prom-client checks the label names and hashes the 25-label object on every update (4 per
 * request). Here a label set becomes a `RequestSeries` once (validated then); the engine keeps it with
 * its per-connection label cache, and a request adds to a few numbers. Series with equal label values
 * are one series, whichever connection made them; like prom-client's, they are never removed.
 */
import type { Registry } from 'prom-client';
import { MeshError } from '../common/errors.js';

export const REQUEST_LABELS = [
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

export type RequestLabel = (typeof REQUEST_LABELS)[number];
export type RequestLabels = Readonly<Record<RequestLabel, string>>;

/** Envoy's default histogram buckets (Istio keeps them). */
export const REQUEST_BUCKETS: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
]);
const NB = REQUEST_BUCKETS.length;

/** One histogram of one series: per-bucket counts (not cumulative; above the last bound only `count`). */
export class HistogramData {
  readonly buckets = new Float64Array(NB);
  sum = 0;
  count = 0;

  /** Adds a finite value (the callers pass durations and byte counts). */
  observe(v: number): void {
    let i = 0;
    while (i < NB && v > REQUEST_BUCKETS[i]!) i++;
    if (i < NB) this.buckets[i]!++;
    this.sum += v;
    this.count++;
  }

  reset(): void {
    this.buckets.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** The four metrics' numbers for one label set. */
export class RequestSeries {
  requests = 0;
  readonly duration = new HistogramData();
  readonly requestBytes = new HistogramData();
  readonly responseBytes = new HistogramData();

  constructor(readonly labels: RequestLabels) {}

  /** One request: its duration (ms) and body sizes (bytes). */
  record(ms: number, requestBytes: number, responseBytes: number): void {
    this.requests++;
    this.duration.observe(ms);
    this.requestBytes.observe(requestBytes);
    this.responseBytes.observe(responseBytes);
  }
}

type Part = 'requests' | 'duration' | 'requestBytes' | 'responseBytes';

const NAMES = {
  requests: ['istio_requests_total', 'Requests handled'],
  duration: ['istio_request_duration_milliseconds', 'Request duration'],
  requestBytes: ['istio_request_bytes', 'Request body sizes'],
  responseBytes: ['istio_response_bytes', 'Response body sizes'],
} as const satisfies Record<Part, readonly [string, string]>;

/** A value as prom-client's metrics hand them to the registry. */
interface Value {
  labels: Record<string, string | number>;
  sharedLabels?: RequestLabels;
  value: number;
  metricName?: string;
}

interface MetricObject {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Value[];
}

/**
 * One of the four metrics as the registry sees it: `name`, `help`, `type`, `get()` (and for histograms
 * `getForPromString()`, which the registry prefers for the text format), `reset()`.
 */
class SeriesMetric {
  readonly aggregator = 'sum';
  readonly type: 'counter' | 'histogram';
  /** Mutable: the registry renames counters (drops `_total`) when it writes OpenMetrics. */
  name: string;
  readonly help: string;

  constructor(
    readonly store: RequestMetrics,
    private readonly part: Part,
  ) {
    this.type = part === 'requests' ? 'counter' : 'histogram';
    [this.name, this.help] = NAMES[part];
  }

  get(): Promise<MetricObject> {
    const values: Value[] = [];
    if (this.part === 'requests') {
      // As prom-client's Counter: the series' own labels object (its label order).
      for (const s of this.store.all())
        if (s.requests > 0) values.push({ labels: s.labels, value: s.requests });
    } else {
      for (const v of this.histogramValues()) {
        const labels: Record<string, string | number> = v.labels;
        Object.assign(labels, v.sharedLabels);
        values.push({ labels, value: v.value, metricName: v.metricName });
      }
    }
    return Promise.resolve(this.object(values));
  }

  /** Histograms only: `le` as own labels and the series' labels as shared ones, as prom-client does. */
  getForPromString(): Promise<MetricObject> {
    return this.part === 'requests' ? this.get() : Promise.resolve(this.object(this.histogramValues()));
  }

  /** As prom-client's reset: the metric's series disappear until they are next updated. */
  reset(): void {
    for (const s of this.store.all()) {
      if (this.part === 'requests') s.requests = 0;
      else s[this.part].reset();
    }
  }

  private object(values: Value[]): MetricObject {
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values };
  }

  private histogramValues(): Value[] {
    const part = this.part as Exclude<Part, 'requests'>;
    const bucket = `${this.name}_bucket`;
    const values: Value[] = [];
    for (const s of this.store.all()) {
      const h = s[part];
      if (h.count === 0) continue;
      const shared = s.labels;
      let acc = 0;
      for (let i = 0; i < NB; i++) {
        acc += h.buckets[i]!;
        values.push({
          labels: { le: REQUEST_BUCKETS[i]! },
          sharedLabels: shared,
          value: acc,
          metricName: bucket,
        });
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: shared, value: h.count, metricName: bucket },
        { labels: {}, sharedLabels: shared, value: h.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: shared, value: h.count, metricName: `${this.name}_count` },
      );
    }
    return values;
  }
}

/**
 * The series of one registry. Engines in one process that share a registry (a sidecar's outbound and
 * inbound) share one store: `RequestMetrics.of(registry)`.
 */
export class RequestMetrics {
  private readonly byValues = new Map<string, RequestSeries>();

  private constructor(registry: Registry) {
    for (const part of Object.keys(NAMES) as Part[]) {
      // The registry only reads the surface SeriesMetric has (see the class); prom-client's types name
      // its own classes.
      registry.registerMetric(
        new SeriesMetric(this, part) as unknown as Parameters<Registry['registerMetric']>[0],
      );
    }
  }

  /** The store registered on `registry`, made and registered there on first use. */
  static of(registry: Registry): RequestMetrics {
    const existing = registry.getSingleMetric(NAMES.requests[0]) as unknown;
    if (existing === undefined) return new RequestMetrics(registry);
    if (existing instanceof SeriesMetric) return existing.store;
    throw new MeshError(
      'WP_ERR_METRIC_CONFLICT',
      `the registry already has a metric ${NAMES.requests[0]} that is not the L7 engine's (register the engine's request metrics only through RequestMetrics)`,
    );
  }

  /**
   * The series of a label set (equal values: the same series). Checked once here: every one of the 25
   * labels present, in order, and a string.
   */
  series(labels: RequestLabels): RequestSeries {
    const values: string[] = [];
    for (const name of REQUEST_LABELS) values.push(labels[name]);
    const key = JSON.stringify(values);
    let s = this.byValues.get(key);
    if (s) return s;
    const names = Object.keys(labels);
    if (names.length !== REQUEST_LABELS.length || names.some((n, i) => n !== REQUEST_LABELS[i])) {
      throw new MeshError(
        'WP_ERR_METRIC_LABELS',
        `request metric labels must be exactly ${REQUEST_LABELS.join(',')} in that order; got ${names.join(',')}`,
      );
    }
    for (const name of REQUEST_LABELS) {
      if (typeof labels[name] !== 'string') {
        throw new MeshError(
          'WP_ERR_METRIC_LABELS',
          `request metric label ${name} must be a string; got ${typeof labels[name]}`,
        );
      }
    }
    s = new RequestSeries(Object.freeze({ ...labels }));
    this.byValues.set(key, s);
    return s;
  }

  /** Every series, in the order they were made (the order /metrics lists them). */
  all(): IterableIterator<RequestSeries> {
    return this.byValues.values();
  }
}
