/**
 * L7 security at the running waypoint in the loopback mesh (istiod, two ztunnels, the waypoint): an
 * AuthorizationPolicy and a RequestAuthentication pushed by istiod with targetRefs to the waypoint's
 * Gateway, then the hardening fuzz: malformed HTTP and h2 and JWTs sent through curl's ztunnel into
 * the waypoint. Each case gets 400/431/401/403 or a close, the waypoint keeps serving other clients,
 * and no downstream connection is left open.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Registry } from 'prom-client';
import { parseConfig } from '../../../src/common/config.js';
import { CertSlot } from '../../../src/hbone/credentials.js';
import { Waypoint } from '../../../src/waypoint/app.js';
import { waypointSchema } from '../../../src/waypoint/config.js';
import type { LocalIdentities } from '../../../src/ztunnel/identity.js';
import { captureLogger } from '../hbone/fixtures.js';
import { TestMesh, pod } from '../ztunnel/mesh-fixture.js';

const N = 93;
const VIP = `10.96.${N}.20`;
const ISS = 'https://auth.test';

const yaml = `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: default}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: default}
spec: {selector: {gateway.networking.k8s.io/gateway-name: waypoint}, clusterIP: 10.96.${N}.15, ports: [{name: mesh, port: 15008}]}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-1, namespace: default, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {nodeName: node-2, serviceAccountName: waypoint, containers: [{name: w, image: w}]}
status: {podIP: ${pod(N, 2, 7)}, phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default, labels: {istio.io/use-waypoint: waypoint}}
spec: {selector: {app: web}, clusterIP: ${VIP}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-v1, namespace: default, labels: {app: web, version: v1}}
spec: {nodeName: node-2, serviceAccountName: web, containers: [{name: web, image: web}]}
status: {podIP: ${pod(N, 2, 11)}, phase: Running, conditions: [{type: Ready, status: "True"}]}
`;

const mesh = new TestMesh({ net: N });
const wpLogs = captureLogger();
let wp: Waypoint;
const apps: http.Server[] = [];
let signKey: CryptoKey;
let jwks = '';

before(async () => {
  await mesh.start(yaml);
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res.writeHead(200, { 'x-served-by': 'web-v1' }).end(`web-v1 ${req.method} ${req.url}`),
    );
  });
  srv.listen(9080, pod(N, 2, 11));
  await once(srv, 'listening');
  apps.push(srv);
  const creds = await (mesh.zt2.identities as LocalIdentities).get({
    trustDomain: 'cluster.local',
    namespace: 'default',
    serviceAccount: 'waypoint',
  });
  const { config } = parseConfig(waypointSchema, [], {});
  wp = new Waypoint(
    {
      ...config,
      name: 'waypoint',
      namespace: 'default',
      podIp: pod(N, 2, 7),
      xdsAddress: `127.0.0.1:${mesh.istiod.ports.xds}`,
      metricsPort: 0,
      readinessPort: 0,
    },
    { logger: wpLogs.logger, registry: new Registry(), certs: new CertSlot(creds) },
  );
  await wp.start();
  await wp.whenReady();
  const kp = await generateKeyPair('ES256');
  signKey = kp.privateKey;
  jwks = JSON.stringify({ keys: [{ ...(await exportJWK(kp.publicKey)), kid: 'e1', alg: 'ES256' }] });
});

after(async () => {
  await wp?.stop();
  for (const a of apps) a.close();
  await mesh.stop();
});

function tunnel(): Promise<net.Socket> {
  return mesh.connectFrom(mesh.zt1, pod(N, 1, 2), { ip: VIP, port: 9080 });
}

async function call(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; body: string }> {
  const sock = await tunnel();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { createConnection: () => sock, path, method, headers: { host: 'web:9080', ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          sock.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends raw bytes into the waypoint through the tunnel; what came back before the waypoint closed, and
 * whether it left the connection hanging instead (nothing closed it within 2 s).
 */
async function raw(
  bytes: Buffer | string,
  opts: { destroyAfterWrite?: boolean } = {},
): Promise<{ got: string; hung: boolean }> {
  const sock = await tunnel();
  return new Promise((resolve) => {
    let got = '';
    let hung = false;
    const done = (): void => {
      clearTimeout(t);
      sock.destroy();
      resolve({ got, hung });
    };
    const t = setTimeout(() => {
      hung = true;
      done();
    }, 2000);
    sock.on('data', (c: Buffer) => (got += c.toString('latin1')));
    sock.on('error', done);
    sock.on('end', done); // the waypoint closed its side
    sock.on('close', done);
    sock.write(bytes, () => {
      if (opts.destroyAfterWrite) done();
    });
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

function token(claims: Record<string, unknown> = {}, kid = 'e1'): Promise<string> {
  return new SignJWT({ sub: 'jason', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(ISS)
    .setExpirationTime('5m')
    .sign(signKey);
}

test('istiod pushes an AuthorizationPolicy bound to the waypoint Gateway: DELETE 403 for curl, GET 200', async () => {
  await mesh.writeConfig(
    'ap.yaml',
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: default}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules:
  - from: [{source: {principals: [cluster.local/ns/default/sa/curl]}}]
    to: [{operation: {methods: [DELETE]}}]
`,
  );
  await until(() => (wp.engine.config.source.services[0]?.security?.policies.length ?? 0) > 0, 'the policy');
  const del = await call('/items/1', {}, 'DELETE');
  assert.equal(del.status, 403);
  assert.equal(del.body, 'RBAC: access denied');
  assert.equal((await call('/items/1')).status, 200);
  assert.ok(
    wpLogs.lines.some((r) => r.msg === 'rbac: denied by a DENY policy' && r.policy === 'default/no-delete'),
    'the denial is logged with the policy',
  );
});

test('istiod pushes a RequestAuthentication: no token 200, bad 401, good 200; requestPrincipals turns no token into 403', async () => {
  await mesh.writeConfig(
    'ra.yaml',
    `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: default}
spec:
  targetRefs: [{kind: Service, group: "", name: web}]
  jwtRules:
  - issuer: ${ISS}
    jwks: '${jwks}'
`,
  );
  await until(
    () => (wp.engine.config.source.services[0]?.security?.jwtRules.length ?? 0) > 0,
    'the jwt rule',
  );
  assert.equal((await call('/')).status, 200);
  assert.equal((await call('/', { authorization: `Bearer ${await token({}, 'other')}` })).status, 401);
  assert.equal((await call('/', { authorization: `Bearer ${await token()}` })).status, 200);
  await mesh.writeConfig(
    'ap-jwt.yaml',
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: default}
spec:
  targetRefs: [{kind: Service, group: "", name: web}]
  rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]
`,
  );
  await until(
    () => (wp.engine.config.source.services[0]?.security?.policies.length ?? 0) > 1,
    'the second policy',
  );
  assert.equal((await call('/')).status, 403);
  assert.equal((await call('/', { authorization: `Bearer ${await token()}` })).status, 200);
});

test('hardening: malformed HTTP/1.1, floods, smuggling pairs, bad h2, CONNECT and resets; others unaffected', async (ctx) => {
  const t = await token();
  const [h, p] = t.split('.');
  const cases: Array<[string, Buffer | string, RegExp, { destroyAfterWrite?: boolean }?]> = [
    ['malformed request line', 'GARBAGE\r\n\r\n', /^(HTTP\/1\.1 400|$)/],
    ['bad version', 'GET / HTTP/9.9\r\nHost: web\r\n\r\n', /^(HTTP\/1\.1 (400|505)|$)/],
    [
      'huge header',
      `GET / HTTP/1.1\r\nHost: web\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`,
      /^HTTP\/1\.1 431/,
    ],
    [
      'header flood',
      `GET / HTTP/1.1\r\nHost: web\r\n${Array.from({ length: 5000 }, (_, i) => `x-h${i}: v\r\n`).join('')}\r\n`,
      /^HTTP\/1\.1 431/,
    ],
    [
      'bad chunk size',
      'POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      /^(HTTP\/1\.1 400|$)/,
    ],
    [
      'CL + TE',
      'POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      /^HTTP\/1\.1 400/,
    ],
    [
      'two Content-Lengths',
      'POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      /^HTTP\/1\.1 400/,
    ],
    [
      'TE obfuscated',
      'POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
      /^(HTTP\/1\.1 (400|501)|$)/,
    ],
    [
      'CONNECT inside h1',
      'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
      /^HTTP\/1\.1 400/,
    ],
    ['NUL in header', 'GET / HTTP/1.1\r\nHost: web\r\nx-a: b\0c\r\n\r\n', /^(HTTP\/1\.1 400|$)/],
    [
      'h2 preface then a garbage frame',
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        Buffer.from([0, 0, 4, 0xff, 0xff, 0, 0, 0, 1, 1, 2, 3, 4]),
      ]),
      /^[\s\S]*$/,
    ],
    [
      'h2 preface then a HEADERS frame on stream 0',
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
        Buffer.from([0, 0, 3, 1, 5, 0, 0, 0, 0, 0x82, 0x86, 0x84]),
      ]),
      /^[\s\S]*$/,
    ],
    ['partial headers then reset', 'GET / HTTP/1.1\r\nHost: we', /^$/, { destroyAfterWrite: true }],
    [
      'JWT: truncated',
      `GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\nAuthorization: Bearer ${h}.${p}\r\n\r\n`,
      /^HTTP\/1\.1 401/,
    ],
    [
      'JWT: alg none',
      `GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\nAuthorization: Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.\r\n\r\n`,
      /^HTTP\/1\.1 401/,
    ],
    [
      'JWT: wrong kid',
      `GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\nAuthorization: Bearer ${await token({}, 'nope')}\r\n\r\n`,
      /^HTTP\/1\.1 401/,
    ],
    [
      'JWT: huge',
      `GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\nAuthorization: Bearer ${'x'.repeat(40_000)}.${p}.sig\r\n\r\n`,
      /^HTTP\/1\.1 401/,
    ],
    [
      'JWT: over the header limit',
      `GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\nAuthorization: Bearer ${'x'.repeat(70_000)}\r\n\r\n`,
      /^HTTP\/1\.1 431/,
    ],
    [
      'JWT: binary junk',
      `GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\nAuthorization: Bearer \xff\xfe.\x01.\x02\r\n\r\n`,
      /^(HTTP\/1\.1 (400|401)|$)/,
    ],
  ];
  // A client with a valid token keeps calling while the fuzz runs.
  let others = 0;
  let otherFailures = 0;
  let fuzzing = true;
  const background = (async () => {
    while (fuzzing) {
      const r = await call('/ok', { authorization: `Bearer ${t}` }).catch(() => ({ status: 0 }));
      others++;
      if (r.status !== 200) otherFailures++;
    }
  })();
  const outcomes: string[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      for (const [name, bytes, expect, opts] of cases) {
        const { got, hung } = await raw(bytes, opts);
        assert.equal(hung, false, `${name}: the waypoint must answer and close, or close`);
        if (round === 0) outcomes.push(`${name}: ${got.split('\r\n')[0] || 'closed'}`);
        assert.match(got, expect, `${name}: got ${JSON.stringify(got.slice(0, 80))}`);
        assert.doesNotMatch(got, /^HTTP\/1\.1 200/, `${name} must not reach the app`);
      }
    }
  } finally {
    fuzzing = false;
  }
  ctx.diagnostic(outcomes.join('\n'));
  await background;
  assert.ok(others > 0);
  assert.equal(otherFailures, 0, 'other clients are unaffected');
  assert.equal((await call('/after', { authorization: `Bearer ${t}` })).status, 200);
  await until(() => wp.engine.openConnections === 0, 'every fuzzed connection to be closed');
  // Memory stays flat: after 20 warm-up rounds of every case (V8's code and inline caches settle),
  // 40 more rounds, the heap measured after a full GC before and after them.
  const rounds = async (n: number): Promise<void> => {
    for (let round = 0; round < n; round++) for (const [, bytes, , opts] of cases) await raw(bytes, opts);
    await until(() => wp.engine.openConnections === 0, 'every fuzzed connection to be closed');
  };
  await rounds(20);
  const heap = await heapAfterGc();
  const more = 40;
  await rounds(more);
  const grown = (await heapAfterGc()) - heap;
  const perConn = grown / (more * cases.length);
  ctx.diagnostic(
    `heap after ${more * cases.length} more fuzzed connections: ${(grown / 1024).toFixed(0)} KiB`,
  );
  // A connection's own state (socket, parser, a 70 KiB header buffer) kept alive would be tens of KiB each.
  assert.ok(
    perConn < 2048,
    `heap grew ${(grown / 1024).toFixed(0)} KiB: ${perConn.toFixed(0)} B per fuzzed connection`,
  );
});

/**
 * The heap in use after full collections (the V8 flag set at runtime: node --test runs without it).
 * The log lines this test captures in memory are dropped first: they are the test's, not the mesh's.
 */
async function heapAfterGc(): Promise<number> {
  for (const c of [wpLogs, mesh.logs1, mesh.logs2]) c.lines.length = 0;
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}
