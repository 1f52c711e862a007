/**
 * The engine against bad input and bad backends, on loopback: slow headers time out, malformed
 * requests, duplicate Content-Length and oversized headers are refused and the connection closed,
 * a backend that resets answers 503 UC (or is retried per policy), while a request in flight on
 * another connection is not disturbed. Also: bodies over the 64 KiB replay buffer are streamed and
 * neither retried nor mirrored, and trace context is started or continued.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { L7Engine } from '../../../src/l7/engine.js';
import type { Cluster, L7Config, RouteRule } from '../../../src/l7/model.js';
import { silentLogger } from '../../../src/common/logger.js';

const ports: Record<string, number> = {};
const closers: Array<() => void> = [];
/** What each backend saw: path, body length, headers. */
const seen: Record<string, Array<{ path: string; bytes: number; headers: http.IncomingHttpHeaders }>> = {};
let resetCount = 0;

async function listen(name: string, srv: net.Server): Promise<void> {
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  ports[name] = (srv.address() as AddressInfo).port;
  closers.push(() => srv.close());
}

async function httpBackend(name: string): Promise<void> {
  seen[name] = [];
  const srv = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      seen[name]!.push({ path: req.url ?? '', bytes: n, headers: req.headers });
      const answer = (): void => void res.writeHead(200, { 'x-served-by': name }).end(`${name} got ${n}`);
      if (req.url === '/slow') setTimeout(answer, 400).unref();
      else answer();
    });
  });
  await listen(name, srv);
}

/** Reads the request head, then resets: every time ('reset') or every other time ('flaky-reset'). */
async function resetBackend(name: string, everyOther: boolean): Promise<void> {
  const srv = net.createServer((s) => {
    s.once('data', () => {
      if (!everyOther || resetCount++ % 2 === 0) s.resetAndDestroy();
      else s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-served-by: flaky-reset\r\n\r\nok');
    });
    s.on('error', () => undefined);
  });
  await listen(name, srv);
}

/** Answers every request with two different Content-Lengths (a response no proxy may pass on). */
async function malformedBackend(name: string): Promise<void> {
  const srv = net.createServer((s) => {
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok'));
    s.on('error', () => undefined);
  });
  await listen(name, srv);
}

function cl(name: string, backend: string): Cluster {
  return {
    name,
    service: 'reviews.bookinfo.svc.cluster.local',
    port: 9080,
    lb: { kind: 'ROUND_ROBIN' },
    upstream: 'http1',
    endpoints: [
      {
        ip: '127.0.0.1',
        port: ports[backend]!,
        identity: '',
        hbone: false,
        workload: backend,
        namespace: 'bookinfo',
      },
    ],
  };
}

let engine: L7Engine;
let frontPort = 0;
const registry = new Registry();

function configure(routes: RouteRule[] | undefined, samplingPercent?: number): void {
  const cfg: L7Config = {
    proxy: 'bookinfo/waypoint',
    services: [
      {
        namespace: 'bookinfo',
        name: 'reviews',
        hostname: 'reviews.bookinfo.svc.cluster.local',
        vips: ['10.96.0.10'],
        ports: [{ port: 9080, targetPort: 9080, protocol: 'http', routes, defaultCluster: 'ok' }],
      },
    ],
    clusters: [
      cl('ok', 'ok'),
      cl('mirror', 'mirror'),
      cl('reset', 'reset'),
      cl('flaky', 'flaky-reset'),
      cl('malformed', 'malformed'),
    ],
    ...(samplingPercent !== undefined ? { tracing: { samplingPercent } } : {}),
  };
  engine.update(cfg);
}

const to = (cluster: string, extra: Partial<Extract<RouteRule['action'], { kind: 'route' }>> = {}) =>
  [
    {
      name: 'r',
      matches: [],
      action: { kind: 'route', backends: [{ cluster, weight: 1 }], ...extra },
    },
  ] as RouteRule[];

before(async () => {
  await httpBackend('ok');
  await httpBackend('mirror');
  await resetBackend('reset', false);
  await resetBackend('flaky-reset', true);
  await malformedBackend('malformed');
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
    headersTimeoutMs: 300,
  });
  const front = net.createServer((s) =>
    engine.serve(s, {
      targetIp: '10.96.0.10',
      targetPort: 9080,
      sourceIp: '127.0.0.1',
      sourcePort: s.remotePort ?? 0,
      sourcePrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/curl',
      mtls: true,
    }),
  );
  await listen('front', front);
  frontPort = ports.front!;
});

after(() => {
  engine.close();
  for (const c of closers) c();
});

/** Writes `raw` on a new connection; resolves with everything read once the proxy closes it. */
function rawExchange(raw: string | string[], gapMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(frontPort, '127.0.0.1', async () => {
      for (const part of Array.isArray(raw) ? raw : [raw]) {
        s.write(part);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    let b = '';
    s.on('data', (c: Buffer) => (b += c.toString()));
    s.on('error', () => resolve(b));
    s.on('close', () => resolve(b));
  });
}

function request(
  path: string,
  o: { method?: string; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: frontPort,
        path,
        method: o.method ?? 'GET',
        headers: { host: 'reviews:9080', ...o.headers },
        agent: false,
      },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

test('bad requests are refused and closed while a request on another connection completes', async () => {
  configure(to('ok'));
  const inFlight = request('/slow');
  const [slowHeaders, malformed, dupCl, teCl, big] = await Promise.all([
    // Headers that never finish: 408 after the headers timeout, connection closed.
    rawExchange('GET / HTTP/1.1\r\nHost: reviews\r\nx-slow: 1\r\n'),
    rawExchange('GET / HTTP/1.1\r\nHost reviews\r\n\r\n'),
    rawExchange('POST / HTTP/1.1\r\nHost: reviews\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc'),
    rawExchange(
      'POST / HTTP/1.1\r\nHost: reviews\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ),
    rawExchange(`GET / HTTP/1.1\r\nHost: reviews\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`),
  ]);
  assert.match(slowHeaders, /^HTTP\/1.1 408 /);
  assert.match(malformed, /^HTTP\/1.1 400 /);
  assert.match(dupCl, /^HTTP\/1.1 400 /);
  assert.match(teCl, /^HTTP\/1.1 400 /);
  assert.match(big, /^HTTP\/1.1 431 /);
  const r = await inFlight;
  assert.deepEqual([r.status, r.body], [200, 'ok got 0']);
  // None of the refused requests reached the backend.
  assert.deepEqual(
    seen.ok!.map((s) => s.path),
    ['/slow'],
  );
});

test('headers trickled in slower than the timeout in total are cut off too', async () => {
  const parts = ['GET / HTTP/1.1\r\n', 'Host: reviews\r\n', 'a: 1\r\n', 'b: 2\r\n', 'c: 3\r\n', 'd: 4\r\n'];
  assert.match(await rawExchange(parts, 120), /^HTTP\/1.1 408 /);
});

test('a backend that resets: 503 UC; retried per policy; the flag in the metrics', async () => {
  configure(to('reset'));
  const r = await request('/');
  assert.equal(r.status, 503);
  assert.equal(
    r.body,
    'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  );
  // With retries off, every other request shows the reset.
  configure(to('flaky', { retry: { attempts: 0, retryOn: [] } }));
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push((await request('/')).status);
  assert.deepEqual(codes.sort(), [200, 200, 503, 503]);
  configure(to('flaky', { retry: { attempts: 2, retryOn: ['reset'], backoffMs: 1 } }));
  for (let i = 0; i < 4; i++) assert.equal((await request('/')).status, 200);
  const m = await registry.getSingleMetricAsString('istio_requests_total');
  assert.match(m, /response_code="503",grpc_response_status="",response_flags="UC"/);
});

test('a malformed upstream response: 503 UPE (protocol error), never passed on', async () => {
  configure(to('malformed'));
  const r = await request('/');
  assert.equal(r.status, 503);
  assert.equal(
    r.body,
    'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
  );
  const m = await registry.getSingleMetricAsString('istio_requests_total');
  assert.match(m, /response_code="503",grpc_response_status="",response_flags="UPE"/);
});

test('a body over the 64 KiB replay buffer streams once: neither retried nor mirrored', async () => {
  const mirrorTo = (extra = {}) => to('ok', { mirrors: [{ cluster: 'mirror', percent: 100 }], ...extra });
  configure(mirrorTo());
  seen.mirror!.length = 0;
  const small = await request('/small', { method: 'POST', body: Buffer.alloc(1000, 1) });
  const large = await request('/large', { method: 'POST', body: Buffer.alloc(100_000, 1) });
  assert.deepEqual([small.status, small.body], [200, 'ok got 1000']);
  assert.deepEqual([large.status, large.body], [200, 'ok got 100000']);
  // Chunked (no declared length): streamed and not mirrored either.
  const chunked = await request('/chunked', {
    method: 'POST',
    body: 'x'.repeat(10),
    headers: { 'transfer-encoding': 'chunked' },
  });
  assert.deepEqual([chunked.status, chunked.body], [200, 'ok got 10']);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(
    seen.mirror!.map((s) => [s.path, s.bytes]),
    [['/small', 1000]],
  );
  // Retries: a large body to a backend that resets every other time is tried once.
  configure(to('flaky', { retry: { attempts: 3, retryOn: ['reset'], backoffMs: 1 } }));
  resetCount = 0;
  const first = await request('/', { method: 'POST', body: Buffer.alloc(100_000, 2) });
  assert.equal(first.status, 503, 'not retried: the body was streamed');
  const smallRetried = await request('/', { method: 'POST', body: Buffer.alloc(1000, 2) });
  assert.equal(smallRetried.status, 200);
});

test('trace context: started when absent (sampled per config), continued when present', async () => {
  configure(to('ok'), 100);
  seen.ok!.length = 0;
  await request('/t1');
  const h1 = seen.ok!.at(-1)!.headers;
  assert.match(String(h1.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  const [, traceId, spanId] = String(h1.traceparent).split('-');
  assert.deepEqual([h1['x-b3-traceid'], h1['x-b3-spanid'], h1['x-b3-sampled']], [traceId, spanId, '1']);
  assert.match(String(h1['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-a[0-9a-f]{3}-/);
  configure(to('ok'), 0);
  await request('/t2');
  const h2 = seen.ok!.at(-1)!.headers;
  assert.match(String(h2.traceparent), /-00$/);
  assert.equal(h2['x-b3-sampled'], '0');
  assert.match(String(h2['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4/);
  // An incoming W3C context: same trace and decision, a new span whose parent is the caller's.
  const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  await request('/t3', { headers: { traceparent: incoming, tracestate: 'k=v', 'x-request-id': 'rid-1' } });
  const h3 = seen.ok!.at(-1)!.headers;
  const p3 = String(h3.traceparent).split('-');
  assert.deepEqual([p3[1], p3[3]], ['0af7651916cd43dd8448eb211c80319c', '01']);
  assert.notEqual(p3[2], 'b7ad6b7169203331');
  assert.equal(h3['x-b3-parentspanid'], 'b7ad6b7169203331');
  assert.deepEqual([h3.tracestate, h3['x-request-id']], ['k=v', 'rid-1']);
  // An incoming B3 context (a 64-bit trace id widens to 128 bits), not sampled: stays unsampled.
  await request('/t4', {
    headers: { 'x-b3-traceid': '463ac35c9f6413ad', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '0' },
  });
  const h4 = seen.ok!.at(-1)!.headers;
  assert.equal(h4['x-b3-traceid'], '0000000000000000463ac35c9f6413ad');
  assert.equal(h4['x-b3-parentspanid'], 'a2fb4a1d1a96d312');
  assert.equal(h4['x-b3-sampled'], '0');
  assert.match(String(h4.traceparent), /^00-0000000000000000463ac35c9f6413ad-[0-9a-f]{16}-00$/);
});
