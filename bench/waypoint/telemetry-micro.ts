/**
 * Micro-benchmark of the L7 engine's per-request telemetry (`HttpTelemetry.record`: Istio's four
 * request metrics and the access record) in this process, for one or more builds side by side.
 *
 * Run: npx tsc -p . && node dist/bench/waypoint/telemetry-micro.js [--rounds 7] [--records 20000]
 *      [--builds before=/path/to/main/dist,after=dist]
 * Each build's `HttpTelemetry`, `Exchange`, config compiler and logger are imported from its dist root.
 * The exchanges are realistic: 4 keep-alive connections, 2 endpoints and a share of 503 UF, so 3 label
 * sets per connection (6 series); durations 1-40 ms, 1 KiB responses. Every build runs with the access
 * log on (the waypoint's logger, batched, into /dev/null) and off, rounds interleaved; the figure is the
 * process's CPU time (user + system, every thread) per record, median of rounds (the first is warm-up).
 */
import { openSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
};
const rounds = Number(arg('rounds', '7'));
const records = Number(arg('records', '20000'));
const builds = arg('builds', 'current=dist')
  .split(',')
  .map((b) => {
    const [name = '', root = ''] = b.split('=');
    return { name, root: resolve(root) };
  });

/* eslint-disable @typescript-eslint/no-explicit-any -- modules of another build, typed loosely */
type Variant = { name: string; record: () => void; cpu: number[] };

const devNull = openSync('/dev/null', 'w');
const ENDPOINTS = [
  { ip: '10.1.0.11', port: 9080, identity: 'spiffe://cluster.local/ns/bookinfo/sa/reviews', hbone: true },
  { ip: '10.1.0.12', port: 9080, identity: 'spiffe://cluster.local/ns/bookinfo/sa/reviews', hbone: true },
].map((e, i) => ({
  ...e,
  workload: `reviews-v${i + 1}`,
  namespace: 'bookinfo',
  app: 'reviews',
  version: `v${i + 1}`,
}));
const CLUSTER = 'inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local';

async function variantsOf(build: { name: string; root: string }): Promise<Variant[]> {
  const from = (p: string): Promise<any> => import(pathToFileURL(join(build.root, p)).href);
  const { HttpTelemetry } = await from('src/l7/telemetry.js');
  const { Exchange } = await from('src/l7/http/exchange.js');
  const { compileConfig, portFor } = await from('src/l7/compile.js');
  const { createLogger } = await from('src/common/logger.js');
  const { ACCESS_LOG_BATCH_MS } = await from('src/common/log-batch.js');
  const { Registry } = await import('prom-client');
  const compiled = compileConfig({
    proxy: 'bookinfo/waypoint',
    services: [
      {
        namespace: 'bookinfo',
        name: 'reviews',
        hostname: 'reviews.bookinfo.svc.cluster.local',
        vips: ['10.96.0.10'],
        ports: [{ port: 9080, targetPort: 9080, protocol: 'http', defaultCluster: CLUSTER }],
      },
    ],
    clusters: [
      {
        name: CLUSTER,
        service: 'reviews.bookinfo.svc.cluster.local',
        port: 9080,
        lb: { kind: 'ROUND_ROBIN' },
        upstream: 'http1',
        endpoints: ENDPOINTS,
      },
    ],
  });
  const port = portFor(compiled, '10.96.0.10', 9080);
  const cluster = compiled.clusters.get(CLUSTER);
  const decision = { kind: 'forward', cluster, routeName: '-', responseHeaders: [] };

  // 4 connections × 16 exchanges, made once; a record sets the outcome as the router would.
  const exchanges: any[] = [];
  for (let c = 0; c < 4; c++) {
    const conn = {
      targetIp: '10.96.0.10',
      targetPort: 9080,
      sourceIp: '10.1.0.5',
      sourcePort: 40000 + c,
      sourcePrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/productpage',
      sourceWorkload: 'productpage-v1',
      sourceApp: 'productpage',
      sourceVersion: 'v1',
      mtls: true,
    };
    for (let i = 0; i < 16; i++) {
      const req = Object.assign(new Readable({ read() {} }), {
        method: 'GET',
        url: `/reviews/${i}`,
        httpVersion: '1.1',
        headers: {
          host: 'reviews:9080',
          'user-agent': 'loadgen/1',
          'x-request-id': `0f6c1e9a-3b2d-4c1e-9f0a-${String(c * 16 + i).padStart(12, '0')}`,
        },
      });
      const ex = new Exchange(req, {}, conn, port, compiled.clusters);
      const fail = i % 8 === 7;
      ex.decision = decision;
      ex.upstream = ENDPOINTS[i % 2];
      ex.upstreamCluster = CLUSTER;
      ex.status = fail ? 503 : 200;
      ex.flags = fail ? 'UF' : '-';
      ex.details = fail ? 'upstream_reset_before_response_started' : 'via_upstream';
      ex.bytesSent = fail ? 91 : 1024;
      exchanges.push(ex);
    }
  }
  const make = (accessLog: boolean): Variant => {
    const log = createLogger({
      component: 'waypoint',
      level: 'info',
      destination: devNull,
      batchMs: ACCESS_LOG_BATCH_MS,
    });
    const t = new HttpTelemetry({
      registry: new Registry(),
      log,
      reporter: 'waypoint',
      clusterId: 'Kubernetes',
      accessLog,
    });
    let n = 0;
    return {
      name: `${build.name}${accessLog ? '' : ' (log off)'}`,
      cpu: [],
      record: () => {
        const ex = exchanges[n++ & 63];
        ex.started = performance.now() - 1 - (n % 40);
        t.record(ex);
      },
    };
  };
  return [make(true), make(false)];
}

const variants: Variant[] = [];
for (const b of builds) variants.push(...(await variantsOf(b)));

for (let r = 0; r <= rounds; r++) {
  for (const v of variants) {
    const before = process.cpuUsage();
    // In chunks, as requests come: the log's writes and timers run between them.
    for (let i = 0; i < records; i += 100) {
      for (let j = 0; j < 100; j++) v.record();
      await tick();
    }
    await new Promise((res) => setTimeout(res, 25));
    const used = process.cpuUsage(before);
    if (r > 0) v.cpu.push((used.user + used.system) / records);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
process.stdout.write(
  `CPU µs per record (${records} records per round; median of ${rounds} rounds; then each round)\n`,
);
for (const v of variants) {
  process.stdout.write(
    `${v.name.padEnd(24)} ${median(v.cpu).toFixed(2).padStart(7)}   ${v.cpu.map((x) => x.toFixed(2)).join(' ')}\n`,
  );
}
process.exit(0);
