// The engine with AuthorizationPolicy, RequestAuthentication (a JWKS served over HTTP on loopback),
// connectionPool limits and outlier detection, against real loopback backends.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { Registry } from 'prom-client';
import { L7Engine } from '../../../src/l7/engine.js';
import type { Cluster, L7Config } from '../../../src/l7/model.js';
import type { ServiceSecurity } from '../../../src/l7/security/model.js';
import { silentLogger } from '../../../src/common/logger.js';

const ISS = 'https://auth.bookinfo.test';
const servers: net.Server[] = [];
const held: http.ServerResponse[] = [];
let hold = false;
let jwksHits = 0;
let jwksUp = true;
let jwksBody = '';
let signKey: CryptoKey;
let lastHeaders: http.IncomingHttpHeaders = {};

async function server(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

const ports: Record<string, number> = {};

function endpoint(name: string) {
  return {
    ip: '127.0.0.1',
    port: ports[name]!,
    identity: '',
    hbone: false,
    workload: name,
    namespace: 'bookinfo',
  };
}

function cluster(name: string, backends: string[], extra: Partial<Cluster> = {}): Cluster {
  return {
    name,
    service: 'reviews.bookinfo.svc.cluster.local',
    port: 9080,
    lb: { kind: 'ROUND_ROBIN' },
    upstream: 'http1',
    endpoints: backends.map(endpoint),
    ...extra,
  };
}

let engine: L7Engine;
let frontPort = 0;
const registry = new Registry();

function configure(security: ServiceSecurity | undefined, c: Cluster = cluster('default', ['good'])): void {
  const cfg: L7Config = {
    proxy: 'bookinfo/waypoint',
    services: [
      {
        namespace: 'bookinfo',
        name: 'reviews',
        hostname: 'reviews.bookinfo.svc.cluster.local',
        vips: ['10.96.0.10'],
        ports: [{ port: 9080, targetPort: 9080, protocol: 'http', defaultCluster: c.name }],
        ...(security ? { security } : {}),
      },
    ],
    clusters: [c],
  };
  engine.update(cfg);
}

before(async () => {
  ports.good = await server((req, res) => {
    lastHeaders = req.headers;
    if (hold) {
      held.push(res);
      return;
    }
    res.writeHead(200, { 'x-served-by': 'good' }).end('ok');
  });
  ports.bad = await server((_req, res) => res.writeHead(500, { 'x-served-by': 'bad' }).end('broken'));
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  signKey = privateKey;
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
  jwksBody = JSON.stringify({ keys: [jwk] });
  ports.jwks = await server((_req, res) => {
    jwksHits++;
    if (!jwksUp) return res.writeHead(503).end('down');
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwksBody);
  });
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
    jwksRetryMs: 50,
  });
  const front = net.createServer((s) =>
    engine.serve(s, {
      targetIp: '10.96.0.10',
      targetPort: 9080,
      sourceIp: '10.244.1.5',
      sourcePort: s.remotePort ?? 0,
      sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/curl',
      mtls: true,
    }),
  );
  servers.push(front);
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontPort = (front.address() as AddressInfo).port;
});

after(() => {
  engine.close();
  for (const s of servers) s.close();
});

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function call(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: frontPort,
        path,
        method,
        headers: { host: 'reviews:9080', ...headers },
        agent: false,
      },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  const v = m.values.find((x) => Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val));
  return v?.value ?? 0;
}

function jwt(claims: Record<string, unknown> = {}, key: CryptoKey = signKey): Promise<string> {
  return new SignJWT({ sub: 'jason', aud: 'bookinfo', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(ISS)
    .setExpirationTime('10m')
    .sign(key);
}

test('AuthorizationPolicy: DELETE denied with 403 RBAC: access denied, counted with the policy; GET allowed', async () => {
  configure({
    policies: [
      {
        namespace: 'bookinfo',
        name: 'deny-delete',
        action: 'DENY',
        rules: [
          {
            from: [{ source: { principals: ['cluster.local/ns/default/sa/curl'] } }],
            to: [{ operation: { methods: ['DELETE'] } }],
          },
        ],
      },
      {
        namespace: 'bookinfo',
        name: 'allow-reviews',
        action: 'ALLOW',
        rules: [{ to: [{ operation: { paths: ['/reviews*'] } }] }],
      },
    ],
    jwtRules: [],
  });
  const del = await call('/reviews/1', {}, 'DELETE');
  assert.equal(del.status, 403);
  assert.equal(del.body, 'RBAC: access denied');
  assert.equal(del.headers.server, 'istio-envoy');
  assert.equal((await call('/reviews/1')).status, 200);
  assert.equal((await call('/ratings/1')).status, 403, 'no ALLOW matched');
  assert.equal((await call('/public/../ratings/1')).status, 403, 'dot segments are resolved first');
  assert.equal(
    await metric('envoy_http_rbac_requests_total', { result: 'denied', policy: 'bookinfo/deny-delete' }),
    1,
  );
  assert.equal(await metric('envoy_http_rbac_requests_total', { result: 'denied', policy: 'none' }), 2);
  assert.equal(await metric('istio_requests_total', { response_code: '403' }), 3);
});

test('RequestAuthentication with a jwksUri: no token passes, bad token 401, good token 200 with claims forwarded', async () => {
  const before = jwksHits;
  configure({
    policies: [],
    jwtRules: [
      {
        source: 'RequestAuthentication bookinfo/jwt',
        issuer: ISS,
        audiences: ['bookinfo'],
        jwksUri: `http://127.0.0.1:${ports.jwks}/jwks.json`,
        outputPayloadToHeader: 'x-jwt-payload',
        outputClaimToHeaders: [{ header: 'x-jwt-sub', claim: 'sub' }],
      },
    ],
  });
  assert.equal((await call('/reviews/1')).status, 200);
  const good = await jwt();
  const ok = await call('/reviews/1', { authorization: `Bearer ${good}` });
  assert.equal(ok.status, 200);
  assert.equal(lastHeaders.authorization, undefined, 'token removed (forwardOriginalToken false)');
  assert.equal(lastHeaders['x-jwt-sub'], 'jason');
  assert.equal(
    JSON.parse(Buffer.from(String(lastHeaders['x-jwt-payload']), 'base64url').toString()).sub,
    'jason',
  );
  const bad = await call('/reviews/1', { authorization: `Bearer ${good.slice(0, -4)}AAAA` });
  assert.equal(bad.status, 401);
  assert.equal(bad.body, 'Jwt verification fails');
  assert.match(
    String(bad.headers['www-authenticate']),
    /^Bearer realm="http:\/\/reviews:9080\/reviews\/1", error="invalid_token"$/,
  );
  const aud = await call('/reviews/1', { authorization: `Bearer ${await jwt({ aud: 'other' })}` });
  assert.equal(aud.status, 403);
  assert.equal(aud.body, 'Audiences in Jwt are not allowed');
  assert.equal(jwksHits - before, 1, 'the key set is fetched once and cached');
});

test('requestPrincipals: a required token turns "no token" into 403; the principal is iss/sub', async () => {
  configure({
    policies: [
      {
        namespace: 'bookinfo',
        name: 'require-jwt',
        action: 'ALLOW',
        rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/jason`] } }] }],
      },
    ],
    jwtRules: [
      {
        source: 'RequestAuthentication bookinfo/jwt',
        issuer: ISS,
        jwks: jwksBody,
        forwardOriginalToken: true,
      },
    ],
  });
  const none = await call('/reviews/1');
  assert.equal(none.status, 403);
  assert.equal(none.body, 'RBAC: access denied');
  const t = await jwt();
  assert.equal((await call('/reviews/1', { authorization: `Bearer ${t}` })).status, 200);
  assert.equal(lastHeaders.authorization, `Bearer ${t}`, 'forwardOriginalToken keeps it');
  assert.equal(
    (await call('/reviews/1', { authorization: `Bearer ${await jwt({ sub: 'other' })}` })).status,
    403,
  );
});

test('jwksUri unreachable: tokens are rejected (fail closed) until a fetch succeeds', async () => {
  jwksUp = false;
  const uri = `http://127.0.0.1:${ports.jwks}/other-jwks.json`;
  configure({
    policies: [],
    jwtRules: [{ source: 'RequestAuthentication bookinfo/jwt2', issuer: ISS, jwksUri: uri }],
  });
  const t = await jwt();
  const r = await call('/reviews/1', { authorization: `Bearer ${t}` });
  assert.equal(r.status, 401);
  assert.equal(r.body, 'Jwks remote fetch is failed');
  assert.equal((await call('/reviews/1')).status, 200, 'no token still passes');
  jwksUp = true;
  for (let i = 0; i < 100 && !engine.jwks.status()[0]?.ok; i++) await sleep(20);
  assert.equal((await call('/reviews/1', { authorization: `Bearer ${t}` })).status, 200);
});

test('connectionPool: maxConnections 1 + 1 pending under a burst of 6: 2 served, 4 get 503 UO at once', async () => {
  configure(
    undefined,
    cluster('pooled', ['good'], { connectionPool: { maxConnections: 1, maxPendingRequests: 1 } }),
  );
  hold = true;
  const burst = Array.from({ length: 6 }, () => call('/reviews/1'));
  for (let i = 0; i < 200 && held.length < 1; i++) await sleep(10);
  // The 4 refused answers arrive while the first request is still held by the backend.
  const settled: Res[] = [];
  for (const p of burst) void p.then((r) => settled.push(r));
  for (let i = 0; i < 200 && settled.length < 4; i++) await sleep(10);
  assert.equal(settled.length, 4);
  for (const r of settled) {
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-envoy-overloaded'], 'true');
    assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: overflow');
  }
  assert.equal(held.length, 1, 'the pending request waits for the connection');
  hold = false;
  held.shift()!.writeHead(200).end('ok');
  const all = await Promise.all(burst);
  assert.equal(all.filter((r) => r.status === 200).length, 2);
  assert.equal(await metric('istio_requests_total', { response_flags: 'UO' }), 4);
  assert.equal(
    await metric('envoy_cluster_upstream_rq_overflow_total', { cluster_name: 'pooled', kind: 'pending' }),
    4,
  );
});

test('outlierDetection: the endpoint answering 500 is ejected, traffic goes to the healthy one, then it returns', async () => {
  const c = cluster('outliers', ['good', 'bad'], {
    outlier: {
      consecutive5xxErrors: 2,
      consecutiveGatewayErrors: 0,
      intervalMs: 50,
      baseEjectionTimeMs: 300,
      maxEjectionPercent: 50,
      minHealthPercent: 0,
    },
  });
  configure(undefined, c);
  const first = await Promise.all(Array.from({ length: 4 }, () => call('/')));
  assert.equal(first.filter((r) => r.status === 500).length, 2, 'round robin: the bad one answers twice');
  const health = () => engine.outlier.health(engine.config.clusters.get('outliers')!);
  assert.equal(health().find((h) => h.endpoint.endsWith(`:${ports.bad}`))?.health, 'EJECTED');
  const next = await Promise.all(Array.from({ length: 6 }, () => call('/')));
  assert.deepEqual(
    next.map((r) => r.status),
    [200, 200, 200, 200, 200, 200],
  );
  assert.equal(
    await metric('envoy_cluster_outlier_detection_ejections_active', { cluster_name: 'outliers' }),
    1,
  );
  assert.equal(
    await metric('envoy_cluster_outlier_detection_ejections_enforced_total', {
      cluster_name: 'outliers',
      reason: 'consecutive_5xx',
    }),
    1,
  );
  for (let i = 0; i < 100 && health().some((h) => h.health === 'EJECTED'); i++) await sleep(20);
  assert.ok(
    health().every((h) => h.health === 'HEALTHY'),
    'back after the ejection time',
  );
  const back = await Promise.all(Array.from({ length: 4 }, () => call('/')));
  assert.ok(
    back.some((r) => r.status === 500),
    'the returned endpoint gets traffic again',
  );
});

test('connectionPool idleTimeout: a pooled upstream connection is reused while busy and closed once idle', async () => {
  let opened = 0;
  let closed = 0;
  const s = http.createServer((_req, res) => res.writeHead(200).end('ok'));
  s.keepAliveTimeout = 60_000;
  s.on('connection', (sock: net.Socket) => {
    opened++;
    sock.on('close', () => closed++);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  ports.idle = (s.address() as AddressInfo).port;
  configure(undefined, cluster('idle', ['idle'], { connectionPool: { idleTimeoutMs: 200 } }));
  assert.equal((await call('/reviews/1')).status, 200);
  await sleep(50);
  assert.equal((await call('/reviews/1')).status, 200);
  assert.equal(opened, 1, 'within the idle timeout the connection is reused');
  for (let i = 0; i < 100 && closed < 1; i++) await sleep(20);
  assert.equal(closed, 1, 'the idle connection was closed by the waypoint');
  assert.equal((await call('/reviews/1')).status, 200);
  assert.equal(opened, 2, 'the next request opens a new connection');
  // Without the setting the pooled connection stays open.
  configure(undefined, cluster('idle-off', ['idle']));
  assert.equal((await call('/reviews/1')).status, 200);
  const before = closed;
  await sleep(400);
  assert.equal(closed, before, 'no idleTimeout: kept open');
});
