/**
 * The reference for `meshctl bench`: a pair of haproxy processes (one thread each, mutual TLS 1.3,
 * the same certificate shape as the mesh's) placed in the same two pods as the ztunnels' traffic:
 * A in the client pod (plain in on 127.0.0.1, TLS out to B), B in the server pod (TLS in on the pod
 * IP, plain out to the app on 127.0.0.1). The namespace is out of the mesh while it runs.
 *
 * The reference for the waypoint (`haproxy-http`): a third haproxy H, `mode http`, in the waypoint's
 * pod, in the waypoint's place: A2 in the client pod (plain in, TLS out to H), H (TLS in, HTTP parsed
 * and routed, TLS out to B), then the same B. Each hop one thread, like one Node event loop.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAPROXY_BIN, configA, configB } from '../hbone/haproxy.js';
import { writeMaterials } from '../hbone/materials.js';

/** A's port in the client pod (loopback), B's on the server pod's IP. */
export const HAPROXY_A_PORT = 15900;
export const HAPROXY_B_PORT = 15901;
/** A2's port in the client pod (loopback, to H) and H's on the waypoint pod's IP. */
export const HAPROXY_A2_PORT = 15902;
export const HAPROXY_H_PORT = 15903;

export interface PodRef {
  netns: string;
  ip: string;
}

export interface HaproxyPair {
  pids: Map<string, number>;
  stop(): void;
}

function startIn(netns: string, file: string, config: string): ChildProcess {
  writeFileSync(file, config);
  const check = spawnSync(HAPROXY_BIN, ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`bench: haproxy rejected ${file}: ${check.stderr || check.stdout}`);
  return spawn('ip', ['netns', 'exec', netns, HAPROXY_BIN, '-db', '-f', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** haproxy H: mutual TLS in, `mode http` (keep-alive both sides), mutual TLS out to B. */
function configH(dir: string, bind: string, port: number, peer: string, peerPort: number): string {
  const tls = `ca-file ${join(dir, 'root.pem')}`;
  return `global
  nbthread 1
  maxconn 4000
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
frontend http_in
  bind ${bind}:${port} ssl crt ${join(dir, 'b.pem')} ${tls} verify required
  default_backend http_out
backend http_out
  server b ${peer}:${peerPort} ssl verify required ${tls} crt ${join(dir, 'a.pem')}
`;
}

/** A2 → H (in `hop`, the waypoint's pod) → B (in `server`): the HTTP hop where the waypoint would be. */
export function startHaproxyHttpHop(
  client: PodRef,
  hop: PodRef,
  server: PodRef,
  appPort: number,
): HaproxyPair {
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-haproxy-http-'));
  writeMaterials(dir);
  const b = startIn(
    server.netns,
    join(dir, 'b.cfg'),
    configB(dir, HAPROXY_B_PORT + 10, appPort, 1, { bind: server.ip, peer: '127.0.0.1' }),
  );
  const h = startIn(
    hop.netns,
    join(dir, 'h.cfg'),
    configH(dir, hop.ip, HAPROXY_H_PORT, server.ip, HAPROXY_B_PORT + 10),
  );
  const a = startIn(
    client.netns,
    join(dir, 'a.cfg'),
    configA(dir, HAPROXY_A2_PORT, HAPROXY_H_PORT, 1, { bind: '127.0.0.1', peer: hop.ip }),
  );
  return {
    pids: new Map([
      ['haproxy-a', a.pid ?? 0],
      ['haproxy-h', h.pid ?? 0],
      ['haproxy-b', b.pid ?? 0],
    ]),
    stop: () => {
      for (const p of [a, h, b]) p.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function startHaproxyPair(client: PodRef, server: PodRef, appPort: number): HaproxyPair {
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-haproxy-'));
  writeMaterials(dir);
  const b = startIn(
    server.netns,
    join(dir, 'b.cfg'),
    configB(dir, HAPROXY_B_PORT, appPort, 1, { bind: server.ip, peer: '127.0.0.1' }),
  );
  const a = startIn(
    client.netns,
    join(dir, 'a.cfg'),
    configA(dir, HAPROXY_A_PORT, HAPROXY_B_PORT, 1, { bind: '127.0.0.1', peer: server.ip }),
  );
  return {
    pids: new Map([
      ['haproxy-a', a.pid ?? 0],
      ['haproxy-b', b.pid ?? 0],
    ]),
    stop: () => {
      a.kill('SIGTERM');
      b.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
