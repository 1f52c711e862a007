import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { HttpTelemetry } from '../../../src/l7/telemetry.js';
import {
  Exchange,
  type ConnInfo,
  type DownRequest,
  type DownResponse,
} from '../../../src/l7/http/exchange.js';
import { compileConfig, portFor } from '../../../src/l7/compile.js';
import { createLogger, silentLogger, type Logger } from '../../../src/common/logger.js';
import { config, cluster, DEFAULT, samples } from './fixtures.js';

const compiled = compileConfig(config());
const port = portFor(compiled, '10.96.0.10', 9080)!;
const ep = cluster(DEFAULT).endpoints[0]!;

function conn(sourcePort: number): ConnInfo {
  return {
    targetIp: '10.96.0.10',
    targetPort: 9080,
    sourceIp: '10.0.1.5',
    sourcePort,
    sourcePrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/productpage',
    sourceWorkload: 'productpage-v1',
    sourceApp: 'productpage',
    sourceVersion: 'v1',
    mtls: true,
  };
}

function exchange(c: ConnInfo, status: number, bytesSent: number, url = '/reviews/1?x=1'): Exchange {
  const req = Object.assign(new Readable({ read() {} }), {
    method: 'GET',
    url,
    httpVersion: '1.1',
    headers: { host: 'reviews:9080', 'user-agent': 'curl/8', 'x-request-id': 'rid-1' },
  }) as DownRequest;
  const ex = new Exchange(req, {} as DownResponse, c, port, compiled.clusters);
  ex.status = status;
  ex.flags = status === 503 ? 'UF' : '-';
  ex.upstream = ep;
  ex.upstreamCluster = DEFAULT;
  ex.bytesReceived = 0;
  ex.bytesSent = bytesSent;
  return ex;
}

test('requests on two connections with the same labels are one series; two engines on one registry share it', async () => {
  const registry = new Registry();
  const t1 = new HttpTelemetry({
    registry,
    log: silentLogger(),
    reporter: 'waypoint',
    clusterId: 'Kubernetes',
    accessLog: false,
  });
  const t2 = new HttpTelemetry({
    registry,
    log: silentLogger(),
    reporter: 'waypoint',
    clusterId: 'Kubernetes',
    accessLog: false,
  });
  const a = conn(40001);
  const b = conn(40002);
  t1.record(exchange(a, 200, 1024));
  t1.record(exchange(a, 200, 1024));
  t1.record(exchange(b, 200, 2048));
  t2.record(exchange(conn(40003), 200, 10));
  t1.record(exchange(b, 503, 95));
  const text = await registry.metrics();

  const total = samples(text, 'istio_requests_total');
  assert.deepEqual(
    total.map(([l, v]) => [l.response_code, l.response_flags, v]),
    [
      ['200', '-', 4],
      ['503', 'UF', 1],
    ],
  );
  const ok = total[0]![0];
  assert.equal(ok.reporter, 'waypoint');
  assert.equal(ok.source_workload, 'productpage-v1');
  assert.equal(ok.source_workload_namespace, 'bookinfo');
  assert.equal(ok.destination_service, 'reviews.bookinfo.svc.cluster.local');
  assert.equal(ok.destination_workload, 'w');
  assert.equal(ok.connection_security_policy, 'mutual_tls');

  const resp = samples(text, 'istio_response_bytes_bucket').filter(([l]) => l.response_code === '200');
  const at = (le: string) => resp.find(([l]) => l.le === le)?.[1];
  assert.equal(at('10'), 1);
  assert.equal(at('1000'), 1);
  assert.equal(at('2500'), 4);
  assert.equal(at('+Inf'), 4);
  const sum = samples(text, 'istio_response_bytes_sum').find(([l]) => l.response_code === '200');
  assert.equal(sum?.[1], 1024 + 1024 + 2048 + 10);
  assert.equal(samples(text, 'istio_request_duration_milliseconds_count')[0]?.[1], 4);
});

function lines(): { lines: string[]; stream: Writable } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  return { lines: out, stream };
}

/** The access record as the engine documents it (docs/waypoint.md), in its key order. */
function expected(ex: Exchange, durationMs: number, userAgent: string | undefined) {
  return {
    start_time: ex.startTime.toISOString(),
    method: 'GET',
    path: ex.query ? `${ex.path}?${ex.query}` : ex.path,
    protocol: 'HTTP/1.1',
    response_code: ex.status,
    response_flags: ex.flags,
    response_code_details: '-',
    bytes_received: 0,
    bytes_sent: ex.bytesSent,
    duration: durationMs,
    user_agent: userAgent,
    x_request_id: 'rid-1',
    authority: 'reviews:9080',
    upstream_host: '10.0.0.1:9080',
    upstream_cluster: DEFAULT,
    downstream_local_address: '10.96.0.10:9080',
    downstream_remote_address: '10.0.1.5:40001',
    source_principal: 'spiffe://cluster.local/ns/bookinfo/sa/productpage',
    route_name: '-',
  };
}

/** A waypoint's telemetry with the access log on, writing to `log`, with its own registry. */
function accessLogging(log: Logger): HttpTelemetry {
  return new HttpTelemetry({
    registry: new Registry(),
    log,
    reporter: 'waypoint',
    clusterId: 'K',
    accessLog: true,
  });
}

test("the access record: one line per request, byte for byte what pino writes for the record's object", () => {
  const noTime = (l: string): string => l.replace(/"time":"[^"]*"/, '"time":0');
  for (const [url, ua] of [
    ['/reviews/1?x=1', 'curl/8'],
    ['/p?"q"=\\ü', undefined],
  ] as const) {
    const ours = lines();
    const theirs = lines();
    const log = createLogger({ component: 'waypoint', destination: ours.stream }).child({ c: 1 });
    const ref = createLogger({ component: 'waypoint', destination: theirs.stream }).child({ c: 1 });
    const t = accessLogging(log);
    const ex = exchange(conn(40001), 503, 95, url);
    if (ua === undefined) delete ex.req.headers['user-agent'];
    t.record(ex);
    assert.equal(ours.lines.length, 1);
    const rec = JSON.parse(ours.lines[0]!) as Record<string, unknown>;
    assert.equal(rec.msg, 'access');
    assert.equal(rec.component, 'waypoint');
    assert.equal(typeof rec.duration, 'number');
    assert.equal('user_agent' in rec, ua !== undefined);
    ref.info(expected(ex, rec.duration as number, ua), 'access');
    assert.equal(noTime(ours.lines[0]!), noTime(theirs.lines[0]!));
  }
});

test('the access record through pino itself when the logger transforms records (here a mixin)', () => {
  const out = lines();
  const log = pino({ mixin: () => ({ node: 'n1' }) }, out.stream);
  const t = accessLogging(log);
  const ex = exchange(conn(40001), 200, 1024);
  t.record(ex);
  const rec = JSON.parse(out.lines[0]!) as Record<string, unknown>;
  assert.equal(rec.node, 'n1');
  const want = expected(ex, rec.duration as number, 'curl/8');
  for (const [k, v] of Object.entries(want)) assert.deepEqual(rec[k], v, k);
});

test('access log off or level above info: no line, metrics still counted', async () => {
  const out = lines();
  const registry = new Registry();
  const quiet = createLogger({ component: 'w', level: 'warn', destination: out.stream });
  new HttpTelemetry({ registry, log: quiet, reporter: 'waypoint', clusterId: 'K', accessLog: true }).record(
    exchange(conn(1), 200, 1),
  );
  const on = createLogger({ component: 'w', destination: out.stream });
  new HttpTelemetry({ registry, log: on, reporter: 'waypoint', clusterId: 'K', accessLog: false }).record(
    exchange(conn(2), 200, 1),
  );
  assert.equal(out.lines.length, 0);
  assert.equal(samples(await registry.metrics(), 'istio_requests_total')[0]?.[1], 2);
});
