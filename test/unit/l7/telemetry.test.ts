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
import { silentLogger } from '../../../src/common/logger.js';
import { config, cluster, DEFAULT } from './fixtures.js';

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

function samples(text: string, name: string): Array<[Record<string, string>, number]> {
  const out: Array<[Record<string, string>, number]> = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l: Record<string, string> = {};
    for (const p of m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) l[p[1]!] = p[2]!;
    out.push([l, Number(m[3])]);
  }
  return out;
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

test('the access record: one JSON line per request with Envoy-style fields', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = pino({ base: { component: 'waypoint' } }, sink);
  const t = new HttpTelemetry({
    registry: new Registry(),
    log,
    reporter: 'waypoint',
    clusterId: 'K',
    accessLog: true,
  });
  const ex = exchange(conn(40001), 503, 95, '/p?"q"=1');
  t.record(ex);
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(rec.msg, 'access');
  assert.equal(rec.component, 'waypoint');
  assert.deepEqual(
    {
      ...rec,
      level: undefined,
      time: undefined,
      pid: undefined,
      hostname: undefined,
      duration: typeof rec.duration,
    },
    {
      level: undefined,
      time: undefined,
      pid: undefined,
      hostname: undefined,
      component: 'waypoint',
      start_time: ex.startTime.toISOString(),
      method: 'GET',
      path: '/p?"q"=1',
      protocol: 'HTTP/1.1',
      response_code: 503,
      response_flags: 'UF',
      response_code_details: '-',
      bytes_received: 0,
      bytes_sent: 95,
      duration: 'number',
      user_agent: 'curl/8',
      x_request_id: 'rid-1',
      authority: 'reviews:9080',
      upstream_host: '10.0.0.1:9080',
      upstream_cluster: DEFAULT,
      downstream_local_address: '10.96.0.10:9080',
      downstream_remote_address: '10.0.1.5:40001',
      source_principal: 'spiffe://cluster.local/ns/bookinfo/sa/productpage',
      route_name: '-',
      msg: 'access',
    },
  );
});
