import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  REQUEST_BUCKETS,
  REQUEST_LABELS,
  RequestMetrics,
  type RequestLabel,
  type RequestLabels,
} from '../../../src/l7/request-metrics.js';
import { samples } from './fixtures.js';

function labels(over: Partial<Record<RequestLabel, string>> = {}): RequestLabels {
  const l = {} as Record<RequestLabel, string>;
  for (const n of REQUEST_LABELS) l[n] = over[n] ?? `${n}-v`;
  return l;
}

/** The same four metrics made with prom-client's own Counter and Histograms (what the engine used). */
function promClientMetrics(registry: Registry) {
  const o = { labelNames: REQUEST_LABELS, registers: [registry] };
  return {
    requests: new Counter({ name: 'istio_requests_total', help: 'Requests handled', ...o }),
    duration: new Histogram({
      name: 'istio_request_duration_milliseconds',
      help: 'Request duration',
      buckets: [...REQUEST_BUCKETS],
      ...o,
    }),
    reqBytes: new Histogram({
      name: 'istio_request_bytes',
      help: 'Request body sizes',
      buckets: [...REQUEST_BUCKETS],
      ...o,
    }),
    resBytes: new Histogram({
      name: 'istio_response_bytes',
      help: 'Response body sizes',
      buckets: [...REQUEST_BUCKETS],
      ...o,
    }),
  };
}

function registryOf(contentType: string): Registry {
  const r = new Registry();
  r.setContentType(contentType as typeof Registry.PROMETHEUS_CONTENT_TYPE);
  return r;
}

/** Requests: [labels, ms, request bytes, response bytes]; edges, overflow, escapes, repeats. */
const REQUESTS: Array<[RequestLabels, number, number, number]> = [
  [labels({ response_code: '200' }), 0.5, 0, 1024],
  [labels({ response_code: '200' }), 3.25, 1000, 1001],
  [labels({ response_code: '503', response_flags: 'UF' }), 12.5, 0, 95],
  [labels({ response_code: '200' }), 4_000_000, 10_000_000, 0.25],
  [labels({ source_principal: 'we"ird\\pa\nth' }), 1, 5, 3_600_000],
  [labels({ response_code: '503', response_flags: 'UF' }), 60000, 60001, 7],
];

function record(store: RequestMetrics, prom: ReturnType<typeof promClientMetrics>) {
  for (const [l, ms, rq, rs] of REQUESTS) {
    // A fresh but equal labels object each time, as two connections make them.
    store.series({ ...l }).record(ms, rq, rs);
    prom.requests.inc({ ...l });
    prom.duration.observe({ ...l }, ms);
    prom.reqBytes.observe({ ...l }, rq);
    prom.resBytes.observe({ ...l }, rs);
  }
}

test('exposition text, JSON and OpenMetrics are identical to prom-client Counter + Histograms fed the same requests', async () => {
  for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE] as const) {
    const ours = registryOf(contentType);
    const theirs = registryOf(contentType);
    record(RequestMetrics.of(ours), promClientMetrics(theirs));
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics());
    assert.match(text, /^istio_request_duration_milliseconds_bucket\{le="0\.5",reporter="reporter-v",/m);
    // prom-client adds an empty `exemplar` to histogram values (we enable no exemplars).
    const json = (await theirs.getMetricsAsJSON()).map((m) => ({
      ...m,
      values: m.values.map((v) => {
        const { exemplar: _e, ...rest } = v as typeof v & { exemplar?: unknown };
        return rest;
      }),
    }));
    assert.deepEqual(await ours.getMetricsAsJSON(), json);
  }
  const ours = new Registry();
  const theirs = new Registry();
  ours.setDefaultLabels({ pod: 'waypoint-1' });
  theirs.setDefaultLabels({ pod: 'waypoint-1' });
  record(RequestMetrics.of(ours), promClientMetrics(theirs));
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('equal label values from different objects are one series; buckets are cumulative; sum and count', async () => {
  const registry = new Registry();
  const store = RequestMetrics.of(registry);
  const a = store.series(labels({ source_workload: 'productpage' }));
  const b = store.series(labels({ source_workload: 'productpage' }));
  assert.equal(a, b);
  a.record(0.3, 10, 100);
  b.record(7, 20, 2000);
  store.series(labels({ source_workload: 'productpage' })).record(120, 30, 5_000_000);
  store.series(labels({ source_workload: 'ratings' })).record(1, 1, 1);
  const text = await registry.metrics();

  const total = samples(text, 'istio_requests_total');
  assert.deepEqual(
    total.map(([l, v]) => [l.source_workload, v]),
    [
      ['productpage', 3],
      ['ratings', 1],
    ],
  );
  assert.deepEqual(Object.keys(total[0]![0]), [...REQUEST_LABELS]);

  const buckets = samples(text, 'istio_request_duration_milliseconds_bucket').filter(
    ([l]) => l.source_workload === 'productpage',
  );
  const at = (le: string) => buckets.find(([l]) => l.le === le)?.[1];
  assert.equal(buckets.length, REQUEST_BUCKETS.length + 1);
  assert.equal(at('0.5'), 1);
  assert.equal(at('5'), 1);
  assert.equal(at('10'), 2);
  assert.equal(at('100'), 2);
  assert.equal(at('250'), 3);
  assert.equal(at('3600000'), 3);
  assert.equal(at('+Inf'), 3);
  const resp = samples(text, 'istio_response_bytes_bucket').filter(
    ([l]) => l.source_workload === 'productpage',
  );
  assert.equal(resp.find(([l]) => l.le === '3600000')?.[1], 2, 'above the last bound: only in +Inf');
  assert.equal(resp.find(([l]) => l.le === '+Inf')?.[1], 3);
  const sum = samples(text, 'istio_request_duration_milliseconds_sum').find(
    ([l]) => l.source_workload === 'productpage',
  );
  assert.equal(sum?.[1], 127.3);
  const count = samples(text, 'istio_request_bytes_count').find(([l]) => l.source_workload === 'productpage');
  assert.equal(count?.[1], 3);
});

test('one store per registry (engines sharing a registry share series); another registry is separate', async () => {
  const registry = new Registry();
  const one = RequestMetrics.of(registry);
  assert.equal(RequestMetrics.of(registry), one);
  one.series(labels({ reporter: 'source' })).record(1, 1, 1);
  RequestMetrics.of(registry)
    .series(labels({ reporter: 'source' }))
    .record(1, 1, 1);
  assert.equal(samples(await registry.metrics(), 'istio_requests_total')[0]?.[1], 2);
  const other = new Registry();
  RequestMetrics.of(other);
  assert.equal(samples(await other.metrics(), 'istio_requests_total').length, 0);
});

test('bad input: a foreign metric of the same name, missing or non-string labels get clear errors', () => {
  const registry = new Registry();
  new Counter({ name: 'istio_requests_total', help: 'x', registers: [registry] });
  assert.throws(() => RequestMetrics.of(registry), { code: 'WP_ERR_METRIC_CONFLICT' });

  const store = RequestMetrics.of(new Registry());
  const { reporter: _r, ...missing } = labels();
  assert.throws(() => store.series(missing as RequestLabels), {
    code: 'WP_ERR_METRIC_LABELS',
    message: /must be exactly reporter,/,
  });
  assert.throws(() => store.series({ ...labels(), response_code: 200 } as unknown as RequestLabels), {
    code: 'WP_ERR_METRIC_LABELS',
    message: /response_code must be a string/,
  });
});

test('registry.resetMetrics(): series leave /metrics until they are updated again', async () => {
  const registry = new Registry();
  const store = RequestMetrics.of(registry);
  const s = store.series(labels());
  s.record(1, 2, 3);
  registry.resetMetrics();
  const text = await registry.metrics();
  assert.doesNotMatch(text, /reporter=/);
  assert.match(text, /# TYPE istio_request_bytes histogram/);
  s.record(2, 2, 2);
  const after = await registry.metrics();
  assert.equal(samples(after, 'istio_requests_total')[0]?.[1], 1);
  assert.equal(samples(after, 'istio_request_duration_milliseconds_sum')[0]?.[1], 2);
});
