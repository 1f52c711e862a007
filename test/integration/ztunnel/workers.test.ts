import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { meshAddresses, writeCaDir, writeStateFile } from '../../../bench/ztunnel/mesh-files.js';
import { socks5Connect } from '../../../bench/ztunnel/socks5-client.js';
import { ZtunnelProcess } from '../../../bench/ztunnel/ztunnel-process.js';
import { roundTrip } from './mesh-fixture.js';

const A = meshAddresses(84);

function get(host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Sum of a metric's samples whose label text contains `having`, from Prometheus text. */
function sum(text: string, name: string, having = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!line.includes(having)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** A DNS A query for `name` (id 0x1234, recursion desired). */
function aQuery(name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.of(l.length), Buffer.from(l)]));
  return Buffer.concat([
    Buffer.of(0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0),
    ...labels,
    Buffer.of(0, 0, 1, 0, 1),
  ]);
}

async function dnsAsk(server: string, from: string, name: string): Promise<Buffer> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => s.bind(0, from, r));
    s.send(aQuery(name), 15053, server);
    const [msg] = (await Promise.race([
      once(s, 'message'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no DNS answer within 2 s')), 2000)),
    ])) as [Buffer];
    return msg;
  } finally {
    s.close();
  }
}

test('--workers 2: SOCKS5, HBONE and DNS work across workers, /metrics sums them, SIGTERM drains and exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-workers-'));
  writeCaDir(dir);
  const stateFile = writeStateFile(dir, A, 'state.yaml');
  const app = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', (d) => s.write(`server:${d.toString()}`));
  });
  app.listen(A.serverPort, A.server);
  await once(app, 'listening');
  const common = { stateFile, caDir: dir, workers: 2, drainDeadlineMs: 1000 };
  const zts: ZtunnelProcess[] = [];
  t.after(async () => {
    for (const z of zts) await z.stop();
    app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  zts.push(await ZtunnelProcess.start({ ...common, node: 'node-1', nodeIp: A.node1 }));
  zts.push(await ZtunnelProcess.start({ ...common, node: 'node-2', nodeIp: A.node2 }));
  const [zt1, zt2] = zts as [ZtunnelProcess, ZtunnelProcess];
  assert.equal(zt1.pids.length, 3, 'a primary and two workers');

  // Eight connections through SOCKS5 from the client pod: the primary deals them out to both workers.
  const N = 8;
  for (let i = 0; i < N; i++) {
    const c = await socks5Connect({
      proxy: { host: A.node1, port: 15080 },
      localAddress: A.client,
      dst: { ip: A.server, port: A.serverPort },
    });
    c.on('error', () => {});
    assert.equal(await roundTrip(c, `hello ${i}`), `server:hello ${i}`);
    c.destroy();
  }

  const m1 = (await get(A.node1, 15020, '/metrics')).body;
  assert.equal(sum(m1, 'istio_tcp_connections_opened_total', 'reporter="source"'), N);
  // Each worker has its own HBONE pool: two workers that both carried traffic opened one connection each.
  assert.equal(sum(m1, 'hbone_pool_connections_opened_total'), 2);
  assert.equal(sum(m1, 'istio_build'), 1, 'build info is not added up across workers');
  const m2 = (await get(A.node2, 15020, '/metrics')).body;
  assert.equal(sum(m2, 'istio_tcp_connections_opened_total', 'reporter="destination"'), N);

  // DNS over UDP: one socket shared by the workers; every query is answered with the service VIP.
  for (let i = 0; i < 6; i++) {
    const answer = await dnsAsk(A.node1, A.client, A.serviceHost);
    assert.equal(answer.readUInt16BE(6), 1, 'one answer record');
    assert.deepEqual([...answer.subarray(-4)], A.vip.split('.').map(Number));
  }

  const dump = JSON.parse((await get(A.node1, 15000, '/config_dump')).body) as {
    workers: number;
    node: string;
  };
  assert.equal(dump.workers, 2);
  assert.equal(dump.node, 'node-1');

  const live = await socks5Connect({
    proxy: { host: A.node1, port: 15080 },
    localAddress: A.client,
    dst: { ip: A.server, port: A.serverPort },
  });
  live.on('error', () => {});
  assert.equal(await roundTrip(live, 'still here'), 'server:still here');
  const [s1, s2] = await Promise.all([zt1.stop(), zt2.stop()]);
  assert.deepEqual(s1, { code: 0, signal: null });
  assert.deepEqual(s2, { code: 0, signal: null });
  for (const pid of [...zt1.pids, ...zt2.pids])
    assert.throws(() => process.kill(pid, 0), 'every worker has exited with its primary');
  live.destroy();
});
