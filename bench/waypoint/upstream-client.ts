/**
 * Micro-benchmark of the L7 engine's upstream HTTP/1.1 client alone: the engine's own (h1-pool.ts)
 * against node:http's ClientRequest + Agent (L7_HTTP1_CLIENT=node), in one run, alternated per round.
 * A node:http server in a child process answers `GET /` with 1 KiB; this process sends requests
 * through `UpstreamClient` over 4 keep-alive TCP connections, 4 in flight (closed loop), reads every
 * body, and reports its own CPU time per request (process.cpuUsage), which is the client's cost:
 * nothing else runs here. CPU time is less disturbed by a busy machine than latency is.
 *
 * Run: npx tsc -p . && node dist/bench/waypoint/upstream-client.js [--rounds 5] [--seconds 3]
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { UpstreamClient, type Http1ClientKind } from '../../src/l7/cluster/upstream.js';
import type { Endpoint } from '../../src/l7/model.js';

if (process.argv[2] === 'server') {
  const body = Buffer.alloc(1024, 97);
  const srv = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  srv.keepAliveTimeout = 600_000;
  srv.listen(0, '127.0.0.1', () => process.send!((srv.address() as net.AddressInfo).port));
} else {
  const arg = (name: string, dflt: string): string => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1]! : dflt;
  };
  const rounds = Number(arg('rounds', '5'));
  const seconds = Number(arg('seconds', '3'));
  const child = fork(fileURLToPath(import.meta.url), ['server'], { stdio: 'inherit' });
  const port = await new Promise<number>((r) => child.once('message', (m) => r(Number(m))));
  const ep: Endpoint = {
    ip: '127.0.0.1',
    port,
    identity: '',
    hbone: false,
    workload: 'echo',
    namespace: 'b',
  };
  const connector = {
    connect: () =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(s));
        s.once('error', reject);
      }),
  };
  const headers = {
    'user-agent': 'bench',
    accept: '*/*',
    'x-request-id': '0b6a2f7e-5d0e-4a8e-9a57-8d2f7f3c1e11',
    'x-b3-traceid': '463ac35c9f6413ad48485a3953bb6124',
    'x-b3-spanid': 'a2fb4a1d1a96d312',
    'x-b3-sampled': '0',
    'x-forwarded-proto': 'http',
  };

  const one = async (c: UpstreamClient): Promise<void> => {
    const r = await c.request(ep, 'http1', {
      method: 'GET',
      path: '/bytes/1024',
      authority: 'echo.bench.svc.cluster.local:8080',
      headers: { ...headers },
      body: undefined,
    });
    await new Promise<void>((resolve, reject) => {
      r.body.on('data', noop);
      r.body.once('end', resolve);
      r.body.once('error', reject);
    });
  };

  const run = async (kind: Http1ClientKind, ms: number): Promise<{ n: number; usPerReq: number }> => {
    const c = new UpstreamClient(connector, kind);
    for (let i = 0; i < 200; i++) await one(c); // warm: JIT, the pool
    const until = performance.now() + ms;
    const cpu0 = process.cpuUsage();
    let n = 0;
    const loop = async (): Promise<void> => {
      while (performance.now() < until) {
        await one(c);
        n++;
      }
    };
    await Promise.all([loop(), loop(), loop(), loop()]);
    const cpu = process.cpuUsage(cpu0);
    c.close();
    return { n, usPerReq: (cpu.user + cpu.system) / n };
  };

  const results: Record<Http1ClientKind, number[]> = { node: [], own: [] };
  for (let r = 0; r < rounds; r++) {
    const order: Http1ClientKind[] = r % 2 === 0 ? ['node', 'own'] : ['own', 'node'];
    for (const kind of order) {
      const x = await run(kind, seconds * 1000);
      results[kind].push(x.usPerReq);
      process.stderr.write(
        `round ${r + 1} ${kind.padEnd(4)} ${x.n} requests, ${x.usPerReq.toFixed(1)} µs CPU/request\n`,
      );
    }
  }
  child.kill();
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const node = med(results.node);
  const own = med(results.own);
  process.stdout.write(
    `client CPU µs/request, median of ${rounds} rounds: node:http ${node.toFixed(1)}, own ${own.toFixed(1)} (${(
      (own / node - 1) *
      100
    ).toFixed(0)} %)\n`,
  );
}

function noop(): void {}
