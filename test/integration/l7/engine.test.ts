import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { L7Engine } from '../../../src/l7/engine.js';
import type { Cluster, L7Config, RouteRule } from '../../../src/l7/model.js';
import { silentLogger } from '../../../src/common/logger.js';

// Backends: plain HTTP servers on loopback, each answering with x-served-by; "flaky" fails every other request.
const servers: net.Server[] = [];
const ports: Record<string, number> = {};
let flakyCount = 0;
const mirrored: string[] = [];

async function backend(name: string, h2 = false): Promise<void> {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (name === 'v2') mirrored.push(String(req.headers['x-request-id']));
    if (name === 'flaky' && flakyCount++ % 2 === 0) {
      res.writeHead(503).end('flaky');
      return;
    }
    if (req.url === '/slow') {
      setTimeout(() => res.writeHead(200).end('slow'), 2000).unref();
      return;
    }
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      res.writeHead(200, {
        'x-served-by': name,
        'x-path': req.url ?? '',
        'x-host': String(req.headers.host ?? req.headers[':authority']),
      });
      res.end(
        `${name} got ${n} bytes, user=${String(req.headers['end-user'] ?? '')}, added=${String(req.headers['x-added'] ?? '')}`,
      );
    });
  };
  const srv = h2 ? http2.createServer(handler as never) : http.createServer(handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  servers.push(srv as unknown as net.Server);
  ports[name] = (srv.address() as AddressInfo).port;
}

function cl(name: string, backends: string[], upstream: Cluster['upstream'] = 'http1'): Cluster {
  return {
    name,
    service: 'reviews.bookinfo.svc.cluster.local',
    port: 9080,
    lb: { kind: 'ROUND_ROBIN' },
    upstream,
    endpoints: backends.map((b) => ({
      ip: '127.0.0.1',
      port: ports[b]!,
      identity: '',
      hbone: false,
      workload: b,
      namespace: 'bookinfo',
      app: 'reviews',
      version: b,
    })),
  };
}

let engine: L7Engine;
let front: net.Server;
let frontPort = 0;
const registry = new Registry();

function configure(routes: RouteRule[] | undefined, extra: Cluster[] = []): void {
  const cfg: L7Config = {
    proxy: 'bookinfo/waypoint',
    services: [
      {
        namespace: 'bookinfo',
        name: 'reviews',
        hostname: 'reviews.bookinfo.svc.cluster.local',
        vips: ['10.96.0.10'],
        ports: [{ port: 9080, targetPort: 9080, protocol: 'unknown', routes, defaultCluster: 'default' }],
      },
    ],
    clusters: [
      cl('default', ['v1', 'v2']),
      cl('v1', ['v1']),
      cl('v2', ['v2']),
      cl('flaky', ['flaky']),
      cl('grpc', ['h2'], 'http2'),
      ...extra,
    ],
  };
  engine.update(cfg);
}

before(async () => {
  for (const b of ['v1', 'v2', 'flaky']) await backend(b);
  await backend('h2', true);
  engine = new L7Engine({
    connector: {
      connect: (ep) =>
        new Promise((resolve, reject) => {
          const s = net.connect(ep.port, ep.ip, () => resolve(s));
          s.once('error', reject);
        }),
    },
    log: silentLogger(),
    registry,
    reporter: 'waypoint',
  });
  // The front listener plays the HBONE listener: every connection targets the reviews VIP.
  front = net.createServer((s) =>
    engine.serve(s, {
      targetIp: '10.96.0.10',
      targetPort: 9080,
      sourceIp: '127.0.0.1',
      sourcePort: s.remotePort ?? 0,
      sourcePrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/curl',
      mtls: true,
    }),
  );
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontPort = (front.address() as AddressInfo).port;
});

after(() => {
  engine.close();
  front.close();
  for (const s of servers) s.close();
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
function get(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: frontPort,
        path,
        method,
        headers: { host: 'reviews:9080', ...headers },
        agent,
      },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('header match routes jason to v2; a weighted split sends about its share', async () => {
  configure([
    {
      name: 'VirtualService/bookinfo/reviews#0',
      matches: [{ headers: [{ name: 'end-user', match: { kind: 'exact', value: 'jason' } }] }],
      action: { kind: 'route', backends: [{ cluster: 'v2', weight: 1 }] },
    },
    {
      name: 'VirtualService/bookinfo/reviews#1',
      matches: [],
      action: {
        kind: 'route',
        backends: [
          { cluster: 'v1', weight: 80 },
          { cluster: 'v2', weight: 20 },
        ],
      },
    },
  ]);
  for (let i = 0; i < 5; i++)
    assert.equal((await get('/', { 'end-user': 'jason' })).headers['x-served-by'], 'v2');
  let v2 = 0;
  for (let i = 0; i < 200; i++) if ((await get('/')).headers['x-served-by'] === 'v2') v2++;
  assert.ok(v2 > 15 && v2 < 70, `20 % of 200 expected, got ${v2}`);
  const r = await get('/');
  assert.equal(r.headers.server, 'istio-envoy');
  assert.ok(r.headers['x-envoy-upstream-service-time'] !== undefined);
});

test('no route object: default cluster; a POST body is streamed through', async () => {
  configure(undefined);
  const r = await get('/', {}, 'POST', 'x'.repeat(100_000));
  assert.equal(r.status, 200);
  assert.match(r.body, /got 100000 bytes/);
});

test('no match: 404; missing subset: 503; redirect, rewrite and header changes', async () => {
  configure([
    {
      name: 'r',
      matches: [{ path: { kind: 'exact', value: '/old' } }],
      action: { kind: 'redirect', status: 301, path: '/new' },
    },
    {
      name: 'w',
      matches: [{ path: { kind: 'prefix', value: '/api/' } }],
      action: {
        kind: 'route',
        backends: [{ cluster: 'v1', weight: 1 }],
        rewrite: { prefix: '/', authority: 'rewritten' },
        requestHeaders: { set: { 'x-added': 'yes' }, remove: ['end-user'] },
        responseHeaders: { add: { 'x-resp': 'r' } },
      },
    },
    {
      name: 'm',
      matches: [{ path: { kind: 'exact', value: '/missing' } }],
      action: { kind: 'route', backends: [{ cluster: 'reviews-v9', weight: 1 }] },
    },
  ]);
  assert.equal((await get('/nothing')).status, 404);
  const m = await get('/missing');
  assert.deepEqual([m.status, m.body], [503, 'no healthy upstream']);
  const r = await get('/old?a=1');
  assert.deepEqual([r.status, r.headers.location], [301, 'http://reviews:9080/new?a=1']);
  const w = await get('/api/users', { 'end-user': 'bob' });
  assert.equal(w.headers['x-path'], '/users');
  assert.equal(w.headers['x-host'], 'rewritten');
  assert.equal(w.headers['x-resp'], 'r');
  assert.match(w.body, /user=, added=yes/);
});

test('retries hide a backend failing every other request; without them the 503 shows', async () => {
  configure([
    {
      name: 'f',
      matches: [],
      action: {
        kind: 'route',
        backends: [{ cluster: 'flaky', weight: 1 }],
        retry: { attempts: 2, retryOn: ['5xx'], backoffMs: 1 },
      },
    },
  ]);
  for (let i = 0; i < 10; i++) assert.equal((await get('/')).status, 200);
  // A small body is held and sent again; a large one streams and is tried once.
  for (let i = 0; i < 4; i++) {
    const r = await get('/', {}, 'POST', 'y'.repeat(1000));
    assert.deepEqual([r.status, r.body.startsWith('flaky got 1000 bytes')], [200, true]);
  }
  const big = new Set<number>();
  for (let i = 0; i < 4; i++) big.add((await get('/', {}, 'POST', 'z'.repeat(100_000))).status);
  assert.deepEqual([...big].sort(), [200, 503]);
  configure([
    {
      name: 'f',
      matches: [],
      action: {
        kind: 'route',
        backends: [{ cluster: 'flaky', weight: 1 }],
        retry: { attempts: 0, retryOn: [] },
      },
    },
  ]);
  const codes = new Set<number>();
  for (let i = 0; i < 4; i++) codes.add((await get('/')).status);
  assert.deepEqual([...codes].sort(), [200, 503]);
});

test('route timeout: 504 upstream request timeout; fault abort 100 %: 503 fault filter abort', async () => {
  configure([
    {
      name: 't',
      matches: [{ path: { kind: 'exact', value: '/slow' } }],
      action: { kind: 'route', backends: [{ cluster: 'v1', weight: 1 }], timeoutMs: 200 },
    },
    {
      name: 'a',
      matches: [],
      action: {
        kind: 'route',
        backends: [{ cluster: 'v1', weight: 1 }],
        fault: { abort: { status: 503, percent: 100 } },
      },
    },
  ]);
  const t = await get('/slow');
  assert.deepEqual([t.status, t.body], [504, 'upstream request timeout']);
  const a = await get('/x');
  assert.deepEqual([a.status, a.body], [503, 'fault filter abort']);
  const metrics = await registry.getSingleMetricAsString('istio_requests_total');
  assert.match(metrics, /response_code="504",grpc_response_status="",response_flags="UT"/);
  assert.match(metrics, /response_flags="FI"/);
  assert.match(metrics, /reporter="waypoint"/);
});

test('mirror: v2 sees a copy, the caller sees v1', async () => {
  configure([
    {
      name: 'm',
      matches: [],
      action: {
        kind: 'route',
        backends: [{ cluster: 'v1', weight: 1 }],
        mirrors: [{ cluster: 'v2', percent: 100 }],
      },
    },
  ]);
  mirrored.length = 0;
  const r = await get('/', { 'x-request-id': 'mirror-me' });
  assert.equal(r.headers['x-served-by'], 'v1');
  for (let i = 0; i < 50 && !mirrored.includes('mirror-me'); i++)
    await new Promise((res) => setTimeout(res, 10));
  assert.ok(mirrored.includes('mirror-me'));
});

test('h2c downstream to an h2c upstream (prior knowledge)', async () => {
  configure([
    { name: 'g', matches: [], action: { kind: 'route', backends: [{ cluster: 'grpc', weight: 1 }] } },
  ]);
  const session = http2.connect(`http://127.0.0.1:${frontPort}`);
  const res = await new Promise<{ status: number; body: string; served: string }>((resolve, reject) => {
    const s = session.request({ ':path': '/hello', ':authority': 'reviews:9080' });
    let b = '';
    let status = 0;
    let served = '';
    s.on('response', (h) => {
      status = Number(h[':status']);
      served = String(h['x-served-by']);
    });
    s.setEncoding('utf8');
    s.on('data', (c: string) => (b += c));
    s.on('end', () => resolve({ status, body: b, served }));
    s.on('error', reject);
    s.end();
  });
  session.close();
  assert.deepEqual([res.status, res.served], [200, 'h2']);
});

test('bad input: Content-Length with Transfer-Encoding is 400 and closes; other connections go on', async () => {
  configure(undefined);
  const raw = await new Promise<string>((resolve) => {
    const s = net.connect(frontPort, '127.0.0.1', () =>
      s.write(
        'POST / HTTP/1.1\r\nHost: reviews\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      ),
    );
    let b = '';
    s.on('data', (c: Buffer) => (b += c.toString()));
    s.on('close', () => resolve(b));
  });
  assert.match(raw, /^HTTP\/1.1 400/);
  const big = await new Promise<string>((resolve) => {
    const s = net.connect(frontPort, '127.0.0.1', () =>
      s.write(`GET / HTTP/1.1\r\nHost: reviews\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`),
    );
    let b = '';
    s.on('data', (c: Buffer) => (b += c.toString()));
    s.on('error', () => resolve(b));
    s.on('close', () => resolve(b));
  });
  assert.match(big, /^HTTP\/1.1 431/);
  assert.equal((await get('/')).status, 200);
});
