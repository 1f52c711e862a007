import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { TestMesh, pod, roundTrip } from './mesh-fixture.js';
import { until } from '../hbone/fixtures.js';

const N = 71;
const mesh = new TestMesh({ net: N });
before(async () => {
  await mesh.start();
});
after(() => mesh.stop());

const VIP = { ip: `10.96.${N}.10`, port: 80 };
const CURL = pod(N, 1, 2);

function accessLines(lines: Array<Record<string, unknown>>, direction: string) {
  return lines.filter((l) => l.access === true && l.direction === direction);
}

test('a pod on node 1 reaches a pod on node 2 by pod IP over HBONE; both sides see both identities', async () => {
  const c = await mesh.connectFrom(mesh.zt1, CURL, { ip: pod(N, 2, 5), port: 8080 });
  assert.equal(await roundTrip(c, 'hello'), 'echo-1:hello');
  c.end();
  await once(c, 'close');
  await until(() => accessLines(mesh.logs2.lines, 'inbound').length > 0, 3000, 'the inbound access log');
  const inbound = accessLines(mesh.logs2.lines, 'inbound').at(-1)!;
  assert.equal(inbound.src_identity, 'spiffe://cluster.local/ns/default/sa/curl');
  assert.equal(inbound.dst_identity, 'spiffe://cluster.local/ns/default/sa/echo');
  assert.equal(inbound.dst_workload, 'default/echo-1');
  assert.equal(inbound.result, 'ok');
  await until(() => accessLines(mesh.logs1.lines, 'outbound').length > 0, 3000, 'the outbound access log');
  const outbound = accessLines(mesh.logs1.lines, 'outbound').at(-1)!;
  assert.equal(outbound.path, 'hbone');
  assert.equal(outbound.src_identity, 'spiffe://cluster.local/ns/default/sa/curl');
  assert.equal(outbound.dst_identity, 'spiffe://cluster.local/ns/default/sa/echo');

  const text2 = await mesh.zt2.registry.metrics();
  assert.match(
    text2,
    /istio_tcp_connections_opened_total\{reporter="destination",source_workload="curl-1".*source_principal="spiffe:\/\/cluster.local\/ns\/default\/sa\/curl".*destination_workload="echo-1".*destination_principal="spiffe:\/\/cluster.local\/ns\/default\/sa\/echo".*connection_security_policy="mutual_tls"\} 1/,
  );
  const text1 = await mesh.zt1.registry.metrics();
  assert.match(text1, /istio_tcp_sent_bytes_total\{reporter="source",source_workload="curl-1".*\} 5/);
});

test('the service VIP is load balanced over the healthy endpoints of both nodes, to the target port', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 30 && seen.size < 2; i++) {
    const c = await mesh.connectFrom(mesh.zt1, CURL, VIP);
    const reply = await roundTrip(c, 'x');
    seen.add(reply.split(':')[0]!);
    c.destroy();
  }
  assert.deepEqual([...seen].sort(), ['echo-1', 'echo-2']);
  const out = accessLines(mesh.logs1.lines, 'outbound').at(-1)!;
  assert.equal(out.dst_service, 'echo.default.svc.cluster.local');
});

test('a DENY policy for the client stops new connections and closes a live one; removing it restores traffic', async () => {
  const live = await mesh.connectFrom(mesh.zt1, CURL, { ip: pod(N, 2, 5), port: 8080 });
  assert.equal(await roundTrip(live, 'before'), 'echo-1:before');
  live.on('error', () => {});
  const closed = new Promise((r) => live.once('close', r));
  await mesh.writeConfig(
    'deny.yaml',
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-curl, namespace: default}
spec:
  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/curl"]}}]}]
`,
  );
  const started = Date.now();
  await closed;
  assert.ok(Date.now() - started < 3000, 'the live connection was closed promptly after the policy arrived');
  const denied = await mesh.connectFrom(mesh.zt1, CURL, { ip: pod(N, 2, 5), port: 8080 });
  await assert.rejects(roundTrip(denied, 'after'), /ended|closed|no answer/);
  const refused = accessLines(mesh.logs2.lines, 'inbound').filter((l) => l.result === 'denied');
  assert.ok(refused.length >= 1);
  assert.match(String(refused.at(-1)!.reason), /deny-curl/);
  await mesh.removeConfig('deny.yaml');
  await until(() => mesh.zt2.store.policy('default/deny-curl') === undefined, 3000, 'the policy removal');
  const again = await mesh.connectFrom(mesh.zt1, CURL, { ip: pod(N, 2, 5), port: 8080 });
  assert.equal(await roundTrip(again, 'again'), 'echo-1:again');
  again.destroy();
});

test('PeerAuthentication STRICT refuses plaintext from outside the mesh; PERMISSIVE lets it in', async () => {
  const plain = async (): Promise<string> => {
    const c = net.connect({ host: pod(N, 2, 5), port: 15006, localAddress: pod(N, 1, 9) });
    c.on('error', () => {});
    await once(c, 'connect');
    return roundTrip(c, 'plain').finally(() => c.destroy());
  };
  assert.equal(await plain(), 'echo-1:plain', 'PERMISSIVE by default');
  const echoPolicies = (): readonly string[] =>
    mesh.zt2.store.workloadByAddress('', pod(N, 2, 5))?.authorizationPolicies ?? [];
  await mesh.writeConfig(
    'strict.yaml',
    `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: STRICT}}
`,
  );
  await until(
    () => echoPolicies().includes('istio-system/istio_converted_static_strict'),
    3000,
    'the STRICT policy',
  );
  await assert.rejects(plain());
  // mTLS traffic still flows under STRICT.
  const c = await mesh.connectFrom(mesh.zt1, CURL, { ip: pod(N, 2, 5), port: 8080 });
  assert.equal(await roundTrip(c, 'mtls'), 'echo-1:mtls');
  c.destroy();
  await mesh.writeConfig(
    'strict.yaml',
    `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: PERMISSIVE}}
`,
  );
  await until(() => echoPolicies().length === 0, 3000, 'PERMISSIVE');
  assert.equal(await plain(), 'echo-1:plain');
  await mesh.removeConfig('strict.yaml');
});

test('ztunnel refuses calls to its own ports', async () => {
  const c = await mesh.connectFrom(mesh.zt1, CURL, { ip: CURL, port: 15008 });
  await assert.rejects(roundTrip(c, 'self'));
  const out = accessLines(mesh.logs1.lines, 'outbound').at(-1)!;
  assert.match(String(out.reason), /self-call/);
});

test('SOCKS5 on the node: curl from a pod IP reaches the echo service by name; DNS answers the VIP', async (t) => {
  const { execFile } = await import('node:child_process');
  const run = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) =>
      execFile('curl', args, { timeout: 10_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
      ),
    );
  const probe = await run(['--version']);
  if (probe.code !== 0) return t.skip('curl is not installed');
  const r = await run([
    '-sS',
    '--http0.9',
    '--max-time',
    '2',
    '--interface',
    CURL,
    '--socks5-hostname',
    `${mesh.zt1.cfg.nodeIp}:15080`,
    'http://echo:80/',
  ]);
  // The echo app is not HTTP: it prefixes what it got with its pod name, which curl prints as the body.
  assert.match(r.out, /echo-[12]:GET \/ HTTP\/1\.1/);
  const dgram = await import('node:dgram');
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, CURL, () => resolve()));
  const query = Buffer.from([
    0x12,
    0x34,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    4,
    ...Buffer.from('echo'),
    0,
    0,
    1,
    0,
    1,
  ]);
  const answer = await new Promise<Buffer>((resolve) => {
    sock.once('message', (m) => resolve(m));
    sock.send(query, 15053, mesh.zt1.cfg.nodeIp);
  });
  sock.close();
  assert.deepEqual([...answer.subarray(answer.length - 4)], [10, 96, N, 10]);
});
